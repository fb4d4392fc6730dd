import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { hostCopy, syncMetadata, type LabelSelector, type MetadataTranslator, type SyncContext, type SyncEvent, type Syncer } from '@kubenest/sync';

export type PodDisruptionBudgetSpec = Record<string, unknown> & {
  selector?: LabelSelector;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
};
export type PodDisruptionBudget = KubeObject & { spec?: PodDisruptionBudgetSpec; status?: Record<string, unknown> };

/**
 * The host spec: the virtual one with its selector's keys translated. Nothing narrows it to this
 * virtual cluster or namespace: that is vCluster's behaviour (it uses HostLabelSelector alone), so
 * a host PDB can count pods of other virtual namespaces that carry the same labels.
 */
export function hostPodDisruptionBudgetSpec(meta: MetadataTranslator, spec: PodDisruptionBudgetSpec | undefined): PodDisruptionBudgetSpec {
  const out = structuredClone(spec ?? {});
  const selector = meta.hostLabelSelector(spec?.selector);
  if (selector) out.selector = selector;
  else delete out.selector;
  return out;
}

/**
 * PodDisruptionBudgets to the host (`sync.toHost.podDisruptionBudgets`): the spec goes one way
 * (minAvailable, maxUnavailable, selector; a host edit is put back), labels and annotations both
 * ways. The status stays the virtual cluster's own: its disruption controller computes it.
 */
export function podDisruptionBudgetSyncer(): Syncer<PodDisruptionBudget> {
  return {
    name: 'podDisruptionBudget',
    resource: CORE['poddisruptionbudgets']!,
    toHost(ctx, virtual) {
      return { ...hostCopy(ctx, virtual), spec: hostPodDisruptionBudgetSpec(ctx.meta, virtual.spec) };
    },
    sync(ctx: SyncContext, event: SyncEvent<PodDisruptionBudget>) {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      const { virtualChanged, hostChanged: metadataChanged } = syncMetadata(ctx, { ...event, virtual, host });
      let hostChanged = metadataChanged;
      const spec = hostPodDisruptionBudgetSpec(ctx.meta, virtual.spec);
      if (!isDeepStrictEqual(spec, host.spec ?? {})) { host.spec = spec; hostChanged = true; }
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}
