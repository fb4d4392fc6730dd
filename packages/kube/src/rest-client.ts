import { Agent, request } from 'undici';
import { ApiError } from './errors.ts';
import type { RestConfig } from './kubeconfig.ts';

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown> & { name?: string; namespace?: string; resourceVersion?: string };
};

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** Milliseconds before the whole request is abandoned; default 30 s. */
  timeoutMs?: number;
}

/**
 * A client for one cluster. One keep-alive agent per client: every request to this cluster
 * reuses its connections. Objects travel as raw JSON, so fields this code does not know survive.
 */
export class RestClient {
  readonly config: RestConfig;
  private readonly agent: Agent;

  constructor(config: RestConfig) {
    this.config = config;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: {
        ca: config.caData,
        cert: config.clientCertData,
        key: config.clientKeyData,
        rejectUnauthorized: !config.insecureSkipTlsVerify,
        servername: config.tlsServerName,
      },
    });
  }

  /** Sends a request and returns the raw status and body text, without interpreting errors. */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.config.server);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.config.token) headers['authorization'] = `Bearer ${this.config.token}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    const response = await request(url, {
      method: method as 'GET',
      headers,
      body: payload,
      dispatcher: this.agent,
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
    return { status: response.statusCode, body: await response.body.text() };
  }

  /** Sends a request and parses the JSON answer; a non-2xx answer becomes an ApiError. */
  async request<T = KubeObject>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { status, body } = await this.raw(method, path, options);
    if (status < 200 || status >= 300) throw ApiError.fromResponse(status, method, path, body);
    return (body ? JSON.parse(body) : undefined) as T;
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
    await this.agent.close();
  }
}
