import type { OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CORE, isNotFound, type RestConfig } from '@kubenest/kube';
import type { SyncContext } from '@kubenest/sync';
import { BLOCK_DELETION_ANNOTATION, serviceSyncer, type Service } from '../syncers/services/syncer.ts';
import { escapeExtraKey } from './authn.ts';
import { failure, writeStatus } from './status.ts';
import type { Caller, FrontDoorHandler, FrontDoorRequest, ForwardToApiserver } from './types.ts';

/** The apiserver's own limit on a request body (3 MiB); a larger one is passed on for it to refuse. */
const MAX_BODY = 3 * 1024 * 1024;

/**
 * Why a Service create is passed on untouched rather than made on the host first, or undefined
 * when it can be. Passed on, the Service still reaches the host through the syncer and takes the
 * host's ClusterIP by the ExternalName passage (ADR 13). `requestRefusal` looks at the request
 * alone (before its body is read), `serviceRefusal` at the Service it carries.
 */
export function requestRefusal(o: { query: URLSearchParams; contentType: string | undefined; impersonating: boolean }): string | undefined {
  if (o.query.has('dryRun')) return 'a dry run';
  if (!/^application\/(json|vnd\.kubernetes\.protobuf)\s*(;|$)/i.test(o.contentType ?? '')) return `a body of type ${o.contentType ?? '(none)'}, neither JSON nor protobuf`;
  if (o.impersonating) return 'an impersonating request';
  return undefined;
}

export function serviceRefusal(namespace: string, body: unknown): string | undefined {
  const service = body as Service | null;
  if (service === null || typeof service !== 'object' || Array.isArray(service)) return 'a body that is not an object';
  if ((service.kind ?? 'Service') !== 'Service' || (service.apiVersion ?? 'v1') !== 'v1') return `a body of ${service.apiVersion}/${service.kind}`;
  const meta = service.metadata ?? {};
  // A dry run answers with a generated name that the real create would not get again.
  if (!meta.name || meta.generateName) return 'generateName (the name is left to the apiserver)';
  if (meta.namespace && meta.namespace !== namespace) return 'a namespace in the body that is not the one in the path';
  if (namespace === 'default' && meta.name === 'kubernetes') return 'default/kubernetes, the virtual cluster\'s own';
  const spec = service.spec ?? {};
  if (spec.type === 'ExternalName') return 'an ExternalName Service (no ClusterIP)';
  return undefined;
}

/** A request to the virtual apiserver made as the caller (admin credentials, impersonating it). */
export type AsCaller = (caller: Caller, o: { method: string; path: string; headers: OutgoingHttpHeaders; body: Buffer }) => Promise<{ status: number; body: Buffer }>;

/**
 * Requests as the caller: the admin's client certificate (`config`), and the caller as
 * `Impersonate-User`, `-Group`, `-Uid` and `-Extra-*`, so that the apiserver authorises and admits
 * them for the caller, as it would the caller's own request.
 */
