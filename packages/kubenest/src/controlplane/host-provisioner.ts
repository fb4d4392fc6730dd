import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { CORE, Informer, KubeClient, isAlreadyExists, isNotFound, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { ReconcileLoop } from '@kubenest/sync';

export const LOCAL_PROVISIONER = 'kubenest.dev/local';
export const DEFAULT_STORAGE_CLASS = 'standard';
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';

type Claim = KubeObject & {
  spec?: { storageClassName?: string; volumeName?: string; accessModes?: string[]; volumeMode?: string; resources?: { requests?: Record<string, string> } };
  status?: { phase?: string; capacity?: Record<string, string> };
};
type Volume = KubeObject & {
  spec?: Record<string, unknown> & { capacity?: Record<string, string>; persistentVolumeReclaimPolicy?: string; hostPath?: { path?: string }; claimRef?: { kind?: string; apiVersion?: string; namespace?: string; name?: string; uid?: string } };
  status?: { phase?: string };
};
type Class = KubeObject & { provisioner?: string; reclaimPolicy?: string; volumeBindingMode?: string; mountOptions?: string[] };

const UNITS: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A resource quantity ("1Gi", "500M", "1e9") as a number of bytes; NaN if it is not one. */
export function quantityValue(quantity: string | undefined): number {
  const match = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?)$/.exec(quantity?.trim() ?? '');
  if (!match) return Number.NaN;
  const base = Number(match[1]) * (match[2] ? 10 ** Number(match[2].slice(1)) : 1);
  return base * UNITS[match[3] ?? '']!;
}

/** The class the local host cluster starts with: the default, provisioned by this process, resizable. */
export function defaultStorageClass(): Class & { allowVolumeExpansion: boolean } {
  return {
    apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
    metadata: { name: DEFAULT_STORAGE_CLASS, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    provisioner: LOCAL_PROVISIONER, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate', allowVolumeExpansion: true,
  };
}

/** The volume for a pending claim: named like external provisioners name theirs, pre-bound to the claim. */
export function volumeFor(claim: Claim, storageClass: Class, volumesDir: string): Volume {
  const name = `pvc-${claim.metadata?.uid ?? ''}`;
  return {
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: { name, annotations: { [PROVISIONED_BY]: LOCAL_PROVISIONER } },
    spec: {
      capacity: { storage: claim.spec?.resources?.requests?.['storage'] ?? '0' },
      accessModes: [...(claim.spec?.accessModes ?? ['ReadWriteOnce'])],
      persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
      storageClassName: storageClass.metadata?.name,
      ...(claim.spec?.volumeMode ? { volumeMode: claim.spec.volumeMode } : {}),
      ...(storageClass.mountOptions ? { mountOptions: storageClass.mountOptions } : {}),
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata?.namespace, name: claim.metadata?.name, uid: claim.metadata?.uid },
      // Nothing mounts it (kwok runs the pods); a directory under the data dir keeps it honest and removable.
      hostPath: { path: join(volumesDir, name) },
    },
  };
}

export interface HostProvisioner {
  stop(): Promise<void>;
}

/**
 * Dynamic provisioning for the local host cluster, which has no storage driver: the default
 * StorageClass `standard` (created when missing), a PersistentVolume for every pending claim of a
 * class whose provisioner is `kubenest.dev/local` (the host's own volume controller then binds
 * them), expansion by raising the volume's capacity, and deletion of volumes whose claim is gone
 * when their reclaim policy says Delete. See docs/adr/0009-local-volume-provisioner.md.
 */
