import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { hostCopy, mergeBidirectional, syncMetadata, type SyncContext, type SyncEvent, type Syncer } from '@kubenest/sync';

export type ConfigMap = KubeObject & { data?: Record<string, string>; binaryData?: Record<string, string>; immutable?: boolean };

/** Forces one ConfigMap to the host even when `sync.toHost.configMaps.all` is off. */
export const FORCE_SYNC_ANNOTATION = 'vcluster.loft.sh/force-sync';

export interface ConfigMapSyncerOptions {
  /** `sync.toHost.configMaps.all`: every ConfigMap, not only those a synced object uses. */
  all: boolean;
  /** Whether a synced object (a pod, ...) uses this ConfigMap; until the pod syncer exists, nothing does. */
  isReferenced?: (namespace: string, name: string) => boolean;
}

/**
 * ConfigMaps to the host, vCluster's way: only those in use (or all, or those forced), with
 * `data` and `binaryData` merged both ways key by key, and labels and annotations translated.
 * `kube-root-ca.crt` stays virtual: the host has its own.
 */
export function configMapSyncer(options: ConfigMapSyncerOptions): Syncer<ConfigMap> {
  return {
    name: 'configmap',
    resource: CORE['configmaps']!,
    wants(_ctx: SyncContext, virtual: ConfigMap): boolean {
      const meta = virtual.metadata ?? {};
      if (meta.name === 'kube-root-ca.crt') return false;
      return options.all || meta.annotations?.[FORCE_SYNC_ANNOTATION] === 'true' ||
        (options.isReferenced?.(meta.namespace ?? '', meta.name ?? '') ?? false);
    },
    toHost: (ctx, virtual) => hostCopy(ctx, virtual),
    sync(ctx: SyncContext, event: SyncEvent<ConfigMap>): { virtual?: ConfigMap; host?: ConfigMap } {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      let { virtualChanged, hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
      for (const field of ['data', 'binaryData'] as const) {
        const merged = mergeBidirectional(event.virtualOld?.[field], virtual[field], event.hostOld?.[field], host[field]);
        if (!isDeepStrictEqual(merged.virtual, virtual[field] ?? {})) { virtual[field] = merged.virtual as Record<string, string>; virtualChanged = true; }
        if (!isDeepStrictEqual(merged.host, host[field] ?? {})) { host[field] = merged.host as Record<string, string>; hostChanged = true; }
      }
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}
