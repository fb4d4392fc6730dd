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
 * The ExternalName a virtual Service passes through while its ClusterIP is replaced by the host's
 * (`.invalid` never resolves); the spec it had is kept in an annotation until the second step.
 */
export const CLUSTER_IP_PASSAGE_NAME = 'clusterip-passage.kubenest.invalid';
export const SPEC_BEFORE_PASSAGE_ANNOTATION = 'kubenest.dev/spec-before-clusterip-passage';

/**
 * The two updates that give a virtual Service the host's ClusterIP in place. A ClusterIP is
 * immutable, but a Service may become ExternalName (which releases it) and come back with a
 * requested one. Deleting and recreating the Service instead made the virtual controller manager
 * delete its Endpoints, and the garbage collector anything owned by the old uid (issue 12).
 * A Service found half-way (a crash, a refused second step) is finished from the annotation.
 */
export function clusterIpPassage(virtual: Service, hostIp: string, hostIps: string[] | undefined): Service[] {
  const stashed = virtual.metadata?.annotations?.[SPEC_BEFORE_PASSAGE_ANNOTATION];
  const original = (stashed !== undefined ? JSON.parse(stashed) : virtual.spec ?? {}) as NonNullable<Service['spec']>;
  const { [SPEC_BEFORE_PASSAGE_ANNOTATION]: _stash, ...annotations } = virtual.metadata?.annotations ?? {};
  const arrived: Service = {
    ...virtual,
    metadata: { ...virtual.metadata, annotations },
    spec: { ...original, clusterIP: hostIp, clusterIPs: hostIps?.includes(hostIp) ? hostIps : [hostIp] },
  };
  if (stashed !== undefined) return [arrived];
  const passing: Service = {
    ...virtual,
    metadata: { ...virtual.metadata, annotations: { ...annotations, [SPEC_BEFORE_PASSAGE_ANNOTATION]: JSON.stringify(original) } },
    spec: {
      type: 'ExternalName', externalName: CLUSTER_IP_PASSAGE_NAME,
      ...(original.selector ? { selector: original.selector } : {}),
      ports: (original.ports ?? []).map(({ nodePort: _nodePort, ...port }) => port),
    },
  };
  return [passing, arrived];
}

/**
 * vCluster's mark on a host Service its API proxy created ahead of the virtual one: the syncer
 * leaves it alone for a while (`SERVICE_AWAITS_VIRTUAL_MS`) even though it has no virtual Service
 * yet, and removes the mark once both exist.
 */
export const BLOCK_DELETION_ANNOTATION = 'vcluster.loft.sh/block-deletion';
/** How long a marked host Service waits for its virtual one (vCluster: 2 minutes). */
export const SERVICE_AWAITS_VIRTUAL_MS = 120_000;

/** What a host Service marked `block-deletion` may still wait for its virtual Service, in ms. */
export function serviceAwaitsVirtual(host: Service, now = Date.now()): number {
  if (host.metadata?.annotations?.[BLOCK_DELETION_ANNOTATION] !== 'true') return 0;
  const stamp = host.metadata?.creationTimestamp;
  const created = typeof stamp === 'string' ? Date.parse(stamp) : NaN;
  return Number.isNaN(created) ? 0 : created + SERVICE_AWAITS_VIRTUAL_MS - now;
}

/** True while a virtual Service is between the two steps of `clusterIpPassage`. */
function inPassage(virtual: Service): boolean {
  return virtual.metadata?.annotations?.[SPEC_BEFORE_PASSAGE_ANNOTATION] !== undefined;
}

/**
 * Services to the host, vCluster's way. The host allocates the ClusterIP and the virtual Service
 * takes it over in place (`clusterIpPassage`), which is why the virtual apiserver serves the
 * host's service range. The selector is translated and scoped so a host Service only selects
 * this virtual cluster's pods in its namespace; ports and the other user-facing fields sync both
 * ways; status comes from the host. `default/kubernetes` is the virtual cluster's own and is not
 * synced.
 */
export function serviceSyncer(): Syncer<Service> {
  return {
    name: 'service',
    resource: CORE['services']!,
    wants: (_ctx, virtual) => !(virtual.metadata?.namespace === 'default' && virtual.metadata?.name === 'kubernetes'),
    awaitsVirtual: (host) => serviceAwaitsVirtual(host),
    toHost(ctx, virtual) {
      const host = hostCopy(ctx, virtual);
      const { [SPEC_BEFORE_PASSAGE_ANNOTATION]: stashed, ...annotations } = host.metadata?.annotations ?? {};
      const spec = { ...(stashed !== undefined ? JSON.parse(stashed) as NonNullable<Service['spec']> : host.spec ?? {}) };
      if (spec.clusterIP !== 'None') delete spec.clusterIP;
      for (const field of ['clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) delete spec[field];
      spec.ports = (spec.ports ?? []).map((port) => ({ ...port, nodePort: undefined }));
      const selector = hostSelector(ctx, virtual);
      if (selector) spec.selector = selector;
      return { ...host, metadata: { ...host.metadata, annotations }, spec };
    },
    async sync(ctx: SyncContext, event: SyncEvent<Service>) {
      const hostIp = event.host.spec?.clusterIP;
      if (hostIp && hostIp !== 'None' && (inPassage(event.virtual) || event.virtual.spec?.clusterIP !== hostIp)) {
        // Only the ClusterIP may change: the steps start from the Service as stored, not from the
        // syncer's view, to which plugins' GetVirtual hooks may have added what must not be written
        // back (the hooks example's port 19000). A deliberate read around the hooks (ADR 21).
        const { name = '', namespace = '' } = event.virtual.metadata ?? {};
        const stored = await ctx.virtual.unhooked.resourceFor<Service>(CORE['services']!).get(name, { namespace });
        return { virtualSteps: clusterIpPassage(stored, hostIp, event.host.spec?.clusterIPs) };
      }
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      let { virtualChanged, hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
      const vSpec = (virtual.spec ??= {});
      const hSpec = (host.spec ??= {});
      // A host copy the front door made from this very Service meets it for the first time: as
      // if this syncer had made it, both sides are as they should be (what a plugin's host hook
      // added, port 19000 say, stays); only changes from now on are copied.
      const madeAhead = host.metadata?.annotations?.[BLOCK_DELETION_ANNOTATION] !== undefined && event.virtualOld === undefined;
      for (const field of madeAhead ? [] : TWO_WAY_FIELDS) {
        const merged = copyBidirectional(event.virtualOld?.spec?.[field], vSpec[field], event.hostOld?.spec?.[field], hSpec[field]);
        if (!isDeepStrictEqual(merged.virtual, vSpec[field])) { vSpec[field] = merged.virtual; virtualChanged = true; }
        if (!isDeepStrictEqual(merged.host, hSpec[field])) { hSpec[field] = merged.host; hostChanged = true; }
      }
      const selector = hostSelector(ctx, virtual);
      if (!isDeepStrictEqual(selector, hSpec.selector)) { hSpec.selector = selector; hostChanged = true; }
      if (host.metadata?.annotations?.[BLOCK_DELETION_ANNOTATION] !== undefined) {
        // Both exist now: the front door's mark has done its work.
        const { [BLOCK_DELETION_ANNOTATION]: _mark, ...rest } = host.metadata.annotations;
        host.metadata.annotations = rest;
        hostChanged = true;
      }
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}