export function apiserverAsCaller(config: RestConfig): { call: AsCaller; close: () => void } {
  const server = new URL(config.server);
  const agent = new HttpsAgent({ keepAlive: true, ca: config.caData, cert: config.clientCertData, key: config.clientKeyData });
  const call: AsCaller = (caller, o) => new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...o.headers, 'content-length': o.body.length, 'impersonate-user': caller.user };
    if (caller.groups.length > 0) headers['impersonate-group'] = caller.groups;
    if (caller.uid) headers['impersonate-uid'] = caller.uid;
    for (const [key, values] of Object.entries(caller.extra)) if (values.length > 0) headers[`impersonate-extra-${escapeExtraKey(key)}`] = values;
    const req = httpsRequest({ host: server.hostname, port: server.port, method: o.method, path: o.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
  return { call, close: () => agent.destroy() };
}

/**
 * Services in one request (vCluster's service create redirect): a Service created through the
 * front door is created on the host first, translated by the Service syncer and through the
 * hooked host client, marked `block-deletion` so the syncer waits for its virtual Service; then
 * the virtual Service is created as the caller with the host's ClusterIP. It is born with the
 * host's IP, so nothing (Endpoints applied with it) ever sees another. If the virtual create
 * fails, the host Service goes again.
 *
 * What the caller sent is first created as a dry run, as the caller: the apiserver decodes it
 * (JSON or protobuf), authorises, admits and validates it, so the host sees nothing the virtual
 * cluster would refuse. Requests this cannot take (`requestRefusal`, `serviceRefusal`, an IP the
 * caller asks for), a dry run the apiserver refuses, and any failure on the host are passed on
 * unchanged.
 */
export class ServiceCreateHandler implements FrontDoorHandler {
  readonly name = 'service-create';
  private readonly ctx: SyncContext;
  private readonly asCaller: AsCaller;
  private readonly log: (line: string) => void;
  private readonly syncer = serviceSyncer();

  constructor(o: { ctx: SyncContext; asCaller: AsCaller; log?: ((line: string) => void) | undefined }) {
    this.ctx = o.ctx;
    this.asCaller = o.asCaller;
    this.log = o.log ?? (() => {});
  }

  async handle(request: FrontDoorRequest, forward: ForwardToApiserver): Promise<boolean> {
    const { info, req, caller } = request;
    if (!info.isResourceRequest || info.verb !== 'create' || info.apiGroup !== '' || info.resource !== 'services' || info.subresource !== '' || !info.namespace) return false;
    const url = new URL(req.url ?? '/', 'http://front.invalid');
    const contentType = req.headers['content-type'];
    const impersonating = Object.keys(req.headers).some((h) => h.startsWith('impersonate-'));
    // Checked before the body is read: untouched, the request streams on as it came.
    if (requestRefusal({ query: url.searchParams, contentType, impersonating })) return false;
    const body = await readBody(req);
    if (body === undefined) {
      writeStatus(request.res, failure(413, 'RequestEntityTooLarge', `the request body is larger than the apiserver's limit of ${MAX_BODY} bytes`));
      return true;
    }
    const json = isJson(contentType);
    const requested = json ? requestedClusterIpInJson(body) : requestedClusterIpInProtobuf(body);
    if (requested === undefined || requested) {
      await forward(request, body); // not readable here (the apiserver's 400), or an IP of the caller's choosing
      return true;
    }
    // The apiserver's own reading of the request, as the caller, without storing anything.
    url.searchParams.set('dryRun', 'All');
    const dryRun = await this.asCaller(caller, { method: 'POST', path: url.pathname + url.search, headers: { 'content-type': contentType, accept: 'application/json' }, body });
    if (dryRun.status !== 201 && dryRun.status !== 200) {
      await forward(request, body); // refused: the caller gets the apiserver's answer to its own request
      return true;
    }
    const decoded = withoutServerFields(JSON.parse(dryRun.body.toString('utf8')) as Service);
    const key = `${info.namespace}/${decoded.metadata?.name ?? ''}`;
    if (serviceRefusal(info.namespace, decoded)) {
      await forward(request, body);
      return true;
    }
    const host = await this.createOnHost(key, decoded);
    if (!host) {
      await forward(request, body);
      return true;
    }
    const ips = { clusterIP: host.spec?.clusterIP, clusterIPs: host.spec?.clusterIPs ?? (host.spec?.clusterIP ? [host.spec.clusterIP] : undefined) };
    // JSON: the caller's own body with the IPs, so it owns just the fields it set; protobuf: the
    // apiserver's decoding of it, sent as JSON (the answer still comes as the caller accepts it).
    const sent = json ? JSON.parse(body.toString('utf8')) as Service : decoded;
    const virtual: Service = { ...sent, spec: { ...sent.spec, ...ips } };
    if (!json) req.headers['content-type'] = 'application/json';
    let created = false;
    try {
      await forward(request, Buffer.from(JSON.stringify(virtual)));
      created = request.res.statusCode < 300;
    } finally {
      if (!created) {
        this.log(`front door: Service ${key}: the virtual create answered ${request.res.statusCode}; removing its host Service again`);
        await this.removeFromHost(host);
      }
    }
    return true;
  }

  /** The host Service, or undefined when the request should go on as it came (with why, logged). */
  private async createOnHost(key: string, service: Service): Promise<Service | undefined> {
    try {
      const translated = await this.syncer.toHost(this.ctx, { ...service, apiVersion: 'v1', kind: 'Service' });
      const marked: Service = { ...translated, metadata: { ...translated.metadata, annotations: { ...translated.metadata?.annotations, [BLOCK_DELETION_ANNOTATION]: 'true' } } };
      return await this.ctx.host.resourceFor<Service>(CORE['services']!).create(marked);
    } catch (error) {
      // Taken on the host, refused by a plugin's hook, the host unreachable: the syncer's way then.
      this.log(`front door: Service ${key}: creating it on the host first failed, passed on to the virtual apiserver: ${(error as Error).message}`);
      return undefined;
    }
  }

  private async removeFromHost(host: Service): Promise<void> {
    try {
      await this.ctx.host.resourceFor<Service>(CORE['services']!).delete(host, { preconditions: { uid: host.metadata?.uid ?? '' } });
    } catch (error) {
      if (!isNotFound(error)) this.log(`front door: removing host Service ${host.metadata?.name} failed (the syncer removes it within 2 minutes): ${(error as Error).message}`);
    }
  }
}

function isJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}

