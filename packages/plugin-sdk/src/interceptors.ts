import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseRequestInfo, RequestInfoError, type RequestInfo } from '@kubenest/kube';

export type { RequestInfo };
import type { KubeObject } from './hooks.ts';
import type { Log } from './log.ts';

/** The header vCluster's proxy names the interceptor with (plugin-protocol.md §4). */
export const HANDLER_HEADER = 'vcluster-plugin-handler-name';

/** vCluster's `InterceptorRule`: which requests the proxy hands to the interceptor. */
export interface InterceptorRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

/**
 * What a request is about, as the kube-apiserver's RequestInfo reads it (the front door matched
 * the interceptor's rules on the same reading).
 */
export function requestInfo(method: string, url: string): RequestInfo {
  try {
    return parseRequestInfo(method, url);
  } catch (error) {
    if (!(error instanceof RequestInfoError)) throw error;
    // A path the apiserver cannot read (the front door answers those itself, never forwards them).
    return {
      isResourceRequest: false, path: new URL(url, 'http://plugin').pathname, verb: method.toLowerCase(),
      apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '',
    };
  }
}

/** The `reason`s of metav1.Status the kube-apiserver uses, with their HTTP codes. */
export const STATUS_CODES = {
  BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405, NotAcceptable: 406,
  AlreadyExists: 409, Conflict: 409, Gone: 410, Invalid: 422, TooManyRequests: 429, InternalError: 500,
  ServiceUnavailable: 503, Timeout: 504,
} as const;
export type StatusReason = keyof typeof STATUS_CODES;

/** A `metav1.Status` failure as the kube-apiserver writes it. */
export function statusFailure(reason: StatusReason, message: string, details?: { name?: string; group?: string; kind?: string }): KubeObject {
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason,
    ...(details ? { details } : {}), code: STATUS_CODES[reason],
  };
}

/** The request an interceptor gets: already authenticated and authorized by the host's proxy. */
export interface InterceptedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  info: RequestInfo;
  /** The body, read once. */
  body(): Promise<Buffer>;
  /** The body as JSON (a 400 BadRequest answer when it is not). */
  json<T = unknown>(): Promise<T>;
  readonly raw: IncomingMessage;
}

/** Answers as the kube-apiserver would: JSON objects and lists, `Status` for errors. */
export interface InterceptorResponse {
  /** An object (200, or `code`, say 201 for a create). */
  object(object: KubeObject, code?: number): void;
  /** A list of `kind`List (`PodList` for kind `Pod`), items with their apiVersion and kind removed, as the apiserver lists them. */
  list(items: KubeObject[], options: { apiVersion: string; kind: string; resourceVersion?: string }): void;
  /** A `Status` failure with the reason's HTTP code. */
  error(reason: StatusReason, message: string, details?: { name?: string; group?: string; kind?: string }): void;
  /** `<resource> "<name>" not found` (404), for the request's own object unless told otherwise. */
  notFound(name?: string): void;
  /** `<resource> "<name>" is forbidden: <message>` (403). */
  forbidden(message: string): void;
  /** `Status` success, as a delete answers. */
  success(details?: { name?: string; group?: string; kind?: string }): void;
  readonly raw: ServerResponse;
}

/** One interceptor: the rules vCluster's proxy matches, and the handler of what they match. */
export interface Interceptor {
  name: string;
  rules: InterceptorRule[];
  handle(req: InterceptedRequest, res: InterceptorResponse): void | Promise<void>;
}

export class InterceptorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterceptorError';
  }
}

/** vCluster's rule validation (§4.5), so a plugin learns of a bad rule from its own log, not from a host that refuses to start. */
export function ruleProblem(rule: InterceptorRule): string | undefined {
  const verbs = rule.verbs ?? [];
  if (!Array.isArray(verbs) || verbs.length === 0) return 'verbs must not be empty';
  for (const [field, list] of [['verbs', verbs], ['resources', rule.resources ?? []], ['apiGroups', rule.apiGroups ?? []]] as const) {
    if (list.includes('*') && list.length > 1) return `"*" must stand alone in ${field}`;
  }
  if ((rule.nonResourceURLs ?? []).length === 0 && ((rule.resources ?? []).length === 0 || (rule.apiGroups ?? []).length === 0)) {
    return 'without nonResourceURLs, both resources and apiGroups must be set (use ["*"] for all, [""] for the core group)';
  }
  for (const url of rule.nonResourceURLs ?? []) {
    if (url.includes('*') && url.indexOf('*') !== url.length - 1) return `nonResourceURL ${url}: "*" is allowed only as the last character`;
  }
  return undefined;
}

/** The interceptors a plugin registered, served on its InitConfig port. */
export class InterceptorRegistry {
  private readonly byName = new Map<string, Interceptor>();

