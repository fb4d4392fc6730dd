import { isDeepStrictEqual } from 'node:util';
import {
  CORE, WorkQueue, isAlreadyExists, isNotFound, objectKey, type KubeObject, type ResourceRef,
} from '@kubenest/kube';
import type { SyncContext } from './controller.ts';
import type { HookedInformer } from './hooked-client.ts';
import { isExcluded } from './exclusion.ts';
import { runWorker } from './reconcile-loop.ts';

/**
 * Virtual objects a from-host syncer owns carry this label, valued with the syncer's name. It
 * tells the to-host syncers to leave them alone (they came from the host, they must not go back),
 * and lets the owning syncer find its copies again after a restart. A kubenest key: vCluster
 * keeps this bookkeeping in its mapping store instead.
 */
export const IMPORTED_BY_LABEL = 'kubenest.dev/imported-by';
/** On an owned virtual copy: `namespace/name` of the host object it was made from. */
export const IMPORTED_FROM_ANNOTATION = 'kubenest.dev/imported-from';

/** Whether a virtual object was imported from the host by a from-host syncer. */
export function isImported(virtual: KubeObject): boolean {
  return Boolean(virtual.metadata?.labels?.[IMPORTED_BY_LABEL]);
}

/** One kind copied from the host into the virtual cluster; nothing is ever written to the host. */
export interface FromHostSyncer<H extends KubeObject = KubeObject, V extends KubeObject = H> {
  /** The name the `controlled-by` annotation uses, and the value of IMPORTED_BY_LABEL. */
  readonly name: string;
  readonly hostResource: ResourceRef;
  readonly virtualResource: ResourceRef;
  /** The host namespaces watched, one informer each. */
  readonly hostNamespaces: readonly string[];
  readonly hostLabelSelector?: string;
  /**
   * The virtual object the host object should have, or undefined for none (not wanted, or what
   * it belongs to is not in the virtual cluster). Only the spelled-out fields are kept: on update,
   * everything but the server's metadata is replaced.
   */
  toVirtual(ctx: SyncContext, host: H): V | undefined | Promise<V | undefined>;
  /**
   * Owned copies (ConfigMaps, Secrets) are labelled and watched: a virtual edit is reverted, a
   * virtual delete re-created, and the copy goes when its host object goes or stops mapping.
   * Unowned ones (Events) are created and updated only, and left to expire on their own.
   */
  readonly ownsCopies: boolean;
  /**
   * A missing virtual namespace is created (`create`; a terminating one is waited for), or the
   * object is skipped until the namespace exists and is not terminating (`existing`).
   */
  readonly namespaces: 'create' | 'existing';
}

export interface FromHostControllerStats {
  reconciles: number;
  created: number;
  updated: number;
  deleted: number;
  errors: number;
}

/** Server-owned metadata kept from the existing virtual object when it is replaced. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'finalizers', 'ownerReferences'] as const;
const HOST_KEY_INDEX = 'importedFrom';
const NAMESPACE_RETRY_MS = 5_000;

/**
 * Runs one from-host syncer: informers on the host kind (in the given namespaces) feed one work
 * queue keyed by the host `namespace/name`; each reconcile asks the syncer for the desired
 * virtual object and creates, replaces or deletes the virtual side to match, through the
 * context's hooked virtual client. The generic SyncController is keyed by virtual name, which a host object
 * only has once it is decided where it goes; hence this second, smaller loop.
 */
export class FromHostController<H extends KubeObject = KubeObject, V extends KubeObject = H> {
  readonly stats: FromHostControllerStats = { reconciles: 0, created: 0, updated: 0, deleted: 0, errors: 0 };
  private readonly ctx: SyncContext;
  private readonly syncer: FromHostSyncer<H, V>;
  private readonly workers: number;
  private readonly queue = new WorkQueue<string>();
  private readonly hostInformers = new Map<string, HookedInformer<H>>();
  private readonly virtualInformer: HookedInformer<V> | undefined;
  private readonly namespaceInformer: HookedInformer;
  private readonly onError: (key: string, error: unknown) => void;
  private running: Promise<void>[] = [];

