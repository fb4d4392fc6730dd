import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from './errors.ts';
import type { ResourceClient } from './resource-client.ts';
import type { KubeObject } from './rest-client.ts';
import { Store, type IndexFunction, type StoreDiff } from './store.ts';
import { watchErrorToApiError, watchEvents, type WatchEvent } from './watch.ts';

export interface EventHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(old: T, current: T): void;
  /** Receives the object's final state. */
  onDelete?(object: T): void;
}

export interface InformerOptions<T> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  indexers?: Record<string, IndexFunction<T>>;
  /** Re-deliver every cached object as an update this often (0: never). Not a relist. */
  resyncMs?: number;
  /** Reconnect a watch that delivered nothing, not even a bookmark, for this long. Default 90 s. */
  inactivityMs?: number;
  /** Page size of the initial list and relists. Default 500. */
  pageSize?: number;
  /** Reconnect backoff: capped exponential with full jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** Called for every failed list or watch (they are retried); default: ignored. */
  onError?: (error: unknown) => void;
}

export interface InformerStats {
  lists: number;
  watches: number;
  /** Relists caused by 410 Gone (compaction or a too-old resourceVersion). */
  relistsAfterGone: number;
  reconnects: number;
  inactivityTimeouts: number;
}

/**
 * List-then-watch cache of one resource with event handlers, like client-go's shared informer.
 * Bookmarks on, resourceVersion opaque, a randomized server-side timeout, an inactivity timeout,
 * reconnects with capped exponential backoff and jitter, and a full relist on 410 Gone whose
 * differences are delivered as events, so no change is lost.
 */
export class Informer<T extends KubeObject = KubeObject> {
  readonly store: Store<T>;
  readonly stats: InformerStats = { lists: 0, watches: 0, relistsAfterGone: 0, reconnects: 0, inactivityTimeouts: 0 };
  private readonly client: ResourceClient<T>;
  private readonly options: InformerOptions<T>;
  private readonly handlers = new Set<EventHandlers<T>>();
  private resourceVersion: string | undefined;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  private running: Promise<void> | undefined;
  private controller: AbortController | undefined;

  constructor(client: ResourceClient<T>, options: InformerOptions<T> = {}) {
    this.client = client;
    this.options = options;
    this.store = new Store<T>(options.indexers);
  }

  /** Adds handlers; objects already cached are delivered to it as adds. Returns a remover. */
  addHandlers(handlers: EventHandlers<T>): () => void {
    this.handlers.add(handlers);
    if (this.synced) for (const object of this.store.list()) safely(() => handlers.onAdd?.(object), this.options.onError);
    return () => this.handlers.delete(handlers);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the cache reflects (opaque). */
  lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return;
    await new Promise<void>((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
  }

  /** Starts listing and watching in the background; idempotent. */
  start(signal?: AbortSignal): void {
    if (this.running) return;
    this.controller = new AbortController();
    const stop = signal ? AbortSignal.any([signal, this.controller.signal]) : this.controller.signal;
    this.running = this.run(stop);
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.running;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 200, maxMs: 30_000 };
    let failures = 0;
    let needList = true;
    const resync = this.options.resyncMs ? setInterval(() => this.resync(), this.options.resyncMs) : undefined;
    try {
      while (!signal.aborted) {
        try {
          if (needList) {
            await this.relist(signal);
            needList = false;
          }
          needList = await this.watchOnce(signal);
          failures = 0;
        } catch (error) {
          if (signal.aborted) break;
          this.options.onError?.(error);
          if (error instanceof ApiError && error.code === 410) {
            this.stats.relistsAfterGone += 1;
            needList = true;
            continue;
          }
          if (error instanceof Error && error.name === 'WatchInactivityError') this.stats.inactivityTimeouts += 1;
          this.stats.reconnects += 1;
          const cap = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 20));
          failures += 1;
          await sleep(cap / 2 + Math.random() * (cap / 2), undefined, { signal }).catch(() => {});
        }
      }
    } finally {
      clearInterval(resync);
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    this.stats.lists += 1;
    const list = await this.client.list({
      namespace: this.options.namespace, labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector, limit: this.options.pageSize ?? 500, signal,
    });
    if (signal.aborted) return;
    const diff = this.store.replace(list.items);
    this.resourceVersion = list.metadata.resourceVersion;
    this.deliver(diff);
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  /** One watch request, until the server ends it. Returns true when a relist is needed (410). */
  private async watchOnce(signal: AbortSignal): Promise<boolean> {
    this.stats.watches += 1;
    const path = this.client.path(this.options.namespace);
    // Spread the reconnects of many informers, as client-go does (5 to 10 minutes).
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    for await (const event of watchEvents<T>(this.client.rest, path, {
      resourceVersion: this.resourceVersion, labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector,
      allowWatchBookmarks: true, timeoutSeconds, inactivityMs: this.options.inactivityMs ?? 90_000, signal,
    })) {
      if (event.type === 'ERROR') {
        const error = watchErrorToApiError(event, path);
        if (error.code === 410) {
          this.options.onError?.(error);
          this.stats.relistsAfterGone += 1;
          return true;
        }
        throw error;
      }
      this.apply(event);
    }
    return false;
  }

  private apply(event: WatchEvent<T>): void {
    const version = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (version) this.resourceVersion = version;
      return;
    }
    if (event.type === 'DELETED') {
      const old = this.store.remove(event.object);
      // The event carries the final state; prefer it over the cached one.
      if (old) this.each((h) => h.onDelete?.(event.object));
    } else {
      const old = this.store.upsert(event.object);
      if (old) this.each((h) => h.onUpdate?.(old, event.object));
      else this.each((h) => h.onAdd?.(event.object));
    }
    if (version) this.resourceVersion = version;
  }

  private deliver(diff: StoreDiff<T>): void {
    for (const object of diff.added) this.each((h) => h.onAdd?.(object));
    for (const { old, current } of diff.updated) this.each((h) => h.onUpdate?.(old, current));
    for (const object of diff.deleted) this.each((h) => h.onDelete?.(object));
  }

  private resync(): void {
    if (!this.synced) return;
    for (const object of this.store.list()) this.each((h) => h.onUpdate?.(object, object));
  }

  private each(call: (handlers: EventHandlers<T>) => void): void {
    for (const handlers of this.handlers) safely(() => call(handlers), this.options.onError);
  }
}

/** A handler that throws must not stop the informer or the other handlers. */
function safely(call: () => void, onError: ((error: unknown) => void) | undefined): void {
  try {
    call();
  } catch (error) {
    onError?.(error);
  }
}
