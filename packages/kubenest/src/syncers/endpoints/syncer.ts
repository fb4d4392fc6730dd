import { isDeepStrictEqual } from 'node:util';
import { CORE, isNotFound, type KubeObject } from '@kubenest/kube';
import { hostCopy, syncMetadata, type SyncContext, type Syncer } from '@kubenest/sync';

type Address = { ip: string; hostname?: string; nodeName?: string; targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string; resourceVersion?: string } };
type Subset = { addresses?: Address[]; notReadyAddresses?: Address[]; ports?: unknown[] };
export type Endpoints = KubeObject & { subsets?: Subset[] };

/**
 * Endpoints to the host, only for Services without a selector: for the others the host's own
 * endpoints controller fills them from the translated selector. Pod references are translated to
 * the host pods; a reference's uid and version belong to the virtual cluster and are dropped.
 */
export function endpointsSyncer(): Syncer<Endpoints> {
  const translate = (ctx: SyncContext, subsets: Subset[] | undefined): Subset[] | undefined => subsets?.map((subset) => {
    const mapAddress = (address: Address): Address => {
      const ref = address.targetRef;
      if (ref?.kind !== 'Pod' || !ref.name) return address;
      return { ...address, targetRef: { kind: 'Pod', name: ctx.names.hostName(ref.name, ref.namespace ?? ''), namespace: ctx.hostNamespace } };
    };
    return {
      ...subset,
      ...(subset.addresses ? { addresses: subset.addresses.map(mapAddress) } : {}),
      ...(subset.notReadyAddresses ? { notReadyAddresses: subset.notReadyAddresses.map(mapAddress) } : {}),
    };
  });
  return {
    name: 'endpoints',
    resource: CORE['endpoints']!,
    // Whether to sync depends on the Service (selector or not): its changes requeue these Endpoints.
    requeueOn: [CORE['services']!],
    async wants(ctx, virtual) {
      const { name, namespace } = virtual.metadata ?? {};
      if (namespace === 'default' && name === 'kubernetes') return false;
      try {
        const service = await ctx.virtual.resourceFor(CORE['services']!).get(name ?? '', { namespace: namespace ?? '' });
        return !(service['spec'] as { selector?: object } | undefined)?.selector;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
    toHost: (ctx, virtual) => ({ ...hostCopy(ctx, virtual), subsets: translate(ctx, virtual.subsets) }),
    sync(ctx, event) {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      const { hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
      const subsets = translate(ctx, virtual.subsets);
      // One way: the virtual Endpoints are the truth; a host edit is put back.
      if (!isDeepStrictEqual(subsets, host.subsets)) {
        host.subsets = subsets;
        return { host };
      }
      return hostChanged ? { host } : {};
    },
  };
}
