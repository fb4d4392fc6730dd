import { CORE, isNotFound } from '@kubenest/kube';
import type { SyncContext } from '@kubenest/sync';
import type { Logger } from 'pino';
import { BLOCK_DELETION_ANNOTATION, serviceSyncer, type Service } from '../syncers/services/syncer.ts';
import type { Authorizer } from './authorize.ts';
import { failure, writeStatus } from './status.ts';
import type { FrontDoorHandler, FrontDoorRequest, ForwardToApiserver } from './types.ts';

/** The apiserver's own limit on a request body (3 MiB); a larger one is passed on for it to refuse. */
const MAX_BODY = 3 * 1024 * 1024;

/**
 * Why a Service create is passed on untouched rather than made on the host first, or undefined
 * when it can be (a pure decision on the request). Passed on, the Service still reaches the host
 * through the syncer and takes the host's ClusterIP by the ExternalName passage (ADR 13).
 */
export function hostFirstRefusal(o: { query: URLSearchParams; contentType: string | undefined; impersonating: boolean; namespace: string; service: unknown }): string | undefined {
  if (o.query.has('dryRun')) return 'a dry run';
  if (!/^application\/json\s*(;|$)/i.test(o.contentType ?? '')) return `a body of type ${o.contentType ?? '(none)'}, not JSON`;
  if (o.impersonating) return 'an impersonating request';
  const service = o.service as Service | null;
  if (service === null || typeof service !== 'object' || Array.isArray(service)) return 'a body that is not an object';
  if ((service.kind ?? 'Service') !== 'Service' || (service.apiVersion ?? 'v1') !== 'v1') return `a body of ${service.apiVersion}/${service.kind}`;
  const meta = service.metadata ?? {};
  if (!meta.name) return 'no metadata.name (generateName is left to the apiserver)';
  if (meta.namespace && meta.namespace !== o.namespace) return 'a namespace in the body that is not the one in the path';
  if (o.namespace === 'default' && meta.name === 'kubernetes') return 'default/kubernetes, the virtual cluster\'s own';
  const spec = service.spec ?? {};
  if (spec.type === 'ExternalName') return 'an ExternalName Service (no ClusterIP)';
  if (spec.clusterIP !== undefined && spec.clusterIP !== '') return `a requested clusterIP (${spec.clusterIP})`;
  if ((spec.clusterIPs ?? []).length > 0) return 'requested clusterIPs';
  return undefined;
}

/**
 * Services in one request (vCluster's service create redirect): a Service created through the
 * front door is created on the host first, translated by the Service syncer and through the
 * hooked host client, marked `block-deletion` so the syncer waits for its virtual Service; then
 * the virtual Service is created as the caller with the host's ClusterIP. It is born with the
 * host's IP, so nothing (Endpoints applied with it) ever sees another. If the virtual create
 * fails, the host Service goes again. Requests this cannot take (see `hostFirstRefusal`), a caller
 * the apiserver would refuse, and any failure on the host are passed on unchanged.
 */
export class ServiceCreateHandler implements FrontDoorHandler {
  readonly name = 'service-create';
  private readonly ctx: SyncContext;
  private readonly authorize: Authorizer;
  private readonly log: Logger | undefined;
  private readonly syncer = serviceSyncer();

  constructor(o: { ctx: SyncContext; authorize: Authorizer; log?: Logger | undefined }) {
    this.ctx = o.ctx;
    this.authorize = o.authorize;
    this.log = o.log;
  }

