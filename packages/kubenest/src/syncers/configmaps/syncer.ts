import { CORE, type KubeObject } from '@kubenest/kube';
import { hostCopy, isImported, syncMetadataAndMaps, type SyncContext, type Syncer } from '@kubenest/sync';

export type ConfigMap = KubeObject & { data?: Record<string, string>; binaryData?: Record<string, string>; immutable?: boolean };

/** Forces one ConfigMap or Secret to the host even when `all` is off. */
export const FORCE_SYNC_ANNOTATION = 'vcluster.loft.sh/force-sync';

export interface DataSyncerOptions {
  /** `sync.toHost.<kind>.all`: every object, not only those a synced object uses. */
  all: boolean;
  /** Whether a synced object (a pod, ...) uses this one; until the pod syncer exists, nothing does. */
  isReferenced?: (namespace: string, name: string) => boolean;
}

/** vCluster's rule for ConfigMaps and Secrets: only those in use, unless `all` or forced. */
export function wantedOnHost(options: DataSyncerOptions, virtual: KubeObject): boolean {
  // A copy imported from the host (sync.fromHost) must not be sent back to it.
  if (isImported(virtual)) return false;
  const meta = virtual.metadata ?? {};
  return options.all || meta.annotations?.[FORCE_SYNC_ANNOTATION] === 'true' ||
    (options.isReferenced?.(meta.namespace ?? '', meta.name ?? '') ?? false);
}

/**
 * ConfigMaps to the host: `data` and `binaryData` merged both ways key by key, labels and
 * annotations translated. `kube-root-ca.crt` goes only when a pod mounts it (the token volume
 * carries the virtual CA), not with `all`: every namespace has one.
 */
export function configMapSyncer(options: DataSyncerOptions): Syncer<ConfigMap> {
  return {
    name: 'configmap',
    resource: CORE['configmaps']!,
    wants: (_ctx: SyncContext, virtual: ConfigMap) => virtual.metadata?.name === 'kube-root-ca.crt'
      ? (options.isReferenced?.(virtual.metadata.namespace ?? '', 'kube-root-ca.crt') ?? false)
      : wantedOnHost(options, virtual),
    toHost: (ctx, virtual) => hostCopy(ctx, virtual),
    sync: (ctx, event) => syncMetadataAndMaps(ctx, event, ['data', 'binaryData']),
  };
}