export async function startHostProvisioner(options: { kubeconfig: string; dataDir: string; progress: (line: string) => void }): Promise<HostProvisioner> {
  const say = (line: string): void => options.progress(`volume provisioner: ${line}`);
  const volumesDir = resolve(options.dataDir, 'volumes');
  const client = new KubeClient(loadKubeconfig(options.kubeconfig));
  const classRef = CORE['storageclasses']!;
  const pvRef = CORE['persistentvolumes']!;
  const pvcRef = CORE['persistentvolumeclaims']!;
  try {
    await client.resourceFor(classRef).create(defaultStorageClass());
    say(`created the default StorageClass ${DEFAULT_STORAGE_CLASS}`);
  } catch (error) {
    if (!isAlreadyExists(error)) {
      await client.close();
      throw error;
    }
  }
  const classes = new Informer<Class>(client.resourceFor<Class>(classRef));
  const claims = new Informer<Claim>(client.resourceFor<Claim>(pvcRef));
  const volumes = new Informer<Volume>(client.resourceFor<Volume>(pvRef));
  const ours = (className: string | undefined): Class | undefined => {
    const found = className ? classes.store.get(className) : undefined;
    return found?.provisioner === LOCAL_PROVISIONER ? found : undefined;
  };

  const reconcileClaim = async (key: string): Promise<void> => {
    const claim = claims.store.get(key);
    if (!claim || claim.metadata?.deletionTimestamp) return;
    const storageClass = ours(claim.spec?.storageClassName);
    if (!storageClass) return;
    const volumeName = claim.spec?.volumeName;
    if (!volumeName) {
      if (storageClass.volumeBindingMode === 'WaitForFirstConsumer' && !claim.metadata?.annotations?.[SELECTED_NODE]) return;
      const volume = volumeFor(claim, storageClass, volumesDir);
      if (volumes.store.get(volume.metadata!.name!)) return;
      mkdirSync(volume.spec!.hostPath!.path!, { recursive: true });
      try {
        await client.resourceFor<Volume>(pvRef).create(volume);
        say(`provisioned ${volume.metadata!.name!} for claim ${key}`);
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    // Expansion: a bound claim asking for more than its volume has gets it.
    const volume = volumes.store.get(volumeName);
    if (volume?.metadata?.annotations?.[PROVISIONED_BY] !== LOCAL_PROVISIONER) return;
    const requested = claim.spec?.resources?.requests?.['storage'];
    const capacity = volume.spec?.capacity?.['storage'];
    if (requested && quantityValue(requested) > quantityValue(capacity)) {
      await client.resourceFor<Volume>(pvRef).update({ ...volume, spec: { ...volume.spec, capacity: { ...volume.spec?.capacity, storage: requested } } });
      say(`expanded ${volumeName} to ${requested} for claim ${key}`);
      return;
    }
    // The volume event after an expansion brings us here: the claim then reports the new size.
    if (claim.status?.phase === 'Bound' && capacity && claim.status.capacity?.['storage'] !== capacity) {
      await client.resourceFor<Claim>(pvcRef).updateStatus({ ...claim, status: { ...claim.status, capacity: { ...claim.status.capacity, storage: capacity } } });
    }
  };

  const reconcileVolume = async (name: string): Promise<void> => {
    const volume = volumes.store.get(name);
    if (!volume || volume.metadata?.deletionTimestamp || volume.metadata?.annotations?.[PROVISIONED_BY] !== LOCAL_PROVISIONER) return;
    if ((volume.spec?.persistentVolumeReclaimPolicy ?? 'Delete') !== 'Delete') return;
    const ref = volume.spec?.claimRef;
    const claim = ref ? claims.store.get(`${ref.namespace ?? ''}/${ref.name ?? ''}`) : undefined;
    if (volume.status?.phase !== 'Released' && claim && claim.metadata?.uid === ref?.uid) return;
    try {
      await client.resourceFor(pvRef).delete(name, { preconditions: { uid: volume.metadata?.uid ?? '' } });
      say(`deleted ${name}: its claim ${ref?.namespace ?? ''}/${ref?.name ?? ''} is gone`);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const path = volume.spec?.hostPath?.path;
    if (path && resolve(path).startsWith(volumesDir + sep)) rmSync(path, { recursive: true, force: true });
  };

  const loop = new ReconcileLoop('host-provisioner', async (key) => {
    const [kind, rest = ''] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (kind === 'claim') await reconcileClaim(rest);
    else await reconcileVolume(rest);
  }, { workers: 2, onError: (key, error) => say(`${key}: ${(error as Error).message}`) });
  loop.watch(claims, (claim) => [`claim:${claim.metadata?.namespace ?? ''}/${claim.metadata?.name ?? ''}`, ...(claim.spec?.volumeName ? [`volume:${claim.spec.volumeName}`] : [])]);
  loop.watch(volumes, (volume) => {
    const ref = volume.spec?.claimRef;
    return [`volume:${volume.metadata?.name ?? ''}`, ...(ref?.name ? [`claim:${ref.namespace ?? ''}/${ref.name}`] : [])];
  });
  // A class appearing later (or changing provisioner) may make pending claims ours.
  loop.watch(classes, () => claims.store.keys().map((key) => `claim:${key}`));
  try {
    await loop.start();
  } catch (error) {
    await loop.stop();
    await client.close();
    throw error;
  }
  say(`running (provisioner ${LOCAL_PROVISIONER}, volumes under ${volumesDir})`);
  return {
    async stop() {
      await loop.stop();
      await client.close();
    },
  };
}