  async handle(request: FrontDoorRequest, forward: ForwardToApiserver): Promise<boolean> {
    const { info, req, caller } = request;
    if (!info.isResourceRequest || info.verb !== 'create' || info.apiGroup !== '' || info.resource !== 'services' || info.subresource !== '' || !info.namespace) return false;
    const query = new URL(req.url ?? '/', 'http://front.invalid').searchParams;
    const impersonating = Object.keys(req.headers).some((h) => h.startsWith('impersonate-'));
    // Checked before the body is read: untouched, the request streams on as it came.
    const early = hostFirstRefusal({ query, contentType: req.headers['content-type'], impersonating, namespace: info.namespace, service: {} });
    if (early) return false;
    const body = await readBody(req);
    if (body === undefined) {
      writeStatus(request.res, failure(413, 'RequestEntityTooLarge', `the request body is larger than the apiserver's limit of ${MAX_BODY} bytes`));
      return true;
    }
    let service: Service;
    try {
      service = JSON.parse(body.toString('utf8')) as Service;
    } catch {
      await forward(request, body); // the apiserver's own 400
      return true;
    }
    const refusal = hostFirstRefusal({ query, contentType: req.headers['content-type'], impersonating, namespace: info.namespace, service });
    const key = `${info.namespace}/${service?.metadata?.name ?? ''}`;
    if (refusal) {
      this.log?.debug({ service: key }, `Service create passed on (${refusal})`);
      await forward(request, body);
      return true;
    }
    const host = await this.createOnHost(caller, info.namespace, service);
    if (!host) {
      await forward(request, body);
      return true;
    }
    const virtual: Service = { ...service, spec: { ...service.spec, clusterIP: host.spec?.clusterIP, clusterIPs: host.spec?.clusterIPs ?? (host.spec?.clusterIP ? [host.spec.clusterIP] : undefined) } };
    let created = false;
    try {
      await forward(request, Buffer.from(JSON.stringify(virtual)));
      created = request.res.statusCode < 300;
    } finally {
      if (!created) {
        this.log?.info({ service: key, code: request.res.statusCode }, 'the virtual Service was not created; removing its host Service again');
        await this.removeFromHost(host);
      }
    }
    return true;
  }

  /** The host Service, or undefined when the request should go on as it came (with why, logged). */
  private async createOnHost(caller: FrontDoorRequest['caller'], namespace: string, service: Service): Promise<Service | undefined> {
    const name = service.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    try {
      // Only for a caller the virtual apiserver would let create it: nobody else makes host objects.
      const decision = await this.authorize(caller, { resource: { namespace, verb: 'create', group: '', version: 'v1', resource: 'services', subresource: '', name: '' } });
      if (!decision.allowed) return undefined;
      // A name already taken, or a namespace that is not there, is the apiserver's to refuse.
      if (!(await exists(() => this.ctx.virtual.unhooked.resourceFor(CORE['namespaces']!).get(namespace)))) return undefined;
      if (await exists(() => this.ctx.virtual.unhooked.resourceFor(CORE['services']!).get(name, { namespace }))) return undefined;
      const virtual: Service = { ...service, apiVersion: 'v1', kind: 'Service', metadata: { ...service.metadata, namespace } };
      const translated = await this.syncer.toHost(this.ctx, virtual);
      const marked: Service = { ...translated, metadata: { ...translated.metadata, annotations: { ...translated.metadata?.annotations, [BLOCK_DELETION_ANNOTATION]: 'true' } } };
      return await this.ctx.host.resourceFor<Service>(CORE['services']!).create(marked);
    } catch (error) {
      // Taken on the host, refused by a plugin's hook, the host unreachable: the syncer's way then.
      this.log?.warn({ service: key }, `creating the Service on the host first failed, passed on to the virtual apiserver: ${(error as Error).message}`);
      return undefined;
    }
  }

  private async removeFromHost(host: Service): Promise<void> {
    try {
      await this.ctx.host.resourceFor<Service>(CORE['services']!).delete(host, { preconditions: { uid: host.metadata?.uid ?? '' } });
    } catch (error) {
      if (!isNotFound(error)) this.log?.warn({ service: host.metadata?.name }, `removing the host Service failed (the syncer removes it within 2 minutes): ${(error as Error).message}`);
    }
  }
}

async function exists(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
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
