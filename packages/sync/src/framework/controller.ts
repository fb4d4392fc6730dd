import { WorkQueue, isAlreadyExists, isNotFound, objectKey, type KubeObject, type ResourceRef } from '@kubenest/kube';
import type { MetadataTranslator} from '../translate/metadata.ts';
import { MARKER_LABEL, NAMESPACE_ANNOTATION, NAME_ANNOTATION, UID_ANNOTATION } from '../translate/metadata.ts';
import type { NameTranslator } from '../translate/names.ts';
import { isExcluded } from './exclusion.ts';
import { runWorker } from './reconcile-loop.ts';
import type { HookedClient, HookedInformer } from './hooked-client.ts';

/**
 * What a syncer works with. Both clients run the plugins' hooks on every read and write; going
 * around them takes `.unhooked`, a visible step (ADR 21 lists where kubenest does).
 */
export interface SyncContext {
  virtual: HookedClient;
  host: HookedClient;
  vclusterName: string;
  hostNamespace: string;
  names: NameTranslator;
  meta: MetadataTranslator;
}

export interface SyncEvent<T> {
  virtual: T;
  host: T;
  /** Both sides as they were after the last successful sync of this key (undefined at first sight). */
  virtualOld: T | undefined;
  hostOld: T | undefined;
}

/** One synced kind. Built-in syncers and plugin syncers implement the same interface. */
export interface Syncer<T extends KubeObject = KubeObject> {
  /** The name the `controlled-by` annotation uses to claim objects for this syncer. */
  readonly name: string;
  /**
   * The kind, the same on both sides. A cluster-scoped kind (`namespaced: false`) is named on the
   * host by `hostNameCluster` and marked with the cluster marker.
   */
  readonly resource: ResourceRef;
  /** Runs once before the controller's informers start: caches of other kinds the syncer reads. */
  start?(ctx: SyncContext, signal: AbortSignal | undefined, enqueue: (virtualKey: string) => void): Promise<void>;
  /** Runs when the controller stops: undo what `start` registered elsewhere. */
  stop?(): void | Promise<void>;
  /** Whether this virtual object belongs on the host at all (default: yes). */
  wants?(ctx: SyncContext, virtual: T): boolean | Promise<boolean>;
  /** The host object for a virtual object that has none yet. */
  toHost(ctx: SyncContext, virtual: T): T | Promise<T>;
  /**
   * Brings the two sides together; returns only the objects that must be written. `recreateVirtual`
   * replaces the virtual object (delete, then create) where a field cannot change in place, such
   * as a Service's ClusterIP.
   */
  sync(ctx: SyncContext, event: SyncEvent<T>): SyncResult<T> | Promise<SyncResult<T>>;
  /**
   * Whether a virtual object whose host copy is missing gets one (default: yes). Pods say no
   * once they have run: a pod is never started twice, its virtual object is deleted instead.
   */
  recreateHost?(virtual: T, syncedBefore: boolean): boolean;
  /**
   * Kinds with graceful deletion (pods): a terminating virtual object deletes the host copy with
   * its grace period and is itself removed (grace 0) only once the host copy is gone.
   */
  readonly gracefulDelete?: boolean;
  /**
   * Keep the host copy when the virtual object's uid changes (default: delete and recreate it).
   * For kinds the syncer itself recreates on the virtual side.
   */
  readonly keepHostOnUidChange?: boolean;
  /**
   * A host copy made ahead of its virtual object (the front door creates a Service on the host
   * first, then the virtual one): the milliseconds it may still wait for its virtual object before
   * it counts as left over and is deleted. Nothing, or 0 or less: delete it now.
   */
  awaitsVirtual?(host: T): number | undefined;
  /** Reconcile every virtual object this often, for decisions that depend on other objects. */
  readonly resyncMs?: number;
  /** Other virtual kinds whose changes requeue the object of the same namespace and name. */
  readonly requeueOn?: ResourceRef[];
}

