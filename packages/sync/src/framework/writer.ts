import type { KubeClient, KubeObject, ResourceRef } from '@kubenest/kube';

export type Side = 'host' | 'virtual';

/**
 * A step every outgoing object passes through before it is written; the plugins' hook chain
 * (mutate or refuse) plugs in here. Throwing refuses the write.
 */
export interface WriteHook {
  mutate(side: Side, verb: 'create' | 'update', object: KubeObject, resource: ResourceRef): Promise<KubeObject>;
}

/** The one place syncers write through, to either cluster. */
export class ObjectWriter {
  private readonly clients: Record<Side, KubeClient>;
  private readonly hooks: WriteHook[];

  constructor(clients: { host: KubeClient; virtual: KubeClient }, hooks: WriteHook[] = []) {
    this.clients = clients;
    this.hooks = hooks;
  }

  async create<T extends KubeObject>(side: Side, resource: ResourceRef, object: T): Promise<T> {
    const outgoing = await this.mutate(side, 'create', object, resource);
    return this.clients[side].resourceFor<T>(resource).create(outgoing);
  }

  /** Replaces the object; its resourceVersion makes this a compare-and-swap (409 if stale). */
  async update<T extends KubeObject>(side: Side, resource: ResourceRef, object: T): Promise<T> {
    const outgoing = await this.mutate(side, 'update', object, resource);
    return this.clients[side].resourceFor<T>(resource).update(outgoing);
  }

  async updateStatus<T extends KubeObject>(side: Side, resource: ResourceRef, object: T): Promise<T> {
    return this.clients[side].resourceFor<T>(resource).updateStatus(object);
  }

  /** Deletes only the object with this uid, so a newer object of the same name is never hit. */
  async delete(side: Side, resource: ResourceRef, namespace: string | undefined, name: string, uid?: string, gracePeriodSeconds?: number): Promise<void> {
    await this.clients[side].resourceFor(resource).delete(name, {
      ...(namespace ? { namespace } : {}), ...(uid ? { preconditions: { uid } } : {}),
      ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    });
  }

  /** Creates a subresource such as a pod's `binding`; not an object of its own, so no hooks run. */
  async createSubresource(side: Side, resource: ResourceRef, namespace: string, name: string, subresource: string, body: KubeObject): Promise<void> {
    const client = this.clients[side];
    await client.rest.request('POST', client.resourceFor(resource).path(namespace, name, subresource), { body });
  }

  /** Replaces a subresource such as a pod's `ephemeralcontainers` (409 if stale); like createSubresource, no hooks run. */
  async updateSubresource<T extends KubeObject>(side: Side, resource: ResourceRef, object: T, subresource: string): Promise<T> {
    return this.clients[side].resourceFor<T>(resource).update(object, { subresource });
  }

  /** Patches a subresource such as a pod's `resize` (strategic merge); no hooks run. */
  async patchSubresource(side: Side, resource: ResourceRef, namespace: string, name: string, subresource: string, patch: unknown): Promise<void> {
    await this.clients[side].resourceFor(resource).patch(name, 'strategic', patch, { namespace, subresource });
  }

  private async mutate<T extends KubeObject>(side: Side, verb: 'create' | 'update', object: T, resource: ResourceRef): Promise<T> {
    let current: KubeObject = object;
    for (const hook of this.hooks) current = await hook.mutate(side, verb, current, resource);
    return current as T;
  }
}
