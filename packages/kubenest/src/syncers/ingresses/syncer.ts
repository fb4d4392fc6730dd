import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { copyBidirectional, hostCopy, syncMetadata, type NameTranslator, type SyncContext, type SyncEvent, type Syncer } from '@kubenest/sync';

type Backend = {
  service?: { name?: string; port?: unknown };
  resource?: { apiGroup?: string; kind?: string; name?: string };
};
type Rule = { host?: string; http?: { paths?: (Record<string, unknown> & { backend?: Backend })[] } };
export type IngressSpec = Record<string, unknown> & {
  ingressClassName?: string;
  defaultBackend?: Backend;
  rules?: Rule[];
  tls?: { hosts?: string[]; secretName?: string }[];
};
export type Ingress = KubeObject & { spec?: IngressSpec; status?: Record<string, unknown> };

/** ingress-nginx annotations naming a Secret (`name` or `namespace/name`); vCluster rewrites these three. */
export const INGRESS_SECRET_ANNOTATIONS = [
  'nginx.ingress.kubernetes.io/auth-secret',
  'nginx.ingress.kubernetes.io/auth-tls-secret',
  'nginx.ingress.kubernetes.io/proxy-ssl-secret',
];

/**
 * The Secrets (`namespace/name`) an Ingress uses: TLS and the nginx annotations. They count as
 * "in use" for the Secret syncer, as in vCluster.
 */
export function ingressSecretReferences(ingress: Ingress): Set<string> {
  const namespace = ingress.metadata?.namespace ?? '';
  const out = new Set<string>();
  for (const tls of ingress.spec?.tls ?? []) if (tls.secretName) out.add(`${namespace}/${tls.secretName}`);
  for (const key of INGRESS_SECRET_ANNOTATIONS) {
    const value = ingress.metadata?.annotations?.[key];
    if (!value) continue;
    const parts = value.split('/');
    if (parts.length === 1) out.add(`${namespace}/${value}`);
    else if (parts.length === 2) out.add(value);
  }
  return out;
}

/** A Secret reference in an nginx annotation, as the host must see it; anything else is left as is. */
export function hostSecretReference(names: NameTranslator, ingressNamespace: string, value: string): string {
  const parts = value.split('/');
  if (parts.length === 1) return names.hostName(value, ingressNamespace);
  if (parts.length === 2) return `${names.hostNamespace}/${names.hostName(parts[1]!, parts[0]!)}`;
  return value;
}

function hostBackend(names: NameTranslator, namespace: string, backend: Backend): Backend {
  const out = structuredClone(backend);
  if (out.service?.name) out.service.name = names.hostName(out.service.name, namespace);
  if (out.resource?.name) out.resource.name = names.hostName(out.resource.name, namespace);
  return out;
}

/** The host spec: backends' Services and resources, and TLS Secrets, renamed to their host copies. */
export function hostIngressSpec(names: NameTranslator, namespace: string, spec: IngressSpec | undefined): IngressSpec {
  const out = structuredClone(spec ?? {});
  if (out.defaultBackend) out.defaultBackend = hostBackend(names, namespace, out.defaultBackend);
  for (const rule of out.rules ?? []) {
    for (const path of rule.http?.paths ?? []) if (path.backend) path.backend = hostBackend(names, namespace, path.backend);
  }
  for (const tls of out.tls ?? []) if (tls.secretName) tls.secretName = names.hostName(tls.secretName, namespace);
  return out;
}

/**
 * Sets the Secret annotations of a host object from the virtual ones, translated. The virtual
 * side owns these keys: a host edit of them is put back, never copied to the virtual object.
 */
function setSecretAnnotations(names: NameTranslator, virtual: Ingress, host: Ingress): void {
  const own = virtual.metadata?.annotations ?? {};
  const annotations = { ...(host.metadata?.annotations ?? {}) };
  for (const key of INGRESS_SECRET_ANNOTATIONS) {
    const value = own[key];
    if (value === undefined) delete annotations[key];
    else annotations[key] = hostSecretReference(names, virtual.metadata?.namespace ?? '', value);
  }
  host.metadata = { ...host.metadata, annotations };
}

/**
 * Ingresses to the host (`sync.toHost.ingresses`), vCluster's way: backends and TLS Secrets point
 * at the host copies, nginx Secret annotations are translated, `ingressClassName` syncs both ways
 * (the host's ingress controller may set it), and the status comes from the host, where the
 * ingress controller writes it. AWS load-balancer `actions.*`/`conditions.*` annotations, which
 * vCluster also rewrites, are not translated yet.
 */
export function ingressSyncer(): Syncer<Ingress> {
  return {
    name: 'ingress',
    resource: CORE['ingresses']!,
    toHost(ctx, virtual) {
      const host = hostCopy(ctx, virtual);
      host.spec = hostIngressSpec(ctx.names, virtual.metadata?.namespace ?? '', virtual.spec);
      setSecretAnnotations(ctx.names, virtual, host);
      return host;
    },
    sync(ctx: SyncContext, event: SyncEvent<Ingress>) {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      syncMetadata(ctx, { ...event, virtual, host });
      // The Secret annotations stay as the virtual side has them (syncMetadata may have copied host values back).
      const ownAnnotations = { ...(virtual.metadata?.annotations ?? {}) };
      for (const key of INGRESS_SECRET_ANNOTATIONS) {
        const value = event.virtual.metadata?.annotations?.[key];
        if (value === undefined) delete ownAnnotations[key];
        else ownAnnotations[key] = value;
      }
      virtual.metadata = { ...virtual.metadata, annotations: ownAnnotations };
      setSecretAnnotations(ctx.names, virtual, host);

      const className = copyBidirectional(event.virtualOld?.spec?.ingressClassName, event.virtual.spec?.ingressClassName,
        event.hostOld?.spec?.ingressClassName, event.host.spec?.ingressClassName);
      const vSpec: IngressSpec = { ...virtual.spec };
      if (className.virtual === undefined) delete vSpec.ingressClassName;
      else vSpec.ingressClassName = className.virtual;
      virtual.spec = vSpec;
      host.spec = hostIngressSpec(ctx.names, virtual.metadata?.namespace ?? '', vSpec);

      const changed = (next: Ingress, before: Ingress): boolean =>
        !isDeepStrictEqual(next.metadata?.labels ?? {}, before.metadata?.labels ?? {}) ||
        !isDeepStrictEqual(next.metadata?.annotations ?? {}, before.metadata?.annotations ?? {}) ||
        !isDeepStrictEqual(next.spec, before.spec ?? {});
      const virtualChanged = changed(virtual, event.virtual);
      const hostChanged = changed(host, event.host);
      const statusChanged = !isDeepStrictEqual(event.host.status ?? {}, event.virtual.status ?? {});
      return {
        ...(virtualChanged ? { virtual } : {}),
        ...(hostChanged ? { host } : {}),
        ...(statusChanged ? { virtualStatus: { ...virtual, status: structuredClone(event.host.status ?? {}) } } : {}),
      };
    },
  };
}