export interface SyncResult<T> {
  virtual?: T;
  host?: T;
  recreateVirtual?: T;
  /**
   * Updates of the virtual object applied in order, each on top of the one before (its
   * resourceVersion), for a field that changes in place only through an intermediate state.
   * Unlike `recreateVirtual` the object keeps its uid, and so what refers to it.
   */
  virtualSteps?: T[];
  /** The virtual object's status, written through the status subresource after `virtual`. */
  virtualStatus?: T;
  /** Delete the virtual object (the host copy went away or is going). */
  deleteVirtual?: { gracePeriodSeconds?: number };
  /** Check this key again after so many milliseconds (waiting on something not watched). */
  requeueAfterMs?: number;
}

export interface SyncControllerStats {
  reconciles: number;
  created: number;
  updated: number;
  deleted: number;
  conflicts: number;
  errors: number;
}

/**
 * Runs one syncer: informers on both sides feed one work queue keyed by the virtual
 * namespace/name; each reconcile reads both sides from the caches and decides between "virtual
 * only" (create on the host), "both" (sync) and "host only" (the virtual object is gone: delete
 * the host copy). Writes use optimistic concurrency; a conflict is retried after a second.
 */
export class SyncController<T extends KubeObject = KubeObject> {
  readonly stats: SyncControllerStats = { reconciles: 0, created: 0, updated: 0, deleted: 0, conflicts: 0, errors: 0 };
  private readonly ctx: SyncContext;
  private readonly syncer: Syncer<T>;
  private readonly workers: number;
  private readonly queue = new WorkQueue<string>();
  private readonly virtualInformer: HookedInformer<T>;
  private readonly hostInformer: HookedInformer<T>;
  /** What each side looked like after the last successful sync, per virtual key. */
  private readonly lastSynced = new Map<string, { virtual: T; host: T }>();
  private running: Promise<void>[] = [];
  /** Shared informers of other kinds (requeueOn): they outlive this controller, its handlers do not. */
  private readonly related: HookedInformer[] = [];
  private readonly removeRelatedHandlers: (() => void)[] = [];
  /**
   * Virtual objects this controller just recreated: until the cache shows the new uid, its
   * view (the old object, or none) is stale and must not be acted on, or the host copy would
   * be deleted in between.
   */
  private readonly recreated = new Map<string, { uid: string; until: number }>();
  private readonly onError: (key: string, error: unknown) => void;

  /** The syncer's name (metrics, logs). */
  get name(): string {
    return this.syncer.name;
  }

  constructor(ctx: SyncContext, syncer: Syncer<T>, options: { workers?: number; onError?: (key: string, error: unknown) => void } = {}) {
    this.ctx = ctx;
    this.syncer = syncer;
    // vCluster runs 10 concurrent reconciles per syncer; 32 were no faster in bench/sync (the host apiserver is the limit).
    this.workers = options.workers ?? 10;
    this.onError = options.onError ?? (() => {});
    this.virtualInformer = ctx.virtual.newInformer<T>(syncer.resource, syncer.resyncMs ? { resyncMs: syncer.resyncMs } : {});
    this.hostInformer = ctx.host.newInformer<T>(syncer.resource, {
      ...(syncer.resource.namespaced ? { namespace: ctx.hostNamespace } : {}), labelSelector: `${MARKER_LABEL}=${this.hostMarker()}`,
    });
    const enqueueVirtual = (object: KubeObject): void => this.queue.add(objectKey(object));
    const enqueueHost = (object: T): void => {
      const key = this.virtualKeyOf(object);
      if (key) this.queue.add(key);
    };
    this.virtualInformer.addHandlers({ onAdd: enqueueVirtual, onUpdate: (_old, current) => enqueueVirtual(current), onDelete: enqueueVirtual });
    for (const related of syncer.requeueOn ?? []) {
      const informer = ctx.virtual.informer(related);
      this.removeRelatedHandlers.push(informer.addHandlers({ onAdd: enqueueVirtual, onUpdate: (_old, current) => enqueueVirtual(current), onDelete: enqueueVirtual }));
      this.related.push(informer);
    }
    this.hostInformer.addHandlers({ onAdd: enqueueHost, onUpdate: (_old, current) => enqueueHost(current), onDelete: enqueueHost });
  }

