import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import {
  MARKER_LABEL, NAMESPACE_LABEL, hostCopy, syncMetadata, type LabelSelector, type MetadataTranslator, type SyncContext, type SyncEvent, type Syncer,
} from '@kubenest/sync';

type Peer = { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: { cidr: string; except?: string[] } };
type IngressRule = Record<string, unknown> & { from?: Peer[] };
type EgressRule = Record<string, unknown> & { to?: Peer[] };
export type NetworkPolicySpec = Record<string, unknown> & {
  podSelector?: LabelSelector;
  ingress?: IngressRule[];
  egress?: EgressRule[];
  policyTypes?: string[];
};
export type NetworkPolicy = KubeObject & { spec?: NetworkPolicySpec };

/** matchLabels and matchExpressions of both, without empty parts (the API server drops them too). */
function mergeSelectors(a: LabelSelector, b: LabelSelector | undefined): LabelSelector {
  const matchLabels = { ...a.matchLabels, ...b?.matchLabels };
  const matchExpressions = [...(a.matchExpressions ?? []), ...(b?.matchExpressions ?? [])];
  return { ...(Object.keys(matchLabels).length ? { matchLabels } : {}), ...(matchExpressions.length ? { matchExpressions } : {}) };
}

/**
 * One peer on the host. All of a virtual cluster's pods share the host namespace, so a
 * namespaceSelector cannot work there: it becomes a selector on the namespace labels the pod
 * syncer copies onto each pod (`vcluster.loft.sh/ns-label-*`); without one, the peer is the
 * policy's own namespace. The marker keeps other virtual clusters' pods out. An ipBlock peer is
 * kept as it is.
 */
function hostPeer(meta: MetadataTranslator, namespace: string, peer: Peer): Peer {
  if (peer.ipBlock) return { ipBlock: structuredClone(peer.ipBlock) };
  const namespaceSelector = peer.namespaceSelector && {
    ...(peer.namespaceSelector.matchLabels ? {
      matchLabels: Object.fromEntries(Object.entries(peer.namespaceSelector.matchLabels).map(([k, v]) => [meta.hostNamespaceLabelKey(k), v])),
    } : {}),
    ...(peer.namespaceSelector.matchExpressions ? {
      matchExpressions: peer.namespaceSelector.matchExpressions.map((e) => ({ ...e, key: meta.hostNamespaceLabelKey(e.key) })),
    } : {}),
  };
  const selector = mergeSelectors(meta.hostLabelSelector(peer.podSelector) ?? {}, namespaceSelector);
  const matchLabels = { ...selector.matchLabels };
  if (!peer.namespaceSelector) matchLabels[NAMESPACE_LABEL] = namespace;
  matchLabels[MARKER_LABEL] = meta.vclusterName;
  return { podSelector: { ...selector, matchLabels } };
}

/**
 * The host spec of a virtual NetworkPolicy in `namespace`: the policy's podSelector translated
 * and narrowed to this virtual cluster's pods of that namespace, each peer translated (hostPeer),
 * ports and policyTypes as they are.
 */
export function hostNetworkPolicySpec(meta: MetadataTranslator, namespace: string, spec: NetworkPolicySpec | undefined): NetworkPolicySpec {
  const source = spec ?? {};
  const out: NetworkPolicySpec = {};
  const peers = (list: Peer[] | undefined): Peer[] | undefined => list?.map((peer) => hostPeer(meta, namespace, peer));
  if (source.ingress) {
    out.ingress = source.ingress.map(({ from, ...rule }) => ({ ...structuredClone(rule), ...(from ? { from: peers(from)! } : {}) }));
  }
  if (source.egress) {
    out.egress = source.egress.map(({ to, ...rule }) => ({ ...structuredClone(rule), ...(to ? { to: peers(to)! } : {}) }));
  }
  const podSelector = meta.hostLabelSelector(source.podSelector) ?? {};
  out.podSelector = { ...podSelector, matchLabels: { ...podSelector.matchLabels, [NAMESPACE_LABEL]: namespace, [MARKER_LABEL]: meta.vclusterName } };
  if (source.policyTypes) out.policyTypes = [...source.policyTypes];
  return out;
}

/**
 * NetworkPolicies to the host (`sync.toHost.networkPolicies`), vCluster's way: the spec goes one
 * way, virtual to host (a host edit is put back); labels and annotations both ways.
 */
export function networkPolicySyncer(): Syncer<NetworkPolicy> {
  return {
    name: 'networkpolicy',
    resource: CORE['networkpolicies']!,
    toHost(ctx, virtual) {
      return { ...hostCopy(ctx, virtual), spec: hostNetworkPolicySpec(ctx.meta, virtual.metadata?.namespace ?? '', virtual.spec) };
    },
    sync(ctx: SyncContext, event: SyncEvent<NetworkPolicy>) {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      const { virtualChanged, hostChanged: metadataChanged } = syncMetadata(ctx, { ...event, virtual, host });
      let hostChanged = metadataChanged;
      const spec = hostNetworkPolicySpec(ctx.meta, virtual.metadata?.namespace ?? '', virtual.spec);
      if (!isDeepStrictEqual(spec, host.spec ?? {})) { host.spec = spec; hostChanged = true; }
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}