  /** The syncer's name (metrics, logs). */
  get name(): string {
    return this.syncer.name;
  }

  constructor(ctx: SyncContext, syncer: FromHostSyncer<H, V>, options: { workers?: number; onError?: (key: string, error: unknown) => void } = {}) {
    this.ctx = ctx;
    this.syncer = syncer;
    this.workers = options.workers ?? 4;
    this.onError = options.onError ?? (() => {});
    const enqueue = (object: KubeObject): void => this.queue.add(objectKey(object));
    for (const namespace of new Set(syncer.hostNamespaces)) {
      const informer = ctx.host.newInformer<H>(syncer.hostResource, {
        namespace, ...(syncer.hostLabelSelector ? { labelSelector: syncer.hostLabelSelector } : {}),
      });
      informer.addHandlers({ onAdd: enqueue, onUpdate: (_old, current) => enqueue(current), onDelete: enqueue });
      this.hostInformers.set(namespace, informer);
    }
    if (syncer.ownsCopies) {
      this.virtualInformer = ctx.virtual.newInformer<V>(syncer.virtualResource, {
        labelSelector: `${IMPORTED_BY_LABEL}=${syncer.name}`,
        indexers: { [HOST_KEY_INDEX]: (object) => { const key = importedFrom(object); return key ? [key] : []; } },
      });
      const enqueueOrigin = (object: V): void => {
        const key = importedFrom(object);
        if (key) this.queue.add(key);
      };
      this.virtualInformer.addHandlers({ onAdd: enqueueOrigin, onUpdate: (_old, current) => enqueueOrigin(current), onDelete: enqueueOrigin });
    }
    this.namespaceInformer = ctx.virtual.newInformer(CORE['namespaces']!);
  }

  /** Starts the informers, waits for their caches, then runs the workers until `stop`. */
  async start(signal?: AbortSignal): Promise<void> {
    const informers = this.informers();
    for (const informer of informers) informer.start(signal);
    await Promise.all(informers.map((informer) => informer.waitForSync(signal)));
    this.running = Array.from({ length: this.workers }, () => runWorker(this.queue, (key) => this.reconcile(key), {
      onError: (key, error) => { this.stats.errors += 1; this.onError(key, error); },
    }));
  }

  /** Resolves when nothing is queued or in progress (for tests). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    await Promise.all(this.informers().map((informer) => informer.stop()));
  }

  private informers(): Pick<HookedInformer, 'start' | 'waitForSync' | 'stop'>[] {
    return [...this.hostInformers.values(), this.namespaceInformer, ...(this.virtualInformer ? [this.virtualInformer] : [])];
  }


  private async reconcile(hostKey: string): Promise<void> {
    this.stats.reconciles += 1;
    const { virtualResource } = this.syncer;
    const namespace = hostKey.slice(0, hostKey.indexOf('/'));
    const host = await this.hostInformers.get(namespace)?.get(hostKey);
    const wanted = host && !host.metadata?.deletionTimestamp && !isExcluded(host, this.syncer.name)
      ? await this.syncer.toVirtual(this.ctx, host)
      : undefined;
    const desired = wanted && this.syncer.ownsCopies ? this.markOwned(wanted, hostKey) : wanted;
    const target = desired ? objectKey(desired) : undefined;

    // Owned copies of this host object that are not (or no longer) where it maps to.
    for (const copy of await this.copiesOf(hostKey)) {
      if (objectKey(copy) !== target) await this.deleteVirtual(copy);
    }
    if (!desired) return;

    const targetNamespace = desired.metadata?.namespace ?? '';
    if (!(await this.namespaceReady(targetNamespace))) {
      if (this.syncer.namespaces === 'create') this.queue.addAfter(hostKey, NAMESPACE_RETRY_MS);
      return;
    }
    const existing = this.syncer.ownsCopies
      ? (await this.copiesOf(hostKey)).find((copy) => objectKey(copy) === target)
      : await this.getVirtual(targetNamespace, desired.metadata?.name ?? '');
    if (!existing) {
      try {
        await this.ctx.virtual.resourceFor<V>(virtualResource).create(desired);
        this.stats.created += 1;
        return;
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
      // Someone else's object, or one our cache has not seen yet: it is replaced below.
      const current = await this.getVirtual(targetNamespace, desired.metadata?.name ?? '');
      if (current) await this.replace(current, desired);
      else this.queue.addAfter(hostKey, 1_000);
      return;
    }
    await this.replace(existing, desired);
  }

  /** Writes `desired` over `existing` unless they already agree; server-owned metadata is kept. */
  private async replace(existing: V, desired: V): Promise<void> {
    if (sameContent(existing, desired)) return;
    // An immutable ConfigMap or Secret keeps its data: new data means a new object.
    if (existing['immutable'] === true && !sameContent(existing, { ...desired, metadata: existing.metadata })) {
      await this.deleteVirtual(existing);
      await this.ctx.virtual.resourceFor<V>(this.syncer.virtualResource).create(desired);
      this.stats.created += 1;
      return;
    }
    const metadata: Record<string, unknown> = { ...desired.metadata };
    for (const field of SERVER_METADATA) {
      const value = existing.metadata?.[field];
      if (value !== undefined) metadata[field] = value;
    }
    await this.ctx.virtual.resourceFor<V>(this.syncer.virtualResource).update({ ...desired, metadata });
    this.stats.updated += 1;
  }

