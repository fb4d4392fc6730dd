import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { copyBidirectional, syncMetadata, type SyncContext, type SyncEvent, type Syncer } from '@kubenest/sync';

export type PriorityClass = KubeObject & {
  value?: number;
  globalDefault?: boolean;
  description?: string;
  preemptionPolicy?: string;
};

/** Values above this are reserved for the host's system classes; the host API server refuses them. */
export const MAX_USER_PRIORITY = 1_000_000_000;

/** The host's value for a virtual class: its own, capped at the highest value a user class may have. */
export function hostPriorityValue(value: number | undefined): number {
  return Math.min(value ?? 0, MAX_USER_PRIORITY);
}

/** Fields of a PriorityClass that change hands both ways. */
const TWO_WAY_FIELDS = ['description', 'preemptionPolicy'] as const;

/**
 * The host copy of a virtual PriorityClass: cluster-scoped, named by hostNameCluster, marked with
 * the cluster marker, its value capped and never the host's global default (a tenant must not
 * change the priority of every host pod).
 */
export function hostPriorityClass(ctx: SyncContext, virtual: PriorityClass): PriorityClass {
  const host: PriorityClass = {};
  for (const [key, value] of Object.entries(virtual)) if (key !== 'metadata') host[key] = structuredClone(value);
  host.metadata = {
    name: ctx.names.hostNameCluster(virtual.metadata?.name ?? ''),
    labels: ctx.meta.hostLabels(virtual.metadata?.labels, undefined, '', true),
  };
  host.metadata.annotations = ctx.meta.hostAnnotations(virtual, host);
  host.value = hostPriorityValue(virtual.value);
  host.globalDefault = false;
  return host;
}

/**
 * PriorityClasses to the host (`sync.toHost.priorityClasses`), so host pods of the virtual
 * cluster can name them. description and preemptionPolicy sync both ways (the latter is immutable
 * in current Kubernetes, so in practice it only ever takes the creation value); the value and
 * globalDefault follow the virtual class.
 */
export function priorityClassSyncer(): Syncer<PriorityClass> {
  return {
    name: 'priorityclass',
    resource: CORE['priorityclasses']!,
    toHost: (ctx, virtual) => hostPriorityClass(ctx, virtual),
    sync(ctx: SyncContext, event: SyncEvent<PriorityClass>) {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      let { virtualChanged, hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
      for (const field of TWO_WAY_FIELDS) {
        const merged = copyBidirectional(event.virtualOld?.[field], event.virtual[field], event.hostOld?.[field], event.host[field]);
        if (!isDeepStrictEqual(merged.virtual, virtual[field])) { setField(virtual, field, merged.virtual); virtualChanged = true; }
        if (!isDeepStrictEqual(merged.host, host[field])) { setField(host, field, merged.host); hostChanged = true; }
      }
      const value = hostPriorityValue(virtual.value);
      if (host.value !== value) { host.value = value; hostChanged = true; }
      // The API server omits false, so only a true needs a write.
      if (host.globalDefault) { host.globalDefault = false; hostChanged = true; }
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}

function setField(object: PriorityClass, field: (typeof TWO_WAY_FIELDS)[number], value: string | undefined): void {
  if (value === undefined) delete object[field];
  else object[field] = value;
}
