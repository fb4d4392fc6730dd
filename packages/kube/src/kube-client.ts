import { Discovery } from './discovery.ts';
import { Informer, type InformerOptions } from './informer.ts';
import type { RestConfig } from './kubeconfig.ts';
import { ResourceClient, type ResourceRef } from './resource-client.ts';
import { RestClient, type KubeObject, type RestClientOptions } from './rest-client.ts';

/**
 * One cluster: a REST client (one connection pool), discovery with a REST mapper, and shared
 * informers, one per (resource, namespace, selectors).
 */
export class KubeClient {
  readonly rest: RestClient;
  readonly discovery: Discovery;
  private readonly informers = new Map<string, Informer>();

  constructor(config: RestConfig, options: RestClientOptions = {}) {
    this.rest = new RestClient(config, options);
    this.discovery = new Discovery(this.rest);
  }

  /** The client for a kind, found through discovery (refreshed once if the kind is unknown). */
  async resource<T extends KubeObject = KubeObject>(apiVersion: string, kind: string): Promise<ResourceClient<T>> {
    return new ResourceClient<T>(this.rest, await this.discovery.resourceFor(apiVersion, kind));
  }

  /** The client for a known resource, without a discovery round trip. */
  resourceFor<T extends KubeObject = KubeObject>(ref: ResourceRef): ResourceClient<T> {
    return new ResourceClient<T>(this.rest, ref);
  }

  /** The client for an object's own apiVersion and kind. */
  forObject<T extends KubeObject>(object: T): Promise<ResourceClient<T>> {
    if (!object.apiVersion || !object.kind) throw new Error('the object has no apiVersion or kind');
    return this.resource<T>(object.apiVersion, object.kind);
  }

  /**
   * The shared informer for a resource and selection: callers asking for the same one share one
   * list, one watch and one cache. Start it with `informer.start()`; `stop()` stops them all.
   */
  informer<T extends KubeObject = KubeObject>(ref: ResourceRef, options: Omit<InformerOptions<T>, 'indexers'> & { indexers?: InformerOptions<T>['indexers'] } = {}): Informer<T> {
    const key = [ref.group, ref.version, ref.resource, options.namespace ?? '', options.labelSelector ?? '', options.fieldSelector ?? ''].join('|');
    let informer = this.informers.get(key) as Informer<T> | undefined;
    if (!informer) {
      informer = new Informer<T>(this.resourceFor<T>(ref), options);
      this.informers.set(key, informer as unknown as Informer);
    }
    return informer;
  }

  /** Refreshes discovery whenever a CRD is added, changed or removed, so new kinds resolve at once. */
  refreshDiscoveryOnCrdChanges(signal?: AbortSignal): Informer {
    const crds = this.informer(CORE['customresourcedefinitions']!);
    const invalidate = (): void => this.discovery.invalidate();
    crds.addHandlers({ onAdd: invalidate, onUpdate: invalidate, onDelete: invalidate });
    crds.start(signal);
    return crds;
  }

  async close(): Promise<void> {
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
    this.informers.clear();
    await this.rest.close();
  }
}

/** Refs of the built-in resources the syncer uses most, so hot paths skip discovery. */
export const CORE: Record<string, ResourceRef> = {
  configmaps: { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true },
  secrets: { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true },
  pods: { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true },
  services: { group: '', version: 'v1', resource: 'services', kind: 'Service', namespaced: true },
  endpoints: { group: '', version: 'v1', resource: 'endpoints', kind: 'Endpoints', namespaced: true },
  events: { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true },
  namespaces: { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false },
  nodes: { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false },
  leases: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true },
  customresourcedefinitions: { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
  deployments: { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true },
  serviceaccounts: { group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  ingresses: { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', kind: 'Ingress', namespaced: true },
  networkpolicies: { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true },
  poddisruptionbudgets: { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
  priorityclasses: { group: 'scheduling.k8s.io', version: 'v1', resource: 'priorityclasses', kind: 'PriorityClass', namespaced: false },
  persistentvolumeclaims: { group: '', version: 'v1', resource: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  persistentvolumes: { group: '', version: 'v1', resource: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false },
  storageclasses: { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses', kind: 'StorageClass', namespaced: false },
};
