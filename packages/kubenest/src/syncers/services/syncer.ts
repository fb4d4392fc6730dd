import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { copyBidirectional, hostCopy, syncMetadata, type SyncContext, type SyncEvent, type Syncer } from '@kubenest/sync';

type ServicePort = { name?: string; port: number; targetPort?: number | string; protocol?: string; nodePort?: number };
export type Service = KubeObject & {
  spec?: Record<string, unknown> & { clusterIP?: string; clusterIPs?: string[]; selector?: Record<string, string>; ports?: ServicePort[]; type?: string };
  status?: Record<string, unknown>;
};

/** Spec fields that either side may change; the side that changed since the last sync wins. */
const TWO_WAY_FIELDS = [
  'type', 'externalIPs', 'externalName', 'loadBalancerIP', 'ports', 'publishNotReadyAddresses', 'externalTrafficPolicy',
  'sessionAffinity', 'sessionAffinityConfig', 'loadBalancerSourceRanges', 'healthCheckNodePort',
];

/** The host selector: the virtual one translated, scoped to this virtual cluster and namespace. */
function hostSelector(ctx: SyncContext, virtual: Service): Record<string, string> | undefined {
  const selector = virtual.spec?.selector;
  if (!selector) return undefined;
  return ctx.meta.hostLabels(selector, undefined, virtual.metadata?.namespace ?? '', true);
}

/**
 * Services to the host, vCluster's way. The host allocates the ClusterIP; the virtual Service is
 * then recreated with the same IP (ClusterIP cannot change in place), which is why the virtual
 * apiserver serves the host's service range. The selector is translated and scoped so a host
 * Service only selects this virtual cluster's pods in its namespace; ports and the other
 * user-facing fields sync both ways; status comes from the host. `default/kubernetes` is the
 * virtual cluster's own and is not synced.
 */
export function serviceSyncer(): Syncer<Service> {
  return {
    name: 'service',
    resource: CORE['services']!,
    keepHostOnUidChange: true,
    wants: (_ctx, virtual) => !(virtual.metadata?.namespace === 'default' && virtual.metadata?.name === 'kubernetes'),
    toHost(ctx, virtual) {
      const host = hostCopy(ctx, virtual);
      const spec = { ...(host.spec ?? {}) };
      if (spec.clusterIP !== 'None') delete spec.clusterIP;
      for (const field of ['clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) delete spec[field];
      spec.ports = (spec.ports ?? []).map((port) => ({ ...port, nodePort: undefined }));
      const selector = hostSelector(ctx, virtual);
      if (selector) spec.selector = selector;
      return { ...host, spec };
    },
    sync(ctx: SyncContext, event: SyncEvent<Service>) {
      const hostIp = event.host.spec?.clusterIP;
      if (hostIp && event.virtual.spec?.clusterIP !== hostIp) {
        const spec = { ...event.virtual.spec, clusterIP: hostIp, clusterIPs: event.host.spec?.clusterIPs ?? [hostIp] };
        return { recreateVirtual: { ...event.virtual, spec } };
      }
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      let { virtualChanged, hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
      const vSpec = (virtual.spec ??= {});
      const hSpec = (host.spec ??= {});
      for (const field of TWO_WAY_FIELDS) {
        const merged = copyBidirectional(event.virtualOld?.spec?.[field], vSpec[field], event.hostOld?.spec?.[field], hSpec[field]);
        if (!isDeepStrictEqual(merged.virtual, vSpec[field])) { vSpec[field] = merged.virtual; virtualChanged = true; }
        if (!isDeepStrictEqual(merged.host, hSpec[field])) { hSpec[field] = merged.host; hostChanged = true; }
      }
      const selector = hostSelector(ctx, virtual);
      if (!isDeepStrictEqual(selector, hSpec.selector)) { hSpec.selector = selector; hostChanged = true; }
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}
