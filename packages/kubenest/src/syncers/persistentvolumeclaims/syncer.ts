import { isDeepStrictEqual } from 'node:util';
import { CORE, EventRecorder, isNotFound, type KubeObject } from '@kubenest/kube';
import { hostCopy, syncMetadata, type LabelSelector, type SyncContext, type SyncEvent, type SyncResult, type Syncer } from '@kubenest/sync';
import { labelsMatch } from '../storageclasses-from-host/controller.ts';

/** Set on a virtual PVC, its data sources are copied to the host as they are. */
export const SKIP_TRANSLATE_ANNOTATION = 'vcluster.loft.sh/skip-translate';
export const BIND_COMPLETED_ANNOTATION = 'pv.kubernetes.io/bind-completed';
export const BOUND_BY_CONTROLLER_ANNOTATION = 'pv.kubernetes.io/bound-by-controller';
export const STORAGE_PROVISIONER_ANNOTATION = 'volume.beta.kubernetes.io/storage-provisioner';
/** Written by the host's volume controllers: copied to the virtual PVC, never from it. */
export const HOST_OWNED_ANNOTATIONS = [BIND_COMPLETED_ANNOTATION, BOUND_BY_CONTROLLER_ANNOTATION, STORAGE_PROVISIONER_ANNOTATION];

type DataSourceRef = { apiGroup?: string; kind?: string; name?: string; namespace?: string };
export type PersistentVolumeClaim = KubeObject & {
  spec?: Record<string, unknown> & {
    accessModes?: string[];
    selector?: LabelSelector;
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    volumeName?: string;
    storageClassName?: string;
    volumeMode?: string;
    dataSource?: DataSourceRef;
    dataSourceRef?: DataSourceRef;
  };
  status?: Record<string, unknown> & { phase?: string; capacity?: Record<string, string> };
};

export interface PersistentVolumeClaimSyncerOptions {
  /**
   * `sync.fromHost.storageClasses.selector` while that sync is on: a claim whose class is not a
   * matching host class stays virtual and gets a SyncWarning event.
   */
  storageClassSelector?: LabelSelector | undefined;
}

/**
 * The host claim: the virtual spec as it is, with a PersistentVolumeClaim data source pointing at
 * the translated name. Selector and volumeName stay as they are: vCluster rewrites them only when
 * it syncs real PersistentVolumes (`sync.toHost.persistentVolumes`), since with fake volumes the
 * claim binds to host volumes that carry host labels and names.
 */
export function hostClaim(ctx: SyncContext, virtual: PersistentVolumeClaim): PersistentVolumeClaim {
  const host = hostCopy(ctx, virtual);
  if (virtual.metadata?.annotations?.[SKIP_TRANSLATE_ANNOTATION] === 'true' || !host.spec) return host;
  const namespace = virtual.metadata?.namespace ?? '';
  const translate = (ref: DataSourceRef | undefined): DataSourceRef | undefined =>
    ref?.kind === 'PersistentVolumeClaim' && ref.name ? { ...ref, name: ctx.names.hostName(ref.name, ref.namespace ?? namespace) } : ref;
  if (host.spec.dataSource) host.spec.dataSource = translate(host.spec.dataSource);
  if (host.spec.dataSourceRef) host.spec.dataSourceRef = translate(host.spec.dataSourceRef);
  return host;
}

function withoutHostOwned<T extends KubeObject>(object: T): T {
  const copy = structuredClone(object);
  const annotations = copy.metadata?.annotations;
  if (annotations) for (const key of HOST_OWNED_ANNOTATIONS) delete annotations[key];
  return copy;
}

/**
 * Both sides of a bound or binding claim brought together: labels and annotations both ways
 * (except the binding annotations, which only the host's controllers write), the requested size
 * to the host (expansion), the bound volume's name and the status to the virtual side. A host
 * claim bound to a different volume than the virtual one names means the virtual claim is made
 * again with the host's volume, since a bound claim's volumeName cannot change.
 */
