import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { InterceptorRule } from '../plugins/plugin-config.ts';
import { actingUser, attributesOf, forbidden, Refusal, type Authorizer } from './authorize.ts';
import { failure, writeStatus, type StatusObject } from './status.ts';
import type { FrontDoorHandler, FrontDoorRequest, RequestInfo } from './types.ts';

/** The header naming the interceptor that matched; the plugin dispatches on it (the Go SDK reads it case-insensitively). */
export const HANDLER_NAME_HEADER = 'Vcluster-Plugin-Handler-Name';

/** One plugin's interceptors as the plugin host knows them. */
export interface PluginInterceptors {
  plugin: string;
  /** The interceptor port its InitConfig carried; it serves plain HTTP on 127.0.0.1 there. */
  port: number;
  interceptors: Record<string, InterceptorRule[]>;
  /** Whether its process runs now (a plugin being restarted cannot answer). */
  running: () => boolean;
  /** Why it does not run, for the 503. */
  state: () => string;
}

export interface InterceptorTarget {
  plugin: string;
  handler: string;
  port: number;
}

const ANY = '*';

/**
 * The plugins' interceptor rules, looked up exactly as vCluster's plugin manager does:
 *
 * - resource requests by group, then resource, then verb, then name, each level trying the exact
 *   key before `*`; `""` is the core group; the subresource is not looked at, so a `pods` rule
 *   also takes `pods/log` and `pods/exec`;
 * - vCluster's quirk kept: when the exact verb finds nothing, the `*` verb is searched for the
 *   name `*` only, so `verbs: ["*"]` with `resourceNames` never matches;
 * - a rule without resourceNames stands for every name;
 * - non-resource requests by path: a key ending in `*` matches by prefix, any other key exactly,
 *   a path of just `*` never; the first key that matches decides (vCluster takes them in Go's
 *   random map order; here in load order), then its `*` verb or the exact verb.
 *
 * Conflicting rules never get here: the plugin host refuses them at start (`interceptorConflicts`).
 */
export class InterceptorTable {
  private readonly resources = new Map<string, Map<string, Map<string, Map<string, InterceptorTarget>>>>();
  private readonly urls = new Map<string, Map<string, InterceptorTarget>>();

  constructor(plugins: Pick<PluginInterceptors, 'plugin' | 'port' | 'interceptors'>[]) {
    for (const { plugin, port, interceptors } of plugins) {
      for (const [handler, rules] of Object.entries(interceptors)) {
        const target = { plugin, handler, port };
        for (const rule of rules) this.add(rule, target);
      }
    }
  }

  get empty(): boolean {
    return this.resources.size === 0 && this.urls.size === 0;
  }

  private add(rule: InterceptorRule, target: InterceptorTarget): void {
    const names = rule.resourceNames?.length ? rule.resourceNames : [ANY];
    for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs ?? []) {
      const byName = child(child(child(this.resources, group), resource), verb);
      for (const name of names) if (!byName.has(name)) byName.set(name, target);
    }
    for (const url of rule.nonResourceURLs ?? []) {
      if (url === '') continue;
      const byVerb = child(this.urls, url);
      for (const verb of rule.verbs ?? []) if (!byVerb.has(verb)) byVerb.set(verb, target);
    }
  }

  match(info: RequestInfo): InterceptorTarget | undefined {
    return info.isResourceRequest ? this.matchResource(info) : this.matchUrl(info.path, info.verb);
  }

  private matchResource(info: RequestInfo): InterceptorTarget | undefined {
    for (const group of exactThenAny(info.apiGroup)) {
      const resources = this.resources.get(group);
      if (!resources) continue;
      for (const resource of exactThenAny(info.resource)) {
        const verbs = resources.get(resource);
        if (!verbs) continue;
        const exact = verbs.get(info.verb);
        const found = (exact && (exact.get(info.name) ?? exact.get(ANY))) ?? verbs.get(ANY)?.get(ANY);
        if (found) return found;
      }
    }
    return undefined;
  }

  private matchUrl(path: string, verb: string): InterceptorTarget | undefined {
    if (path === ANY) return undefined;
    for (const [key, verbs] of this.urls) {
      const matches = key.endsWith(ANY) ? path.startsWith(key.slice(0, -1)) : path === key;
      if (matches) return verbs.get(ANY) ?? verbs.get(verb);
    }
    return undefined;
  }
}

function exactThenAny(key: string): string[] {
  return key === ANY ? [ANY] : [key, ANY];
}

function child<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let found = map.get(key);
  if (!found) {
    found = new Map();
    map.set(key, found);
  }
  return found;
}