  /** Starts both informers, waits for their caches, then runs the workers until `stop`. */
  async start(signal?: AbortSignal): Promise<void> {
    await this.syncer.start?.(this.ctx, signal, (key) => this.queue.add(key));
    this.virtualInformer.start(signal);
    this.hostInformer.start(signal);
    for (const informer of this.related) informer.start();
    await Promise.all([this.virtualInformer.waitForSync(signal), this.hostInformer.waitForSync(signal)]);
    this.running = Array.from({ length: this.workers }, () => runWorker(this.queue, (key) => this.reconcile(key), {
      onConflict: () => { this.stats.conflicts += 1; },
      onError: (key, error) => { this.stats.errors += 1; this.onError(key, error); },
    }));
  }

  /** Looks at one virtual key again, for changes this controller does not watch (references). */
  enqueue(virtualKey: string): void {
    this.queue.add(virtualKey);
  }

  /** Resolves when nothing is queued or in progress (for tests and benchmarks). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    await Promise.all([this.virtualInformer.stop(), this.hostInformer.stop()]);
    for (const remove of this.removeRelatedHandlers) remove();
    await this.syncer.stop?.();
  }


  /** The managed-by value of our host objects; cluster-scoped ones also name the host namespace, as in vCluster. */
  private hostMarker(): string {
    return this.syncer.resource.namespaced ? this.ctx.vclusterName : this.ctx.names.clusterMarker();
  }

  private hostKey(virtualKey: string): { namespace: string; name: string; key: string } {
    if (!this.syncer.resource.namespaced) {
      const hostName = this.ctx.names.hostNameCluster(virtualKey);
      return { namespace: '', name: hostName, key: hostName };
    }
    const [namespace = '', name = ''] = virtualKey.split('/');
    const hostName = this.ctx.names.hostName(name, namespace);
    return { namespace: this.ctx.hostNamespace, name: hostName, key: `${this.ctx.hostNamespace}/${hostName}` };
  }

  /** The virtual key a host object belongs to, from its markers; never by parsing its name. */
  private virtualKeyOf(host: T): string | undefined {
    const annotations = host.metadata?.annotations ?? {};
    const name = annotations[NAME_ANNOTATION];
    if (!this.syncer.resource.namespaced) return name || undefined;
    const namespace = annotations[NAMESPACE_ANNOTATION];
    if (!name || !namespace) return undefined;
    return `${namespace}/${name}`;
  }

  /** Ours: carries our marker, and its name is the one its annotations translate to. */
  private isManaged(host: T): boolean {
    const key = this.virtualKeyOf(host);
    return host.metadata?.labels?.[MARKER_LABEL] === this.hostMarker() && key !== undefined && this.hostKey(key).name === host.metadata?.name;
  }

