import { ApiError } from './errors.ts';
import type { KubeObject, RestClient } from './rest-client.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

export interface WatchOptions {
  /** Start after this version; opaque, never parsed. Omitted: the server picks "now". */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  /** The server ends the watch after this long (a clean end, not an error). */
  timeoutSeconds?: number;
  /** End the watch with a WatchInactivityError when no bytes arrive for this long. */
  inactivityMs?: number;
  signal?: AbortSignal;
}

/** A watch that went silent: the connection may be half-open, so it is dropped and reopened. */
export class WatchInactivityError extends Error {
  constructor(ms: number) {
    super(`no data on the watch for ${ms} ms`);
    this.name = 'WatchInactivityError';
  }
}

/**
 * Streams the events of one watch request. Ends when the server ends the watch; throws on a
 * transport error, an HTTP error (ApiError) or inactivity. ERROR events are yielded, not thrown,
 * so the caller can tell a 410 Gone from other failures.
 */
export async function* watchEvents<T extends KubeObject = KubeObject>(
  rest: RestClient,
  path: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let inactive = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (!options.inactivityMs) return;
    clearTimeout(timer);
    timer = setTimeout(() => { inactive = true; controller.abort(); }, options.inactivityMs);
  };
  arm();
  try {
    const body = await rest.stream(path, {
      signal,
      query: {
        watch: true,
        resourceVersion: options.resourceVersion,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        allowWatchBookmarks: options.allowWatchBookmarks ?? true,
        timeoutSeconds: options.timeoutSeconds,
      },
    });
    let buffered = '';
    for await (const chunk of body as AsyncIterable<Buffer>) {
      arm();
      buffered += chunk.toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) yield JSON.parse(line) as WatchEvent<T>;
        newline = buffered.indexOf('\n');
      }
    }
    if (buffered.trim()) yield JSON.parse(buffered) as WatchEvent<T>;
  } catch (error) {
    if (inactive) throw new WatchInactivityError(options.inactivityMs ?? 0);
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** The Status carried by an ERROR event, as an ApiError (410 Gone when the version is too old). */
export function watchErrorToApiError(event: WatchEvent, path: string): ApiError {
  const status = event.object as { code?: number; reason?: string; message?: string };
  return new ApiError(status.code ?? 500, status.reason ?? 'Unknown', `watch ${path}: ${status.code ?? '?'} ${status.reason ?? ''}: ${status.message ?? ''}`, event.object);
}
