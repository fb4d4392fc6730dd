import { CORE, isAlreadyExists, isNotFound, type KubeObject } from '@kubenest/kube';
import { ReconcileLoop, type SyncContext } from '@kubenest/sync';
import type { PersistentVolumeClaim } from '../persistentvolumeclaims/syncer.ts';

export const FAKE_PV_LABEL = 'vcluster.loft.sh/fake-pv';
export const FAKE_PV_PROVISIONER = 'fake-pv-provisioner';

export type PersistentVolume = KubeObject & {
  spec?: Record<string, unknown> & { claimRef?: { kind?: string; apiVersion?: string; namespace?: string; name?: string; uid?: string; resourceVersion?: string } };
  status?: { phase?: string };
};

const VOLUME_NAME_INDEX = 'volumeName';

/**
 * The virtual stand-in for the host volume a virtual claim is bound to, shaped as vCluster makes
 * it. The source is a FlexVolume with driver "fake", as in vCluster: the apiserver only checks
 * that a driver is named, nothing in the virtual cluster ever mounts or attaches it (no kubelet;
 * the attach-detach controller is off), and it points at no path or server of this machine.
 */
export function fakePersistentVolume(name: string, claim: PersistentVolumeClaim): PersistentVolume {
  const spec = claim.spec ?? {};
  return {
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: {
      name,
      labels: { [FAKE_PV_LABEL]: 'true' },
      annotations: {
        'kubernetes.io/createdby': FAKE_PV_PROVISIONER,
        'pv.kubernetes.io/bound-by-controller': 'true',
        'pv.kubernetes.io/provisioned-by': FAKE_PV_PROVISIONER,
      },
    },
    spec: {
      flexVolume: { driver: 'fake' },
      capacity: { ...(spec.resources?.requests ?? {}) },
      accessModes: [...(spec.accessModes ?? [])],
      claimRef: {
        kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata?.namespace, name: claim.metadata?.name,
        uid: claim.metadata?.uid, resourceVersion: claim.metadata?.resourceVersion,
      },
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: spec.storageClassName ?? '',
      ...(spec.volumeMode ? { volumeMode: spec.volumeMode } : {}),
    },
  };
}

/**
 * Fake PersistentVolumes (the default, `sync.toHost.persistentVolumes.enabled: false`): for every
 * virtual claim bound to volume X a virtual PV X exists, Bound, so `kubectl get pv` looks as in a
 * real cluster; it is deleted (finalizers stripped) once no claim names it. Keyed by volume name,
 * with no host object, so it runs on a ReconcileLoop. Only PVs labelled as fake are ever deleted.
 */
export function fakePersistentVolumes(ctx: SyncContext, options: { onError?: (key: string, error: unknown) => void } = {}): ReconcileLoop {
  const pvRef = CORE['persistentvolumes']!;
  const claims = ctx.virtual.newInformer<PersistentVolumeClaim>(CORE['persistentvolumeclaims']!, {
    indexers: { [VOLUME_NAME_INDEX]: (claim) => (claim.spec?.volumeName ? [claim.spec.volumeName] : []) },
  });
  const volumes = ctx.virtual.newInformer<PersistentVolume>(pvRef);
  const client = ctx.virtual.resourceFor<PersistentVolume>(pvRef);
  const loop = new ReconcileLoop('fake-persistentvolumes', async (name) => {
    const users = await claims.byIndex(VOLUME_NAME_INDEX, name);
    const volume = await volumes.get(name);
    if (users.length > 0) {
      if (volume) {
        if (volume.metadata?.labels?.[FAKE_PV_LABEL] === 'true' && volume.status?.phase !== 'Bound' && !volume.metadata.deletionTimestamp) {
          await client.updateStatus({ ...volume, status: { ...volume.status, phase: 'Bound' } });
        }
        return;
      }
      let created: PersistentVolume;
      try {
        created = await client.create(fakePersistentVolume(name, users[0]!));
      } catch (error) {
        if (isAlreadyExists(error)) return; // the cache is behind; the add event brings us back
        throw error;
      }
      await client.updateStatus({ ...created, status: { phase: 'Bound' } });
      return;
    }
    if (!volume || volume.metadata?.labels?.[FAKE_PV_LABEL] !== 'true') return;
    try {
      if (!volume.metadata.deletionTimestamp) await client.deleteExactly(volume);
      // pv-protection keeps a Bound volume; nothing real backs this one, so let it go.
      const current = await client.get(name);
      if (current.metadata?.uid === volume.metadata.uid && (current.metadata?.finalizers as string[] | undefined)?.length) {
        await client.update({ ...current, metadata: { ...current.metadata, finalizers: [] } });
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }, { workers: 2, ...(options.onError ? { onError: options.onError } : {}) });
  loop.watch(claims, (claim) => (claim.spec?.volumeName ? [claim.spec.volumeName] : []));
  loop.watch(volumes, (volume) => [volume.metadata?.name ?? '']);
  return loop;
}