/** What the apiserver set on the dry run's answer and a create must not carry (the IPs it picked too). */
function withoutServerFields(service: Service): Service {
  const { uid: _uid, resourceVersion: _rv, creationTimestamp: _ct, managedFields: _mf, generation: _g, ...metadata } = service.metadata ?? {};
  const { clusterIP: _ip, clusterIPs: _ips, ...spec } = service.spec ?? {};
  const { status: _status, ...rest } = service;
  return { ...rest, metadata, spec };
}

/** Whether a JSON Service asks for a ClusterIP of its own (`None` included); undefined if it is not JSON. */
export function requestedClusterIpInJson(body: Buffer): boolean | undefined {
  try {
    const spec = (JSON.parse(body.toString('utf8')) as Service | null)?.spec;
    return (spec?.clusterIP !== undefined && spec.clusterIP !== '') || (spec?.clusterIPs ?? []).length > 0;
  } catch {
    return undefined;
  }
}

/**
 * The same for a Service in Kubernetes' protobuf envelope (`k8s\0`, then runtime.Unknown whose
 * field 2 is the Service; its field 2 is the ServiceSpec, whose fields 3 and 18 are clusterIP and
 * clusterIPs); undefined when the bytes are not that.
 */
export function requestedClusterIpInProtobuf(body: Buffer): boolean | undefined {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') return undefined;
  const service = protoField(body.subarray(4), 2);
  if (service === undefined) return undefined;
  const spec = protoField(service, 2);
  if (spec === undefined) return false;
  const ip = protoField(spec, 3);
  return (ip !== undefined && ip.length > 0) || protoField(spec, 18) !== undefined;
}

/** The last length-delimited field `number` of a protobuf message (undefined when absent or unreadable). */
function protoField(message: Buffer, number: number): Buffer | undefined {
  let at = 0;
  let found: Buffer | undefined;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= message.length) throw new RangeError('truncated varint');
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
  };
  try {
    while (at < message.length) {
      const tag = varint();
      const wire = tag % 8;
      if (wire === 0) varint();
      else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else if (wire === 2) {
        const length = varint();
        if (at + length > message.length) return undefined;
        if (Math.floor(tag / 8) === number) found = message.subarray(at, at + length);
        at += length;
      } else return undefined;
    }
  } catch {
    return undefined;
  }
  return found;
}

/** The whole body, or undefined past the apiserver's limit (read to its end, so the caller gets the 413). */
function readBody(req: FrontDoorRequest['req']): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