  add(interceptor: Interceptor): void {
    const { name, rules } = interceptor ?? {} as Interceptor;
    const handle: unknown = (interceptor as { handle?: unknown } | undefined)?.handle;
    if (typeof name !== 'string' || name === '') throw new InterceptorError('p.intercept(): name must be a non-empty string (the proxy sends it in Vcluster-Plugin-Handler-Name)');
    if (this.byName.has(name)) throw new InterceptorError(`interceptor ${name} is registered twice; give each a name of its own`);
    if (typeof handle !== 'function') throw new InterceptorError(`interceptor ${name}: handle must be a function (req, res)`);
    if (!Array.isArray(rules) || rules.length === 0) throw new InterceptorError(`interceptor ${name}: rules must be a non-empty list`);
    rules.forEach((rule, index) => {
      const problem = ruleProblem(rule);
      if (problem) throw new InterceptorError(`interceptor ${name} rule ${index}: ${problem}`);
    });
    this.byName.set(name, interceptor);
  }

  get size(): number {
    return this.byName.size;
  }

  /** `GetPluginConfig`'s `interceptors`: name → rules. */
  config(): Record<string, InterceptorRule[]> {
    return Object.fromEntries([...this.byName].map(([name, i]) => [name, i.rules]));
  }

  /** Serves the interceptors over plain HTTP on 127.0.0.1:port, as the Go SDK does. */
  async listen(port: number, log: Log): Promise<Server> {
    const server = createServer((req, res) => { void this.serve(req, res, log); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    return server;
  }

  /** One request: dispatched on the handler-name header; a throw becomes a 500 `Status` and an error in the log. */
  async serve(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void> {
    const answer = response(req, res);
    const header = req.headers[HANDLER_HEADER];
    const name = Array.isArray(header) ? header[0] : header;
    const interceptor = name ? this.byName.get(name) : undefined;
    if (!interceptor) {
      const message = name ? `no interceptor named ${name} in this plugin (it has ${[...this.byName.keys()].join(', ') || 'none'})` : 'the request has no Vcluster-Plugin-Handler-Name header';
      log.error(`interceptor request ${req.method} ${req.url}: ${message}`);
      answer.error('InternalError', message);
      return;
    }
    if (!acceptsJson(req.headers['accept'])) {
      answer.error('NotAcceptable', `only application/json is supported by interceptor ${interceptor.name}, the client accepts ${req.headers['accept']}`);
      return;
    }
    try {
      await interceptor.handle(request(req, answer), answer);
      if (!res.headersSent && !res.writableEnded) {
        throw new Error('the handler returned without answering; call res.object(), res.list() or res.error()');
      }
    } catch (error) {
      const message = `interceptor ${interceptor.name} failed on ${req.method} ${req.url}: ${error instanceof Error ? error.message : String(error)}`;
      log.error(message, error instanceof Error && error.stack ? { stack: error.stack } : {});
      if (!res.headersSent) answer.error('InternalError', message);
      else res.destroy();
    }
  }
}

/** JSON is acceptable when the client lists it, `*\/*`, or nothing. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const type = part.split(';')[0]!.trim();
    return type === 'application/json' || type === '*/*' || type === 'application/*';
  });
}

function request(req: IncomingMessage, answer: InterceptorResponse): InterceptedRequest {
  let body: Promise<Buffer> | undefined;
  const read = (): Promise<Buffer> => body ??= new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
  const url = req.url ?? '/';
  return {
    method: req.method ?? 'GET', url, query: new URL(url, 'http://plugin').searchParams, headers: req.headers,
    info: requestInfo(req.method ?? 'GET', url), raw: req,
    body: read,
    async json<T>() {
      const text = (await read()).toString('utf8');
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        answer.error('BadRequest', `the request body is not JSON: ${(error as Error).message}`);
        throw new Error(`the request body is not JSON (answered 400): ${(error as Error).message}`, { cause: error });
      }
    },
  };
}

function response(req: IncomingMessage, res: ServerResponse): InterceptorResponse {
  const info = requestInfo(req.method ?? 'GET', req.url ?? '/');
  const write = (code: number, body: unknown): void => {
    if (res.headersSent) throw new Error('the interceptor answered twice');
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const details = (name = info.name) => ({ name, ...(info.apiGroup ? { group: info.apiGroup } : {}), kind: info.resource });
  const resourceName = info.apiGroup ? `${info.resource}.${info.apiGroup}` : info.resource;
  return {
    raw: res,
    object: (object, code = 200) => write(code, object),
    list(items, { apiVersion, kind, resourceVersion }) {
      write(200, {
        apiVersion, kind: `${kind}List`, metadata: { resourceVersion: resourceVersion ?? '' },
        items: items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
      });
    },
    error: (reason, message, d) => write(STATUS_CODES[reason], statusFailure(reason, message, d)),
    notFound: (name = info.name) => write(404, statusFailure('NotFound', `${resourceName} "${name}" not found`, details(name))),
    forbidden: (message) => write(403, statusFailure('Forbidden', `${resourceName}${info.name ? ` "${info.name}"` : ''} is forbidden: ${message}`, details())),
    success: (d) => write(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...(d ?? info.name ? { details: d ?? details() } : {}) }),
  };
}