  private markOwned(virtual: V, hostKey: string): V {
    const metadata = virtual.metadata ?? {};
    return {
      ...virtual,
      metadata: {
        ...metadata,
        labels: { ...metadata.labels, [IMPORTED_BY_LABEL]: this.syncer.name },
        annotations: { ...metadata.annotations, [IMPORTED_FROM_ANNOTATION]: hostKey },
      },
    };
  }

  private async copiesOf(hostKey: string): Promise<V[]> {
    return (await this.virtualInformer?.byIndex(HOST_KEY_INDEX, hostKey)) ?? [];
  }

  /** Creates the namespace when that is the policy; false while it is missing or terminating. */
  private async namespaceReady(name: string): Promise<boolean> {
    const namespaces = this.ctx.virtual.resourceFor(CORE['namespaces']!);
    let namespace: KubeObject | undefined = await this.namespaceInformer.get(name);
    // The cache may lag behind a namespace created a moment ago.
    if (!namespace) namespace = await namespaces.get(name).catch((error: unknown) => { if (isNotFound(error)) return undefined; throw error; });
    if (namespace) return !namespace.metadata?.deletionTimestamp && (namespace['status'] as { phase?: string } | undefined)?.phase !== 'Terminating';
    if (this.syncer.namespaces === 'existing') return false;
    try {
      await namespaces.create({ metadata: { name } });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    return true;
  }

  private async getVirtual(namespace: string, name: string): Promise<V | undefined> {
    try {
      return await this.ctx.virtual.resourceFor<V>(this.syncer.virtualResource).get(name, { namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async deleteVirtual(copy: V): Promise<void> {
    try {
      await this.ctx.virtual.resourceFor(this.syncer.virtualResource).delete(copy, copy.metadata?.uid ? { preconditions: { uid: copy.metadata.uid } } : {});
      this.stats.deleted += 1;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

function importedFrom(object: KubeObject): string | undefined {
  const key = object.metadata?.annotations?.[IMPORTED_FROM_ANNOTATION];
  return key?.includes('/') ? key : undefined;
}

/**
 * Whether the virtual object already has the desired content: labels, annotations, and every
 * field but metadata and the type fields. A field the API server leaves out when empty (null,
 * {}) counts as absent.
 */
export function sameContent(existing: KubeObject, desired: KubeObject): boolean {
  const empty = (value: unknown): boolean => value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0);
  const same = (a: unknown, b: unknown): boolean => (empty(a) && empty(b)) || isDeepStrictEqual(a, b);
  if (!same(existing.metadata?.labels, desired.metadata?.labels)) return false;
  if (!same(existing.metadata?.annotations, desired.metadata?.annotations)) return false;
  const keys = new Set([...Object.keys(existing), ...Object.keys(desired)]);
  for (const key of ['metadata', 'apiVersion', 'kind']) keys.delete(key);
  for (const key of keys) if (!same(existing[key], desired[key])) return false;
  return true;
}