  private async reconcile(key: string): Promise<void> {
    this.stats.reconciles += 1;
    const { resource, name } = this.syncer;
    const virtual = await this.virtualInformer.get(key);
    const expected = this.recreated.get(key);
    if (expected) {
      if (virtual?.metadata?.uid !== expected.uid && Date.now() < expected.until) {
        this.queue.addAfter(key, 100);
        return;
      }
      this.recreated.delete(key);
    }
    const target = this.hostKey(key);
    const host = await this.hostInformer.get(target.key);
    if ((virtual && isExcluded(virtual, name)) || (host && (isExcluded(host, name) || !this.isManaged(host)))) return;

    if (virtual?.metadata?.deletionTimestamp && this.syncer.gracefulDelete) {
      this.lastSynced.delete(key);
      if (host) {
        if (!host.metadata?.deletionTimestamp) await this.deleteHost(host, virtual.metadata.deletionGracePeriodSeconds as number | undefined);
      } else {
        await this.deleteVirtual(virtual, 0);
      }
      return;
    }
    if (!virtual && host) {
      const wait = this.syncer.awaitsVirtual?.(host) ?? 0;
      if (wait > 0) {
        this.queue.addAfter(key, Math.min(wait, 10_000));
        return;
      }
    }
    if (!virtual || virtual.metadata?.deletionTimestamp || (this.syncer.wants && !(await this.syncer.wants(this.ctx, virtual)))) {
      this.lastSynced.delete(key);
      if (host) await this.deleteHost(host);
      return;
    }
    if (!host) {
      if (this.syncer.recreateHost && !this.syncer.recreateHost(virtual, this.lastSynced.has(key))) {
        this.lastSynced.delete(key);
        await this.deleteVirtual(virtual, 0);
        return;
      }
      let created: T;
      try {
        created = await this.ctx.host.resourceFor<T>(resource).create(await this.syncer.toHost(this.ctx, virtual));
      } catch (error) {
        // Made by someone else a moment ago (the front door, for a Service): ours, so the host
        // informer brings it and this key back. Anything else there is an error to report.
        if (!isAlreadyExists(error)) throw error;
        const existing = await this.ctx.host.unhooked.resourceFor<T>(resource).get(target.name, target.namespace ? { namespace: target.namespace } : {});
        if (!this.isManaged(existing)) throw error;
        this.queue.addAfter(key, 1_000);
        return;
      }
      this.stats.created += 1;
      this.lastSynced.set(key, { virtual, host: created });
      return;
    }
    // The same name, but a different object (deleted and created again): start over.
    const recordedUid = host.metadata?.annotations?.[UID_ANNOTATION];
    if (recordedUid && recordedUid !== virtual.metadata?.uid && !this.syncer.keepHostOnUidChange) {
      this.lastSynced.delete(key);
      await this.deleteHost(host);
      this.queue.addAfter(key, 1_000);
      return;
    }
    const last = this.lastSynced.get(key);
    const changes = await this.syncer.sync(this.ctx, { virtual, host, virtualOld: last?.virtual, hostOld: last?.host });
    if (changes.deleteVirtual) {
      this.lastSynced.delete(key);
      await this.deleteVirtual(virtual, changes.deleteVirtual.gracePeriodSeconds);
      return;
    }
    if (changes.recreateVirtual) {
      await this.ctx.virtual.resourceFor<T>(resource).deleteExactly(virtual);
      const fresh = structuredClone(changes.recreateVirtual);
      for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation'] as const) delete fresh.metadata?.[field];
      const created = await this.ctx.virtual.resourceFor<T>(resource).create(fresh);
      this.recreated.set(key, { uid: created.metadata?.uid ?? '', until: Date.now() + 10_000 });
      this.stats.updated += 1;
      this.lastSynced.delete(key); // the next reconcile starts from the new object
      return;
    }
    let nextVirtual = virtual;
    let nextHost = host;
    for (const step of changes.virtualSteps ?? []) {
      nextVirtual = await this.ctx.virtual.resourceFor<T>(resource).update({ ...step, metadata: { ...step.metadata, resourceVersion: nextVirtual.metadata?.resourceVersion } });
      this.stats.updated += 1;
    }
    if (changes.virtual) {
      nextVirtual = await this.ctx.virtual.resourceFor<T>(resource).update(changes.virtual);
      this.stats.updated += 1;
    }
    if (changes.host) {
      nextHost = await this.ctx.host.resourceFor<T>(resource).update(changes.host);
      this.stats.updated += 1;
    }
    if (changes.virtualStatus) {
      const status = { ...changes.virtualStatus, metadata: { ...changes.virtualStatus.metadata, resourceVersion: nextVirtual.metadata?.resourceVersion } };
      nextVirtual = await this.ctx.virtual.resourceFor<T>(resource).updateStatus(status);
      this.stats.updated += 1;
    }
    this.lastSynced.set(key, { virtual: nextVirtual, host: nextHost });
    if (changes.requeueAfterMs !== undefined) this.queue.addAfter(key, changes.requeueAfterMs);
  }

  private async deleteVirtual(virtual: T, gracePeriodSeconds?: number): Promise<void> {
    try {
      await this.ctx.virtual.resourceFor(this.syncer.resource).delete(virtual, deleteOptions(virtual, gracePeriodSeconds));
      this.stats.deleted += 1;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async deleteHost(host: T, gracePeriodSeconds?: number): Promise<void> {
    try {
      await this.ctx.host.resourceFor(this.syncer.resource).delete(host, deleteOptions(host, gracePeriodSeconds));
      this.stats.deleted += 1;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** Only this object (its uid), never a newer one of the same name; with a grace period when given. */
function deleteOptions(object: KubeObject, gracePeriodSeconds: number | undefined): { preconditions?: { uid: string }; gracePeriodSeconds?: number } {
  const uid = object.metadata?.uid;
  return { ...(uid ? { preconditions: { uid } } : {}), ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) };
}
