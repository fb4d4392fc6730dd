import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { ApiError } from './errors.ts';
import type { RestConfig } from './kubeconfig.ts';
import { TokenBucket } from './rate-limit.ts';

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
};

export type ObjectMeta = Record<string, unknown> & {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
};

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Milliseconds before the whole request is abandoned; default 30 s. */
  timeoutMs?: number;
}

export interface RestClientOptions {
  /** Client-side rate limit, like client-go's QPS and Burst. Infinity turns it off. */
  qps?: number;
  burst?: number;
  userAgent?: string;
}

/** 429 and 503-with-Retry-After answers are retried this many times, honouring Retry-After. */
const MAX_RETRIES = 3;
const MAX_RETRY_AFTER_MS = 10_000;

/**
 * A client for one cluster. One keep-alive agent per client: every request to this cluster
 * reuses its connections. Objects travel as raw JSON, so fields this code does not know survive.
 */
export class RestClient {
  readonly config: RestConfig;
  private agent: Promise<Agent> | undefined;
  private readonly limiter: TokenBucket;
  private readonly userAgent: string;

  constructor(config: RestConfig, options: RestClientOptions = {}) {
    this.config = config;
    this.limiter = new TokenBucket({ qps: options.qps ?? 100, burst: options.burst ?? 200 });
    this.userAgent = options.userAgent ?? 'kubenest';
  }

  /**
   * The connection pool, made on first use: an exec credential plugin may supply the client
   * certificate, and only running it tells which.
   */
  private dispatcher(): Promise<Agent> {
    this.agent ??= (async () => {
      const fromPlugin = await this.config.tokenProvider?.certificate?.();
      return new Agent({
        keepAliveTimeout: 30_000,
        connections: 64,
        connect: {
          ca: this.config.caData,
          cert: fromPlugin?.cert ?? this.config.clientCertData,
          key: fromPlugin?.key ?? this.config.clientKeyData,
          rejectUnauthorized: !this.config.insecureSkipTlsVerify,
          servername: this.config.tlsServerName,
        },
      });
    })();
    return this.agent;
  }

  private async headers(options: RequestOptions, hasBody: boolean): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent, ...options.headers };
    const token = this.config.tokenProvider ? await this.config.tokenProvider.token() : this.config.token;
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (hasBody) headers['content-type'] = options.contentType ?? 'application/json';
    return headers;
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path, this.config.server);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /** Sends a request and returns the raw status and body text, without interpreting errors. */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
    const payload = options.body === undefined ? undefined
      : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    let refreshedToken = false;
    for (let attempt = 0; ; attempt++) {
      await this.limiter.wait(options.signal);
      const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
      const response = await request(this.url(path, options.query), {
        method: method as 'GET',
        headers: await this.headers(options, payload !== undefined),
        body: payload,
        dispatcher: await this.dispatcher(),
        signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      });
      const body = await response.body.text();
      if (response.statusCode === 401 && this.config.tokenProvider && !refreshedToken) {
        // An expired or rotated token: fetch a new one once, then report what the server says.
        this.config.tokenProvider.invalidate();
        refreshedToken = true;
        continue;
      }
      const retryAfter = retryDelay(response.statusCode, response.headers['retry-after']);
      if (retryAfter !== undefined && attempt < MAX_RETRIES) {
        await sleep(retryAfter, undefined, { signal: options.signal });
        continue;
      }
      return { status: response.statusCode, body, headers: response.headers };
    }
  }

  /** Sends a request and parses the JSON answer; a non-2xx answer becomes an ApiError. */
  async request<T = KubeObject>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { status, body } = await this.raw(method, path, options);
    if (status < 200 || status >= 300) throw ApiError.fromResponse(status, method, path, body);
    return (body ? JSON.parse(body) : undefined) as T;
  }

  /**
   * Opens a long-running GET (a watch) and returns its body as a stream. No overall timeout: the
   * caller ends it with `signal`. A non-2xx answer becomes an ApiError.
   */
  async stream(path: string, options: Pick<RequestOptions, 'query' | 'signal'> = {}): Promise<Readable> {
    await this.limiter.wait(options.signal);
    const response = await request(this.url(path, options.query), {
      method: 'GET',
      headers: await this.headers({}, false),
      dispatcher: await this.dispatcher(),
      signal: options.signal,
      bodyTimeout: 0,
      headersTimeout: 30_000,
    });
    if (response.statusCode === 401 && this.config.tokenProvider) this.config.tokenProvider.invalidate();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw ApiError.fromResponse(response.statusCode, 'GET', path, await response.body.text());
    }
    return response.body;
  }

  get<T = KubeObject>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  create<T = KubeObject>(path: string, object: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...options, body: object });
  }

  delete<T = KubeObject>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (agent) await (await agent).close();
  }
}

function retryDelay(status: number, header: string | string[] | undefined): number | undefined {
  if (status !== 429 && !(status >= 500 && header !== undefined)) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  const seconds = Number(value);
  // Retry-After may also be an HTTP date; servers we talk to send seconds. Default 1 s.
  return Math.min(Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000, MAX_RETRY_AFTER_MS);
}