/** Request headers a plugin never gets: the caller's credentials, front-proxy identity, hop-by-hop ones. */
const NOT_FORWARDED = new Set([
  'authorization', 'proxy-authorization', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  HANDLER_NAME_HEADER.toLowerCase(),
]);
const NOT_FORWARDED_PREFIXES = ['impersonate-', 'x-remote-', 'x-forwarded-'];
const HOP_BY_HOP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The headers a plugin gets: the request's own, without what identifies or authenticates the
 * caller (`Authorization`, `Impersonate-*`, `X-Remote-*`: the apiserver's filters consume them
 * before vCluster's interceptors run), without hop-by-hop and `X-Forwarded-*` headers (Go's
 * ReverseProxy drops them), with the handler's name set by us alone.
 */
export function pluginRequestHeaders(headers: IncomingHttpHeaders, handler: string): OutgoingHttpHeaders {
  const listed = new Set(String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_FORWARDED.has(name) || listed.has(name) || NOT_FORWARDED_PREFIXES.some((p) => name.startsWith(p))) continue;
    out[name] = value;
  }
  out[HANDLER_NAME_HEADER] = handler;
  return out;
}

/**
 * Plugin interceptors in the front door: a request a plugin's rules claim is authorised as the
 * apiserver would (a SubjectAccessReview for the user it acts as; denied: 403, and the plugin
 * never sees it), then passed to the plugin's port on 127.0.0.1 with the handler's name and
 * without the caller's credentials; the plugin's answer is streamed back as it comes. A plugin
 * that is down gets the caller a 503 naming it.
 */
export class InterceptorHandler implements FrontDoorHandler {
  readonly name = 'plugin-interceptors';
  private readonly plugins: () => PluginInterceptors[];
  private readonly authorize: Authorizer;
  private readonly log: (line: string) => void;
  private table: InterceptorTable = new InterceptorTable([]);
  private tableOf: PluginInterceptors['interceptors'][] = [];

  constructor(o: { plugins: () => PluginInterceptors[]; authorize: Authorizer; log?: ((line: string) => void) | undefined }) {
    this.plugins = o.plugins;
    this.authorize = o.authorize;
    this.log = o.log ?? (() => {});
  }

  /** The table for the plugins' current rules (a restarted plugin may declare others). */
  private current(): { table: InterceptorTable; plugins: PluginInterceptors[] } {
    const plugins = this.plugins();
    const rules = plugins.map((p) => p.interceptors);
    if (rules.length !== this.tableOf.length || rules.some((r, i) => r !== this.tableOf[i])) {
      this.table = new InterceptorTable(plugins);
      this.tableOf = rules;
    }
    return { table: this.table, plugins };
  }

  async handle(request: FrontDoorRequest): Promise<boolean> {
    const { table, plugins } = this.current();
    if (table.empty) return false;
    const target = table.match(request.info);
    if (!target) return false;
    const { req, res, info } = request;
    try {
      const user = await actingUser(request.caller, req.headers, this.authorize);
      const decision = await this.authorize(user, attributesOf(info));
      if (!decision.allowed) throw forbidden(user, info, decision.reason);
    } catch (error) {
      if (error instanceof Refusal) {
        this.log(`front door: plugin ${target.plugin} (interceptor ${target.handler}): ${req.method} ${info.path} refused: ${error.message}`);
        writeStatus(res, error.status());
        req.resume();
        return true;
      }
      writeStatus(res, failure(500, 'InternalError', `authorising the request for plugin "${target.plugin}" (interceptor ${target.handler}) failed: ${(error as Error).message}`));
      req.resume();
      return true;
    }
    const plugin = plugins.find((p) => p.plugin === target.plugin);
    if (!plugin?.running()) {
      writeStatus(res, unavailable(target, `it is not running (${plugin?.state() ?? 'gone'})`));
      req.resume();
      return true;
    }
    await proxyTo(target, request, this.log);
    return true;
  }
}

function proxyTo(target: InterceptorTarget, { req, res }: FrontDoorRequest, log: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const upstream = httpRequest({
      host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: pluginRequestHeaders(req.headers, target.handler),
    });
    let answered = false;
    upstream.on('response', (answer) => {
      answered = true;
      const headers: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP_RESPONSE.has(name)) headers[name] = value;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      res.on('close', () => { answer.destroy(); resolve(); });
    });
    upstream.on('error', (error) => {
      if (answered) {
        res.destroy();
      } else if (!res.headersSent) {
        log(`front door: plugin ${target.plugin} (interceptor ${target.handler}) did not answer on 127.0.0.1:${target.port}: ${error.message}`);
        writeStatus(res, unavailable(target, `its interceptor port 127.0.0.1:${target.port} did not answer (${error.message})`));
      }
      resolve();
    });
    // The caller went away: so does the request to the plugin (a watch, say).
    res.on('close', () => { if (!answered) upstream.destroy(); resolve(); });
    req.pipe(upstream);
  });
}

function unavailable(target: InterceptorTarget, why: string): StatusObject {
  return failure(503, 'ServiceUnavailable', `plugin "${target.plugin}" cannot answer this request (interceptor ${target.handler}): ${why}`);
}

