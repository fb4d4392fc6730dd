import { CORE, type KubeObject } from '@kubenest/kube';
import {
  FromHostController, ReferenceIndex, SyncController, type FromHostSyncer, type HookedInformer, type LabelSelector, type ReconcileLoop,
  type SyncContext, type Syncer,
} from '@kubenest/sync';
import { parseToleration } from '../config/tolerations.ts';
import { setting, type Values } from '../config/values.ts';
import { configMapSyncer } from './configmaps/syncer.ts';
import { endpointsSyncer } from './endpoints/syncer.ts';
import { eventSyncer } from './events/syncer.ts';
import { fakePersistentVolumes } from './fake-persistentvolumes/controller.ts';
import { fromHostConfigMapSyncer } from './from-host-configmaps/syncer.ts';
import { fromHostSecretSyncer } from './from-host-secrets/syncer.ts';
import { ingressSecretReferences, ingressSyncer, type Ingress } from './ingresses/syncer.ts';
import { kubernetesServiceLoop } from './kubernetes-service/syncer.ts';
import { networkPolicySyncer } from './networkpolicies/syncer.ts';
import { NodeSyncer } from './nodes/syncer.ts';
import type { KubeletAddress } from './nodes/translate.ts';
import { persistentVolumeClaimSyncer } from './persistentvolumeclaims/syncer.ts';
import { podDisruptionBudgetSyncer } from './poddisruptionbudgets/syncer.ts';
import { podSyncer } from './pods/syncer.ts';
import { podReferences, type HostsRewrite, type Pod, type PodHostSettings } from './pods/translate.ts';
import { priorityClassSyncer } from './priorityclasses/syncer.ts';
import { secretSyncer } from './secrets/syncer.ts';
import { serviceAccountSyncer } from './serviceaccounts/syncer.ts';
import { serviceSyncer } from './services/syncer.ts';
import { storageClassesFromHost } from './storageclasses-from-host/controller.ts';

/** What every syncer of a term is: started when this replica leads, stopped when it stops leading. */
export interface Runnable {
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** What the virtual cluster set up once, before any term: the syncers of every term read it. */
export interface WorkloadSetup {
  /** The host service account host pods run as. */
  hostServiceAccount: string;
  clusterDomain: string;
  /** Whether the virtual cluster runs CoreDNS (pods get its host Service as nameserver). */
  dns: boolean;
  /** The virtual apiserver's version, shown as the fake nodes' kubelet version. */
  kubeletVersion: string;
  /** Where the virtual apiserver reaches every virtual node's kubelet: kubenest's endpoint (ADR 27). */
  kubeletEndpoint: KubeletAddress;
}

/**
 * One leadership term, as the syncers see it: the context, the merged values, and what syncers
 * of the term share (the reference index, the node syncer). Built afresh every term: nothing of
 * a lost term is reused.
 */
export class SyncerTerm {
  readonly ctx: SyncContext;
  readonly values: Values;
  readonly setup: WorkloadSetup;
  /** What virtual pods and ingresses refer to: the "in use" rule of the ConfigMap and Secret syncers. */
  readonly references = new ReferenceIndex();
  private readonly onError: (what: string, key: string, error: unknown) => void;
  private nodeSyncer: NodeSyncer | undefined;

  constructor(ctx: SyncContext, values: Values, setup: WorkloadSetup, onError: (what: string, key: string, error: unknown) => void) {
    this.ctx = ctx;
    this.values = values;
    this.setup = setup;
    this.onError = onError;
  }

  /** `setting(values, path)`. */
  value(...path: string[]): unknown {
    return setting(this.values, path);
  }

  /** Where a syncer's failures go (its name and the key). */
  errors(name: string): (key: string, error: unknown) => void {
    return (key, error) => this.onError(name, key, error);
  }

