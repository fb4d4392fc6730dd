import { CORE, isAlreadyExists, isNotFound, type Informer, type KubeObject } from '@kubenest/kube';
import { ReferenceIndex, type SyncContext, type Syncer } from '@kubenest/sync';
import { setting, type Values } from '../config/values.ts';
import { ensureVirtualClusterService, kubernetesServiceLoop } from '../syncers/kubernetes-service/syncer.ts';
import { ingressSecretReferences, type Ingress } from '../syncers/ingresses/syncer.ts';
import { NodeSyncer } from '../syncers/nodes/syncer.ts';
import { podSyncer } from '../syncers/pods/syncer.ts';
import { podReferences, type HostsRewrite, type Pod, type PodHostSettings } from '../syncers/pods/translate.ts';
import { parseToleration } from '../syncers/pods/tolerations.ts';
import { deployCoreDns } from './coredns.ts';


/** A part of the syncer that starts under leader election and stops with it. */
export interface Runnable {
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** What a virtual cluster sets up once, and how to build the workload syncers for a leadership term. */
export interface WorkloadsSetup {
  build(): Workloads;
}

export interface Workloads {
  /** What virtual pods refer to: the "in use" rule of the ConfigMap and Secret syncers. */
  references: ReferenceIndex;
  /** The pod syncer, when `sync.toHost.pods` is on. */
  pods: Syncer<Pod> | undefined;
  /** Nodes and the kubernetes Service. */
  runnables: Runnable[];
  /**
   * Fills `references` from the virtual pods (and ingresses); started, and synced, before the
   * ConfigMap and Secret syncers, or a restart would briefly find every host copy unused.
   */
  referenceFeed: Runnable;
}

/** The host service account host pods run as, as vCluster's chart names it. */
export function workloadServiceAccountName(values: Values, vclusterName: string): string {
  return (setting(values, ['controlPlane', 'advanced', 'workloadServiceAccount', 'name']) as string | undefined) ?? `vc-workload-${vclusterName}`;
}

/**
 * What running workloads needs besides the generic syncers: the host Service standing for the
 * virtual API, the host service account pods run as, DNS in the virtual cluster, nodes, and the
 * reference index fed from the virtual pods.
 */
export async function prepareWorkloads(ctx: SyncContext, values: Values, apiserverPort: number, onError: (what: string, error: unknown) => void): Promise<WorkloadsSetup> {
  await ensureVirtualClusterService(ctx.host, ctx.hostNamespace, ctx.vclusterName, apiserverPort);
  const hostServiceAccount = workloadServiceAccountName(values, ctx.vclusterName);
  try {
    await ctx.host.resourceFor(CORE['serviceaccounts']!).create({
      metadata: { name: hostServiceAccount, namespace: ctx.hostNamespace, labels: { app: 'vcluster', release: ctx.vclusterName } },
      automountServiceAccountToken: false,
    });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  const clusterDomain = (setting(values, ['networking', 'advanced', 'clusterDomain']) as string | undefined) ?? 'cluster.local';
  const dns = setting(values, ['controlPlane', 'coredns', 'enabled']) !== false;
  if (dns) await deployCoreDns(ctx.virtual, clusterDomain);

  const version = await ctx.virtual.rest.get<{ gitVersion?: string }>('/version');
  return { build: () => buildWorkloads(ctx, values, { hostServiceAccount, clusterDomain, dns, kubeletVersion: version.gitVersion ?? 'v0.0.0' }, onError) };
}

/** Fresh objects for one leadership term: nothing of a lost term's state is reused. */
function buildWorkloads(
  ctx: SyncContext, values: Values, setup: { hostServiceAccount: string; clusterDomain: string; dns: boolean; kubeletVersion: string },
  onError: (what: string, error: unknown) => void,
): Workloads {
  const { hostServiceAccount, clusterDomain, dns } = setup;
  const fromHostNodes = setting(values, ['sync', 'fromHost', 'nodes']) as { enabled?: boolean; clearImageStatus?: boolean; selector?: { all?: boolean; labels?: Record<string, string> } } | undefined;
  const nodes = new NodeSyncer(ctx, {
    fromHost: fromHostNodes?.enabled === true,
    selectAll: fromHostNodes?.selector?.all === true,
    selectLabels: fromHostNodes?.selector?.labels ?? {},
    clearImageStatus: fromHostNodes?.clearImageStatus === true,
    kubeletVersion: setup.kubeletVersion,
  }, (key, error) => onError(`node ${key}`, error));

  const references = new ReferenceIndex();
  const virtualPods = ctx.virtual.informer<Pod>(CORE['pods']!);
  const record = (pod: Pod, gone: boolean): void => {
    const key = `pod:${pod.metadata?.namespace}/${pod.metadata?.name}`;
    if (gone) return references.set(key, undefined);
    const { configMaps, secrets } = podReferences(pod);
    const namespaced = (names: Set<string>): Set<string> => new Set([...names].map((name) => `${pod.metadata?.namespace}/${name}`));
    references.set(key, new Map([['configmap', namespaced(configMaps)], ['secret', namespaced(secrets)]]));
  };
  // Shared informers live as long as the client; a term only adds (and removes) its handlers,
  // which get the whole cache replayed as adds.
  const removers = [virtualPods.addHandlers({ onAdd: (pod) => record(pod, false), onUpdate: (_old, pod) => record(pod, false), onDelete: (pod) => record(pod, true) })];
  const feeds: Informer[] = [virtualPods];
  if (setting(values, ['sync', 'toHost', 'ingresses', 'enabled']) === true) {
    const ingresses = ctx.virtual.informer<Ingress>(CORE['ingresses']!);
    const recordIngress = (ingress: Ingress, gone: boolean): void =>
      references.set(`ingress:${ingress.metadata?.namespace}/${ingress.metadata?.name}`, gone ? undefined : new Map([['secret', ingressSecretReferences(ingress)]]));
    removers.push(ingresses.addHandlers({ onAdd: (i) => recordIngress(i, false), onUpdate: (_old, i) => recordIngress(i, false), onDelete: (i) => recordIngress(i, true) }));
    feeds.push(ingresses);
  }
  const referenceFeed: Runnable = {
    async start(signal) {
      for (const feed of feeds) feed.start();
      await Promise.all(feeds.map((feed) => feed.waitForSync(signal)));
    },
    stop: () => {
      for (const remove of removers) remove();
      return Promise.resolve();
    },
  };

  const podsEnabled = setting(values, ['sync', 'toHost', 'pods', 'enabled']) !== false;
  const pods = podsEnabled ? podSyncer({
    clusterDomain, hostServiceAccount, dns,
    allowHostAccess: setting(values, ['policies', 'podSecurityStandard']) === 'privileged',
    translatePriorityClasses: setting(values, ['sync', 'toHost', 'priorityClasses', 'enabled']) === true,
    rewriteHosts: hostsRewrite(values),
    host: podHostSettings(values),
    useSecretsForSATokens: setting(values, ['sync', 'toHost', 'pods', 'useSecretsForSATokens']) === true,
    nodeExists: (name) => nodes.exists(name),
    onNodeAdded: (listener) => nodes.onAdded(listener),
  }) : undefined;
  return { references, pods, referenceFeed, runnables: [nodes, kubernetesServiceLoop(ctx, (key, error) => onError(`kubernetes service ${key}`, error))] };
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

/** Deletes what prepareWorkloads made on the host (the pods and the rest go by their marker label). */
export async function deleteWorkloadHostObjects(ctx: Pick<SyncContext, 'host' | 'hostNamespace' | 'vclusterName'>, values: Values): Promise<void> {
  for (const [ref, name] of [[CORE['services']!, ctx.vclusterName], [CORE['serviceaccounts']!, workloadServiceAccountName(values, ctx.vclusterName)]] as const) {
    try {
      await ctx.host.resourceFor<KubeObject>(ref).delete(name, { namespace: ctx.hostNamespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
