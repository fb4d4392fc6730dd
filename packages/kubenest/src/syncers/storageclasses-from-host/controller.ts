import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { CONTROLLER_LABEL, ReconcileLoop, type LabelSelector, type Labels, type SyncContext } from '@kubenest/sync';

export type StorageClass = KubeObject & {
  provisioner?: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: string;
  mountOptions?: string[];
  allowVolumeExpansion?: boolean;
  volumeBindingMode?: string;
  allowedTopologies?: unknown[];
};

/** The value of the `controlled-by` annotation that marks a virtual class as this syncer's copy. */
export const HOST_STORAGE_CLASS_SYNCER = 'host-storageclass';

/** The class fields mirrored from the host; the first four cannot change once a class exists. */
const IMMUTABLE_FIELDS = ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode'] as const;
const MIRRORED_FIELDS = [...IMMUTABLE_FIELDS, 'mountOptions', 'allowVolumeExpansion', 'allowedTopologies'] as const;

/** Whether labels satisfy a Kubernetes label selector; an empty or absent selector matches everything. */
export function labelsMatch(labels: Labels | undefined, selector: LabelSelector | undefined): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) if (have[key] !== value) return false;
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    const present = Object.hasOwn(have, key);
    const ok = operator === 'In' ? present && values.includes(have[key]!)
      : operator === 'NotIn' ? !present || !values.includes(have[key]!)
        : operator === 'Exists' ? present
          : operator === 'DoesNotExist' ? !present
            : false; // an unknown operator matches nothing, as the apiserver would refuse it
    if (!ok) return false;
  }
  return true;
}

export function ownedBySyncer(virtual: KubeObject | undefined): boolean {
  return virtual?.metadata?.annotations?.[CONTROLLER_LABEL] === HOST_STORAGE_CLASS_SYNCER;
}

/** The virtual mirror of a host class: same name, the host's labels, annotations and class fields, marked as ours. */
export function virtualStorageClass(host: StorageClass, current?: StorageClass): StorageClass {
  const out: StorageClass = {
    apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
    metadata: {
      ...(current?.metadata ? { ...current.metadata } : {}),
      name: host.metadata?.name ?? '',
      labels: { ...(host.metadata?.labels ?? {}) },
      annotations: { ...(host.metadata?.annotations ?? {}), [CONTROLLER_LABEL]: HOST_STORAGE_CLASS_SYNCER },
    },
  };
  for (const field of MIRRORED_FIELDS) if (host[field] !== undefined) (out as Record<string, unknown>)[field] = structuredClone(host[field]);
  return out;
}

export type StorageClassAction =
  | { kind: 'none' }
  | { kind: 'create'; object: StorageClass }
  | { kind: 'update'; object: StorageClass }
  | { kind: 'replace'; object: StorageClass }
  | { kind: 'delete'; uid: string | undefined };

/**
 * What to do for one class name. A matching host class is mirrored (a virtual class of the same
 * name is taken over, as in vCluster); otherwise only a virtual class this syncer made is deleted,
 * and one a tenant made is left alone. A change of a field the apiserver keeps immutable replaces
 * the virtual class, where vCluster's update would fail forever.
 */
export function decideStorageClass(host: StorageClass | undefined, virtual: StorageClass | undefined, selector: LabelSelector | undefined): StorageClassAction {
  const mirrored = host && !host.metadata?.deletionTimestamp && labelsMatch(host.metadata?.labels, selector);
  if (!mirrored) return virtual && ownedBySyncer(virtual) && !virtual.metadata?.deletionTimestamp ? { kind: 'delete', uid: virtual.metadata?.uid } : { kind: 'none' };
  if (!virtual) return { kind: 'create', object: virtualStorageClass(host) };
  if (virtual.metadata?.deletionTimestamp) return { kind: 'none' };
  const desired = virtualStorageClass(host, virtual);
  if (IMMUTABLE_FIELDS.some((field) => !isDeepStrictEqual(desired[field], virtual[field]))) return { kind: 'replace', object: virtualStorageClass(host) };
  const differs = MIRRORED_FIELDS.some((field) => !isDeepStrictEqual(desired[field], virtual[field])) ||
    !isDeepStrictEqual(desired.metadata?.labels, virtual.metadata?.labels ?? {}) ||
    !isDeepStrictEqual(desired.metadata?.annotations, virtual.metadata?.annotations ?? {});
  return differs ? { kind: 'update', object: desired } : { kind: 'none' };
}

export interface StorageClassesFromHostOptions {
  /** `sync.fromHost.storageClasses.selector`: only host classes with matching labels are mirrored. */
  selector?: LabelSelector | undefined;
  onError?: (key: string, error: unknown) => void;
}

/**
 * StorageClasses from the host (`sync.fromHost.storageClasses`), mirrored into the virtual
 * cluster under the same name so tenants see the classes their claims can use. Cluster-scoped and
 * keyed by class name, so it runs on a ReconcileLoop rather than the namespaced SyncController.
 */
export function storageClassesFromHost(ctx: SyncContext, options: StorageClassesFromHostOptions = {}): ReconcileLoop {
  const ref = CORE['storageclasses']!;
  const hostClasses = ctx.host.newInformer<StorageClass>(ref);
  const virtualClasses = ctx.virtual.newInformer<StorageClass>(ref);
  const classes = ctx.virtual.resourceFor<StorageClass>(ref);
  const loop = new ReconcileLoop('storageclasses-from-host', async (name) => {
    const current = await virtualClasses.get(name);
    const action = decideStorageClass(await hostClasses.get(name), current, options.selector);
    switch (action.kind) {
      case 'none':
        return;
      case 'create':
        await classes.create(action.object);
        return;
      case 'update':
        await classes.update(action.object);
        return;
      case 'replace':
        if (current) await classes.deleteExactly(current);
        await classes.create(action.object);
        return;
      case 'delete':
        await classes.deleteExactly({ metadata: { name, uid: action.uid } });
    }
  }, { workers: 2, ...(options.onError ? { onError: options.onError } : {}) });
  const byName = (object: KubeObject): string[] => [object.metadata?.name ?? ''];
  loop.watch(hostClasses, byName);
  loop.watch(virtualClasses, byName);
  return loop;
}