export function syncClaim(ctx: SyncContext, event: SyncEvent<PersistentVolumeClaim>): SyncResult<PersistentVolumeClaim> {
  const { virtual: vIn, host: hIn } = event;
  if (hIn.metadata?.deletionTimestamp) {
    // The host claim is going (deleted on the host): the virtual one follows, as in vCluster.
    return vIn.metadata?.deletionTimestamp ? {} : { deleteVirtual: { gracePeriodSeconds: 30 } };
  }
  const hostVolume = hIn.spec?.volumeName;
  if (hostVolume && vIn.spec?.volumeName && vIn.spec.volumeName !== hostVolume) {
    // pvc-protection would keep the old claim terminating and block the new one: drop it first.
    if ((vIn.metadata?.finalizers as string[] | undefined)?.length) return { virtual: { ...vIn, metadata: { ...vIn.metadata, finalizers: [] } } };
    const recreated = structuredClone(vIn);
    delete recreated.status;
    recreated.spec = { ...recreated.spec, volumeName: hostVolume };
    return { recreateVirtual: recreated };
  }

  // Metadata both ways without the host-owned binding annotations, which are then put back.
  const virtual = withoutHostOwned(vIn);
  const host = withoutHostOwned(hIn);
  syncMetadata(ctx, {
    virtual, host,
    virtualOld: event.virtualOld && withoutHostOwned(event.virtualOld),
    hostOld: event.hostOld && withoutHostOwned(event.hostOld),
  });
  const hostAnnotations = hIn.metadata?.annotations ?? {};
  for (const key of HOST_OWNED_ANNOTATIONS) {
    const value = hostAnnotations[key];
    if (value === undefined) continue;
    (host.metadata!.annotations ??= {})[key] = value;
    (virtual.metadata!.annotations ??= {})[key] = value;
  }

  const vSpec = (virtual.spec ??= {});
  const hSpec = (host.spec ??= {});
  const requests = vSpec.resources?.requests;
  if (!isDeepStrictEqual(requests, hSpec.resources?.requests)) hSpec.resources = { ...hSpec.resources, ...(requests ? { requests } : {}) };
  if (hostVolume && !vSpec.volumeName) vSpec.volumeName = hostVolume;

  const metadataEqual = (a: KubeObject, b: KubeObject): boolean =>
    isDeepStrictEqual(a.metadata?.labels ?? {}, b.metadata?.labels ?? {}) && isDeepStrictEqual(a.metadata?.annotations ?? {}, b.metadata?.annotations ?? {});
  const virtualChanged = !metadataEqual(virtual, vIn) || !isDeepStrictEqual(vSpec, vIn.spec ?? {});
  const hostChanged = !metadataEqual(host, hIn) || !isDeepStrictEqual(hSpec, hIn.spec ?? {});
  const statusChanged = hIn.status !== undefined && !isDeepStrictEqual(hIn.status, vIn.status);
  return {
    ...(virtualChanged ? { virtual } : {}),
    ...(hostChanged ? { host } : {}),
    ...(statusChanged ? { virtualStatus: { ...virtual, status: structuredClone(hIn.status) } } : {}),
  };
}

/**
 * PersistentVolumeClaims to the host (`sync.toHost.persistentVolumeClaims`, on by default). The
 * host's storage binds the host claim; the virtual claim takes its status and volume name, and a
 * fake PersistentVolume of that name appears in the virtual cluster (fake-persistentvolumes).
 */
export function persistentVolumeClaimSyncer(options: PersistentVolumeClaimSyncerOptions = {}): Syncer<PersistentVolumeClaim> {
  let recorder: EventRecorder | undefined;
  const selector = options.storageClassSelector;
  return {
    name: 'persistent-volume-claim',
    resource: CORE['persistentvolumeclaims']!,
    // The virtual claim is recreated when the host binds it to another volume; the host claim stays.
    keepHostOnUidChange: true,
    async wants(ctx, virtual) {
      const className = virtual.spec?.storageClassName;
      if (!selector || !className) return true;
      const reason = await classRefusal(ctx, className, selector);
      if (!reason) return true;
      recorder ??= new EventRecorder(ctx.virtual.unhooked.rest, 'vcluster-syncer');
      await recorder.record({ ...virtual, apiVersion: 'v1', kind: 'PersistentVolumeClaim' }, 'Warning', 'SyncWarning',
        `did not sync persistent volume claim "${virtual.metadata?.name ?? ''}" to host because the storage class "${className}" ${reason}`);
      return false;
    },
    toHost: hostClaim,
    sync: syncClaim,
    // A claim the host once bound and then lost is deleted, not provisioned again empty (vCluster
    // does the same). Before it is bound the host copy may merely not be in the cache yet.
    recreateHost: (virtual, syncedBefore) => !(syncedBefore && virtual.status?.phase === 'Bound'),
  };
}

async function classRefusal(ctx: SyncContext, className: string, selector: LabelSelector): Promise<string | undefined> {
  try {
    const hostClass = await ctx.host.resourceFor(CORE['storageclasses']!).get(className);
    if (hostClass.metadata?.deletionTimestamp) return 'is being deleted in the host';
    if (!labelsMatch(hostClass.metadata?.labels, selector)) return 'in the host does not match the selector under \'sync.fromHost.storageClasses.selector\'';
    return undefined;
  } catch (error) {
    if (isNotFound(error)) return 'does not exist in the host';
    throw error;
  }
}
