import { Informer, isNotFound } from '@kubenest/kube';
import type {
  DeleteOptions, EventHandlers, InformerOptions, KubeClient, KubeObject, ListOptions, ObjectList, PatchType, ResourceClient,
  ResourceRef, WriteOptions,
} from '@kubenest/kube';
import { NO_HOOKS, type HookType, type ObjectHooks } from './hooks.ts';

export type Side = 'host' | 'virtual';

type Verb = 'Get' | 'Create' | 'Update' | 'Delete' | 'Apply';

function apiVersionOf(ref: ResourceRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

/**
 * One cluster as syncers see it: every read and write of an object passes the plugins' hooks
 * for this side (`...Physical` on the host, `...Virtual` in the virtual cluster), as vCluster's
 * hooked clients do. Reads (cached or not, lists item by item) run `Get`, writes `Create`,
 * `Update` (status and patches too), `Delete` and `Apply`. What is deliberately not hooked, as in
 * vCluster, goes through `unhooked` (ADR 21 lists it): subresources other than status, delete
 * collection, discovery, leases, events.
 */
export class HookedClient {
  readonly side: Side;
  /** The client without hooks: using it is a deliberate step around the plugins. */
  readonly unhooked: KubeClient;
  readonly hooks: ObjectHooks;
  private readonly suffix: 'Physical' | 'Virtual';

  constructor(side: Side, client: KubeClient, hooks: ObjectHooks = NO_HOOKS) {
    this.side = side;
    this.unhooked = client;
    this.hooks = hooks;
    this.suffix = side === 'host' ? 'Physical' : 'Virtual';
  }

  resourceFor<T extends KubeObject = KubeObject>(ref: ResourceRef): HookedResource<T> {
    return new HookedResource<T>(this, this.unhooked.resourceFor<T>(ref));
  }

  /** The client for a kind found through discovery. */
  async resource<T extends KubeObject = KubeObject>(apiVersion: string, kind: string): Promise<HookedResource<T>> {
    return new HookedResource<T>(this, await this.unhooked.resource<T>(apiVersion, kind));
  }

  /**
   * The shared informer (one per resource and selection, living as long as the client), whose
   * cached reads pass the `Get` hooks.
   */
  informer<T extends KubeObject = KubeObject>(ref: ResourceRef, options: InformerOptions<T> = {}): HookedInformer<T> {
    return new HookedInformer<T>(this, ref, this.unhooked.informer<T>(ref, options));
  }

  /** An informer of the caller's own, started and stopped by it; its cached reads pass the `Get` hooks. */
  newInformer<T extends KubeObject = KubeObject>(ref: ResourceRef, options: InformerOptions<T> = {}): HookedInformer<T> {
    return new HookedInformer<T>(this, ref, new Informer<T>(this.unhooked.resourceFor<T>(ref), options));
  }

  /** The hook type for a verb on this side. */
  hookType(verb: Verb): HookType {
    return `${verb}${this.suffix}`;
  }

  /** Runs the chain when some plugin hooks this kind and verb; the object gets its apiVersion and kind first. */
  async mutate<T extends KubeObject>(ref: ResourceRef, verb: Verb, object: T): Promise<T> {
    const apiVersion = apiVersionOf(ref);
    const type = this.hookType(verb);
    if (!this.hooks.wants(apiVersion, ref.kind, type)) return object;
    // The chain never changes the object it is given (it returns a new one), so no copy is made.
    const typed = object.apiVersion && object.kind ? object : { ...object, apiVersion: object.apiVersion ?? apiVersion, kind: object.kind ?? ref.kind };
    return this.hooks.mutate(type, typed);
  }

  wants(ref: ResourceRef, verb: Verb): boolean {
    return this.hooks.wants(apiVersionOf(ref), ref.kind, this.hookType(verb));
  }
}

/** Every verb on one resource, hooked. Subresources other than status pass unhooked, as in vCluster. */
export class HookedResource<T extends KubeObject = KubeObject> {
  readonly ref: ResourceRef;
  private readonly client: HookedClient;
  private readonly inner: ResourceClient<T>;

  constructor(client: HookedClient, inner: ResourceClient<T>) {
    this.client = client;
    this.inner = inner;
    this.ref = inner.ref;
  }

  get apiVersion(): string {
    return this.inner.apiVersion;
  }

  path(namespace?: string, name?: string, subresource?: string): string {
    return this.inner.path(namespace, name, subresource);
  }

  async get(name: string, options: { namespace?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.client.mutate(this.ref, 'Get', await this.inner.get(name, options));
  }

  async list(options: ListOptions = {}): Promise<ObjectList<T>> {
    const list = await this.inner.list(options);
    if (!this.client.wants(this.ref, 'Get')) return list;
    const items: T[] = [];
    for (const item of list.items) items.push(await this.client.mutate(this.ref, 'Get', item));
    return { ...list, items };
  }

  async create(object: T, options: WriteOptions = {}): Promise<T> {
    return this.inner.create(await this.client.mutate(this.ref, 'Create', object), options);
  }

  /** Replaces the object or its status (Update hooks); other subresources are not hooked. */
  async update(object: T, options: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const hooked = !options.subresource || options.subresource === 'status';
    return this.inner.update(hooked ? await this.client.mutate(this.ref, 'Update', object) : object, options);
  }

  updateStatus(object: T, options: WriteOptions = {}): Promise<T> {
    return this.update(object, { ...options, subresource: 'status' });
  }

  /**
   * A patch is an update to the plugins: when they hook it, the server computes the patched
   * object (dry run), the chain mutates it, and it is written with the resourceVersion it was
   * computed from (409 if the object moved meanwhile, as for any update).
   */
  async patch(name: string, type: PatchType, patch: unknown, options: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const hooked = !options.subresource || options.subresource === 'status';
    if (!hooked || !this.client.wants(this.ref, 'Update')) return this.inner.patch(name, type, patch, options);
    const patched = await this.inner.patch(name, type, patch, { ...options, dryRun: true });
    const { dryRun: _dryRun, ...rest } = options;
    return this.inner.update(await this.client.mutate(this.ref, 'Update', patched), rest);
  }

  /** Server-side apply (Apply hooks, which only vCluster's own host knows; Go SDK plugins never register them). */
  async apply(object: T, options: WriteOptions & { fieldManager: string; force?: boolean; subresource?: string }): Promise<T> {
    const hooked = !options.subresource || options.subresource === 'status';
    return this.inner.apply(hooked ? await this.client.mutate(this.ref, 'Apply', object) : object, options);
  }

  /**
   * Deletes the object (Delete hooks see it first, and may refuse); the name and namespace are
   * taken from what the chain returns, as vCluster's hooked client does.
   */
  async delete(object: KubeObject, options: Omit<DeleteOptions, 'namespace'> = {}): Promise<KubeObject> {
    const hooked = await this.client.mutate(this.ref, 'Delete', object);
    const namespace = hooked.metadata?.namespace;
    return this.inner.delete(hooked.metadata?.name ?? '', { ...options, ...(namespace ? { namespace } : {}) });
  }

  /**
   * Deletes exactly this object: the uid is a precondition, so a newer object of the same name
   * is never hit. A missing object is not an error.
   */
  async deleteExactly(object: KubeObject, options: { gracePeriodSeconds?: number } = {}): Promise<void> {
    const uid = object.metadata?.uid;
    try {
      await this.delete(object, { ...options, ...(uid ? { preconditions: { uid } } : {}) });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Not hooked (vCluster's DeleteAllOf is not either). */
  deleteCollection(options: DeleteOptions & Pick<ListOptions, 'labelSelector' | 'fieldSelector'> = {}): Promise<KubeObject> {
    return this.inner.deleteCollection(options);
  }

  /** Creates a subresource such as a pod's `binding`; not an object of its own, so not hooked. */
  async createSubresource(namespace: string, name: string, subresource: string, body: KubeObject): Promise<void> {
    await this.inner.rest.request('POST', this.inner.path(namespace, name, subresource), { body });
  }
}

/**
 * A shared informer whose reads pass the `Get` hooks: `get`, `list` and `byIndex` return what the
 * chain makes of the cached object (a copy; the cache is never changed). Event handlers see the
 * cache itself: they are notifications to enqueue work, not reads, as in controller-runtime.
 */
export class HookedInformer<T extends KubeObject = KubeObject> {
  readonly ref: ResourceRef;
  /** The informer itself, for handlers, start and sync. */
  readonly informer: Informer<T>;
  private readonly client: HookedClient;

  constructor(client: HookedClient, ref: ResourceRef, informer: Informer<T>) {
    this.client = client;
    this.ref = ref;
    this.informer = informer;
  }

  async get(key: string): Promise<T | undefined> {
    const object = this.informer.store.get(key);
    return object === undefined ? undefined : this.client.mutate(this.ref, 'Get', object);
  }

  /** Whether the cache holds the key; no object is read, so no hook runs. */
  has(key: string): boolean {
    return this.informer.store.get(key) !== undefined;
  }

  list(): Promise<T[]> {
    return this.hookAll(this.informer.store.list());
  }

  byIndex(index: string, value: string): Promise<T[]> {
    return this.hookAll(this.informer.store.byIndex(index, value));
  }

  keys(): string[] {
    return this.informer.store.keys();
  }

  addHandlers(handlers: EventHandlers<T>): () => void {
    return this.informer.addHandlers(handlers);
  }

  start(signal?: AbortSignal): void {
    this.informer.start(signal);
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    return this.informer.waitForSync(signal);
  }

  hasSynced(): boolean {
    return this.informer.hasSynced();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  private async hookAll(objects: T[]): Promise<T[]> {
    if (!this.client.wants(this.ref, 'Get')) return objects;
    const hooked: T[] = [];
    for (const object of objects) hooked.push(await this.client.mutate(this.ref, 'Get', object));
    return hooked;
  }
}