  /** The node syncer of this term (one; the pod syncer asks it about nodes). */
  nodes(): NodeSyncer {
    if (!this.nodeSyncer) {
      const fromHost = this.value('sync', 'fromHost', 'nodes') as { enabled?: boolean; clearImageStatus?: boolean; selector?: { all?: boolean; labels?: Record<string, string> } } | undefined;
      this.nodeSyncer = new NodeSyncer(this.ctx, {
        fromHost: fromHost?.enabled === true,
        selectAll: fromHost?.selector?.all === true,
        selectLabels: fromHost?.selector?.labels ?? {},
        clearImageStatus: fromHost?.clearImageStatus === true,
        kubeletVersion: this.setup.kubeletVersion,
        kubeletEndpoint: this.setup.kubeletEndpoint,
      }, this.errors('node'));
    }
    return this.nodeSyncer;
  }

  /** A to-host syncer under the generic controller. */
  toHost<T extends KubeObject>(syncer: Syncer<T>): SyncController<T> {
    return new SyncController<T>(this.ctx, syncer, { onError: this.errors(syncer.name) });
  }

  /** A from-host syncer under its controller. */
  fromHost<H extends KubeObject, V extends KubeObject>(syncer: FromHostSyncer<H, V>): FromHostController<H, V> {
    return new FromHostController<H, V>(this.ctx, syncer, { onError: this.errors(syncer.name) });
  }
}

/**
 * A built-in syncer: when the values switch it on, and how a term builds it. To-host syncers,
 * from-host syncers and plain loops all come as a Runnable, and plugin syncers run the same
 * framework controllers.
 */
export interface SyncerRegistration {
  readonly name: string;
  enabled(term: SyncerTerm): boolean;
  build(term: SyncerTerm): Runnable;
  /**
   * Runs and syncs before the other syncers of the term start (the reference feed: a restart
   * must not find every host copy unused for a moment).
   */
  readonly prerequisite?: boolean;
}

/** vCluster's default for `sync.toHost.<kind>.enabled`: on unless turned off, or off unless turned on. */
const toHostOn = (kind: string) => (term: SyncerTerm): boolean => term.value('sync', 'toHost', kind, 'enabled') !== false;
const toHostSwitchedOn = (kind: string) => (term: SyncerTerm): boolean => term.value('sync', 'toHost', kind, 'enabled') === true;
const always = (): boolean => true;

/**
 * Fills the reference index from the virtual pods (and ingresses). Shared informers live as long
 * as the client; a term only adds (and removes) its handlers, which get the cache replayed.
 */
function referenceFeed(term: SyncerTerm): Runnable {
  const { ctx, references } = term;
  const virtualPods = ctx.virtual.informer<Pod>(CORE['pods']!);
  const record = (pod: Pod, gone: boolean): void => {
    const key = `pod:${pod.metadata?.namespace}/${pod.metadata?.name}`;
    if (gone) return references.set(key, undefined);
    const { configMaps, secrets } = podReferences(pod);
    const namespaced = (names: Set<string>): Set<string> => new Set([...names].map((name) => `${pod.metadata?.namespace}/${name}`));
    references.set(key, new Map([['configmap', namespaced(configMaps)], ['secret', namespaced(secrets)]]));
  };
  const removers = [virtualPods.addHandlers({ onAdd: (pod) => record(pod, false), onUpdate: (_old, pod) => record(pod, false), onDelete: (pod) => record(pod, true) })];
  const feeds: Pick<HookedInformer, 'start' | 'waitForSync'>[] = [virtualPods];
  if (toHostSwitchedOn('ingresses')(term)) {
    const ingresses = ctx.virtual.informer<Ingress>(CORE['ingresses']!);
    const recordIngress = (ingress: Ingress, gone: boolean): void =>
      references.set(`ingress:${ingress.metadata?.namespace}/${ingress.metadata?.name}`, gone ? undefined : new Map([['secret', ingressSecretReferences(ingress)]]));
    removers.push(ingresses.addHandlers({ onAdd: (i) => recordIngress(i, false), onUpdate: (_old, i) => recordIngress(i, false), onDelete: (i) => recordIngress(i, true) }));
    feeds.push(ingresses);
  }
  return {
    async start(signal) {
      for (const feed of feeds) feed.start();
      await Promise.all(feeds.map((feed) => feed.waitForSync(signal)));
    },
    stop: () => {
      for (const remove of removers) remove();
      return Promise.resolve();
    },
  };
}

/** A ConfigMap or Secret syncer, revisited when what refers to its objects changes. */
function referencedDataSyncer(term: SyncerTerm, kind: 'configmap' | 'secret'): Runnable {
  const values = kind === 'configmap' ? 'configMaps' : 'secrets';
  const options = {
    all: term.value('sync', 'toHost', values, 'all') === true,
    isReferenced: (namespace: string, name: string) => term.references.isReferenced(kind, `${namespace}/${name}`),
  };
  const controller = kind === 'configmap' ? term.toHost(configMapSyncer(options)) : term.toHost(secretSyncer(options));
  term.references.onChange((changed, key) => { if (changed === kind) controller.enqueue(key); });
  return controller;
}

/**
 * `sync.toHost.pods.rewriteHosts`, on by default as in vCluster. The image is a string (older
 * vcluster.yaml) or registry/repository/tag (newer); the defaults are vCluster's.
 */
export function hostsRewrite(values: Values): HostsRewrite | undefined {
  const path = ['sync', 'toHost', 'pods', 'rewriteHosts'];
  if (setting(values, [...path, 'enabled']) === false) return undefined;
  const image = setting(values, [...path, 'initContainer', 'image']) as string | { registry?: string; repository?: string; tag?: string } | undefined;
  const named = typeof image === 'object'
    ? `${image.registry ? `${image.registry}/` : ''}${image.repository ?? 'library/alpine'}:${image.tag ?? '3.20'}`
    : image;
  const resources = setting(values, [...path, 'initContainer', 'resources']) as Record<string, unknown> | undefined;
  const id = (own: number): number => (own === 0 ? 1001 : own);
  return {
    image: named || 'mirror.gcr.io/library/alpine:3.20',
    resources: resources ?? { limits: { cpu: '30m', memory: '64Mi' }, requests: { cpu: '30m', memory: '64Mi' } },
    runAsUser: id(process.getuid?.() ?? 0), runAsGroup: id(process.getgid?.() ?? 0),
  };
}

/** The `sync.toHost.pods` settings that shape every host pod (checked when the values were loaded). */
export function podHostSettings(values: Values): PodHostSettings {
  const pods = (setting(values, ['sync', 'toHost', 'pods']) ?? {}) as { translateImage?: Record<string, string>; enforceTolerations?: string[]; runtimeClassName?: string; priorityClassName?: string };
  return {
    ...(pods.translateImage ? { translateImage: pods.translateImage } : {}),
    ...(pods.enforceTolerations?.length ? { enforceTolerations: pods.enforceTolerations.map(parseToleration) } : {}),
    ...(pods.runtimeClassName ? { runtimeClassName: pods.runtimeClassName } : {}),
    ...(pods.priorityClassName ? { priorityClassName: pods.priorityClassName } : {}),
  };
}

/** `sync.fromHost.storageClasses`: `auto` (the default) is off, since kubenest always schedules on the host. */
function storageClassSelection(term: SyncerTerm): { enabled: boolean; selector: LabelSelector | undefined } {
  const enabled = term.value('sync', 'fromHost', 'storageClasses', 'enabled') === true;
  const selector = term.value('sync', 'fromHost', 'storageClasses', 'selector') as LabelSelector | undefined;
  const selects = Object.keys(selector?.matchLabels ?? {}).length > 0 || (selector?.matchExpressions?.length ?? 0) > 0;
  return { enabled, selector: enabled && selects ? selector : undefined };
}

/** The built-in syncers, in start order (the reference feed first; nodes before pods). */
export const BUILT_IN_SYNCERS: readonly SyncerRegistration[] = [
  { name: 'references', prerequisite: true, enabled: always, build: referenceFeed },
  { name: 'configmaps', enabled: toHostOn('configMaps'), build: (term) => referencedDataSyncer(term, 'configmap') },
  { name: 'services', enabled: toHostOn('services'), build: (term) => term.toHost(serviceSyncer()) },
  { name: 'endpoints', enabled: toHostOn('endpoints'), build: (term) => term.toHost(endpointsSyncer()) },
  { name: 'secrets', enabled: toHostOn('secrets'), build: (term) => referencedDataSyncer(term, 'secret') },
  { name: 'ingresses', enabled: toHostSwitchedOn('ingresses'), build: (term) => term.toHost(ingressSyncer()) },
  { name: 'networkpolicies', enabled: toHostSwitchedOn('networkPolicies'), build: (term) => term.toHost(networkPolicySyncer()) },
  { name: 'poddisruptionbudgets', enabled: toHostSwitchedOn('podDisruptionBudgets'), build: (term) => term.toHost(podDisruptionBudgetSyncer()) },
  { name: 'serviceaccounts', enabled: toHostSwitchedOn('serviceAccounts'), build: (term) => term.toHost(serviceAccountSyncer()) },
  { name: 'priorityclasses', enabled: toHostSwitchedOn('priorityClasses'), build: (term) => term.toHost(priorityClassSyncer()) },
  { name: 'nodes', enabled: always, build: (term) => term.nodes() },
  {
    name: 'pods', enabled: toHostOn('pods'),
    build: (term) => term.toHost(podSyncer({
      clusterDomain: term.setup.clusterDomain, hostServiceAccount: term.setup.hostServiceAccount, dns: term.setup.dns,
      allowHostAccess: term.value('policies', 'podSecurityStandard') === 'privileged',
      translatePriorityClasses: toHostSwitchedOn('priorityClasses')(term),
      rewriteHosts: hostsRewrite(term.values),
      host: podHostSettings(term.values),
      useSecretsForSATokens: term.value('sync', 'toHost', 'pods', 'useSecretsForSATokens') === true,
      nodeExists: (name) => term.nodes().exists(name),
      onNodeAdded: (listener) => term.nodes().onAdded(listener),
    })),
  },
  { name: 'kubernetes-service', enabled: always, build: (term): ReconcileLoop => kubernetesServiceLoop(term.ctx, term.errors('kubernetes service')) },
  {
    name: 'persistentvolumeclaims', enabled: toHostOn('persistentVolumeClaims'),
    build: (term) => term.toHost(persistentVolumeClaimSyncer({ storageClassSelector: storageClassSelection(term).selector })),
  },
  // Fake volumes run whenever real PersistentVolume sync is off (always, in kubenest), as in vCluster.
  { name: 'fake-persistentvolumes', enabled: always, build: (term) => fakePersistentVolumes(term.ctx, { onError: term.errors('fake-persistentvolume') }) },
  {
    name: 'storageclasses-from-host', enabled: (term) => storageClassSelection(term).enabled,
    build: (term) => storageClassesFromHost(term.ctx, { selector: storageClassSelection(term).selector, onError: term.errors('host-storageclass') }),
  },
  {
    name: 'events-from-host', enabled: (term) => term.value('sync', 'fromHost', 'events', 'enabled') !== false,
    build: (term) => term.fromHost(eventSyncer({ hostNamespace: term.ctx.hostNamespace })),
  },
  ...(['configMaps', 'secrets'] as const).map((kind): SyncerRegistration => ({
    name: `${kind.toLowerCase()}-from-host`,
    enabled: (term) => term.value('sync', 'fromHost', kind, 'enabled') === true,
    build: (term) => {
      const byName = (term.value('sync', 'fromHost', kind, 'mappings', 'byName') ?? {}) as Record<string, string>;
      const make = kind === 'configMaps' ? fromHostConfigMapSyncer : fromHostSecretSyncer;
      return term.fromHost<KubeObject, KubeObject>(make({ byName, hostNamespace: term.ctx.hostNamespace }));
    },
  })),
];

/** The syncers the values switch on, built for one term: prerequisites first. */
export function buildSyncers(term: SyncerTerm, registry: readonly SyncerRegistration[] = BUILT_IN_SYNCERS): { prerequisites: Runnable[]; syncers: Runnable[]; names: string[] } {
  const enabled = registry.filter((entry) => entry.enabled(term));
  return {
    prerequisites: enabled.filter((entry) => entry.prerequisite).map((entry) => entry.build(term)),
    syncers: enabled.filter((entry) => !entry.prerequisite).map((entry) => entry.build(term)),
    names: enabled.map((entry) => entry.name),
  };
}
