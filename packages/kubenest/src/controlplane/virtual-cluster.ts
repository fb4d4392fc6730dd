import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CORE, KubeClient, LeaderElector, isAlreadyExists, isNotFound, loadKubeconfig, loadRestConfig, type KubeObject, type RestConfig } from '@kubenest/kube';
import { HookedClient, MetadataTranslator, NameTranslator, NO_HOOKS, type ObjectHooks, type SyncContext } from '@kubenest/sync';
import type { Values } from '../config/values.ts';
import { buildSyncers, SyncerTerm, type Runnable } from '../syncers/registry.ts';
import { pluginEntries } from '../plugins/entries.ts';
import { NO_PLUGINS, type Plugins } from '../plugins/plugins.ts';
import { SyncerMetrics, type SyncerReport } from '../syncers/metrics.ts';
import { subjectAccessReviewer } from '../frontdoor/authorize.ts';
import { InterceptorHandler } from '../frontdoor/interceptors.ts';
import { apiserverAsCaller, ServiceCreateHandler } from '../frontdoor/services.ts';
import { startKubeletEndpoint, type KubeletEndpoint } from '../kubelet/endpoint.ts';
import { pkiPaths } from './pki.ts';
import { RBAC_REFS } from '../plugins/rbac.ts';
import type { Binaries } from './binaries.ts';
import { ControlPlaneError } from './components.ts';
import { writeFileAtomic } from './files.ts';
import type { ComponentStatus } from './supervisor.ts';
import { VirtualControlPlane } from './virtual-control-plane.ts';
import { deleteWorkloadHostObjects, prepareWorkloads } from './workloads.ts';

/** What `kubenest create` decided, stored as vcluster.json in the virtual cluster's data dir. */
export interface VirtualClusterSpec {
  name: string;
  hostNamespace: string;
  /** The host kubeconfig file and context the virtual cluster syncs to. */
  hostKubeconfig: string;
  hostContext?: string | undefined;
  /** Whether `create` made the host namespace (then `delete` removes it). */
  createdNamespace: boolean;
  serviceCidr: string;
  values: Values;
  createdAt: string;
}

export interface VirtualClusterState {
  supervisorPid: number;
  name: string;
  hostNamespace: string;
  /** The front door (the authenticating proxy users and plugins reach). */
  server: string;
  /** The virtual kube-apiserver itself, which the syncers and the front door call. */
  apiserver: string;
  kubeconfig: string;
  startedAt: string;
  readyAt: string;
  leading: boolean;
  /** The syncer's Prometheus endpoint (its syncers' counts, the plugins' hook calls, the process). */
  metricsUrl?: string | undefined;
  components: ComponentStatus[];
}

export function specFile(dataDir: string): string {
  return join(dataDir, 'vcluster.json');
}

export function readSpec(dataDir: string): VirtualClusterSpec | undefined {
  const file = specFile(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as VirtualClusterSpec;
  } catch (error) {
    throw new ControlPlaneError(`${file} is not valid JSON (${(error as Error).message}); delete the virtual cluster and create it again`);
  }
}

export async function writeSpec(dataDir: string, spec: VirtualClusterSpec): Promise<void> {
  await writeFileAtomic(specFile(dataDir), JSON.stringify(spec, null, 2) + '\n', 0o600);
}


/**
 * A running virtual cluster: its control plane, the admin kubeconfig stored on the host as
 * Secret `vc-NAME` (as vCluster does), and the syncers, which run only while this process holds
 * the host Lease `vcluster-NAME-controller`.
 */
export async function startVirtualCluster(
  spec: VirtualClusterSpec,
  dataDir: string,
  binaries: Binaries,
  progress: (line: string) => void,
  /** The plugins' hook chain; every read and write of the syncers passes it. */
  hooks: ObjectHooks = NO_HOOKS,
): Promise<{ plane: VirtualControlPlane; state: () => VirtualClusterState; stop: () => Promise<void> }> {
  const startedAt = new Date().toISOString();
  const plane = await VirtualControlPlane.start({ name: spec.name, dataDir, binaries, serviceCidr: spec.serviceCidr, progress, restartComponents: true });
  const hostConfig = loadRestConfig({ kubeconfig: spec.hostKubeconfig, context: spec.hostContext });
  const host = new KubeClient(hostConfig, { qps: 200, burst: 400 });
  // The syncers talk to the apiserver itself, as vCluster's syncer does (ADR 25).
  const virtual = new KubeClient(loadKubeconfig(plane.apiserverKubeconfig), { qps: 1000, burst: 2000 });
  try {
    return await startSyncers(spec, plane, host, hostConfig, virtual, hooks, startedAt, progress);
  } catch (error) {
    // A failure after the control plane started (the host refused a write, say) must not leave it running.
    await host.close();
    await virtual.close();
    await plane.stop();
    throw error;
  }
}

async function startSyncers(
  spec: VirtualClusterSpec, plane: VirtualControlPlane, host: KubeClient, hostConfig: RestConfig, virtual: KubeClient, hooks: ObjectHooks,
  startedAt: string, progress: (line: string) => void,
): Promise<{ plane: VirtualControlPlane; state: () => VirtualClusterState; stop: () => Promise<void> }> {
  const names = new NameTranslator(spec.name, spec.hostNamespace);
  // The values' plugins start before the syncers (as in vCluster); their chain is the hooks then.
  // The plugin host (gRPC and all) is loaded only by a virtual cluster that has plugins (ADR 30).
  const plugins = pluginEntries(spec.values).length === 0 ? NO_PLUGINS
    : await (await import('../plugins/index.ts')).startPlugins({ name: spec.name, hostNamespace: spec.hostNamespace, values: spec.values, layout: plane.layout, host, progress });
  const chain = plugins.host ? plugins.hooks : hooks;
  const ctx: SyncContext = {
    virtual: new HookedClient('virtual', virtual, chain), host: new HookedClient('host', host, chain),
    vclusterName: spec.name, hostNamespace: spec.hostNamespace, names, meta: new MetadataTranslator(spec.name, spec.hostNamespace),
  };
  let kubelet: KubeletEndpoint | undefined;
  try {
    // Every replica serves it, leading or not (the virtual apiserver's kubelet for every virtual node, ADR 27).
    const pki = pkiPaths(join(plane.layout.dataDir, 'pki'));
    kubelet = await startKubeletEndpoint(join(plane.layout.dataDir, 'kubelet-endpoint.json'), {
      cert: readFileSync(pki.cert('loopback-serving')), key: readFileSync(pki.key('loopback-serving')), ca: readFileSync(pki.caCert),
      hostConfig, names, getHostPod: (name, namespace) => ctx.host.resourceFor<KubeObject>(CORE['pods']!).get(name, { namespace }),
    });
    progress(`${spec.name}: kubelet endpoint on https://127.0.0.1:${kubelet.port}`);
    const running = await startSyncersWith(plugins, ctx, spec, plane, host, virtual, startedAt, progress, kubelet.port);
    const endpoint = kubelet;
    return { ...running, stop: async () => { await running.stop(); await endpoint.stop(); } };
  } catch (error) {
    await kubelet?.stop();
    await plugins.stop();
    throw error;
  }
}

async function startSyncersWith(
  plugins: Plugins, ctx: SyncContext, spec: VirtualClusterSpec, plane: VirtualControlPlane, host: KubeClient, virtual: KubeClient,
  startedAt: string, progress: (line: string) => void, kubeletPort: number,
): Promise<{ plane: VirtualControlPlane; state: () => VirtualClusterState; stop: () => Promise<void> }> {
  await storeKubeconfigSecret(ctx.host, spec, readFileSync(plane.kubeconfig, 'utf8'));
  // What the front door answers itself: plugins' interceptors first (in vCluster they wrap its own
  // filters), then Services made on the host first (ADR 26).
  const authorize = subjectAccessReviewer(virtual.rest);
  const asCaller = apiserverAsCaller(virtual.rest.config);
  plane.frontDoor.setHandlers([
    new InterceptorHandler({ plugins: () => plugins.host?.interceptors() ?? [], authorize, log: progress }),
    new ServiceCreateHandler({ ctx, asCaller: asCaller.call, log: progress }),
  ]);

  // Pods reach the front door as `kubernetes.default`.
  const setup = { ...await prepareWorkloads(ctx, spec.values, plane.frontDoor.port), kubeletEndpoint: { address: '127.0.0.1', port: kubeletPort } };
  // A new set of syncers for every leadership term: a lost term's queues and caches are gone.
  const buildControllers = (): { prerequisites: Runnable[]; controllers: Runnable[] } => {
    const term = new SyncerTerm(ctx, spec.values, setup, (name, key, error) => {
      progress(`${name} ${key}: ${(error as Error).message}`);
      plugins.reportError(key, error, virtual);
    });
    const { prerequisites, syncers } = buildSyncers(term);
    return { prerequisites, controllers: syncers };
  };

  const stopElection = new AbortController();
  let leading = false;
  let firstSync: () => void = () => {};
  const synced = new Promise<void>((resolve) => { firstSync = resolve; });
  let controllers: Runnable[] = [];
  let stopping: Promise<unknown> = Promise.resolve();
  const elector = new LeaderElector(host.rest, {
    namespace: spec.hostNamespace, name: ctx.names.leaderLeaseName(), identity: `${hostname()}-${process.pid}`,
    onStartedLeading: async (signal) => {
      await stopping; // the previous term's controllers are fully stopped first
      leading = true;
      const { prerequisites, controllers: syncers } = buildControllers();
      const term = [...prerequisites, ...syncers];
      controllers = term;
      signal.addEventListener('abort', () => {
        leading = false;
        stopping = Promise.all([...term.map((c) => c.stop()), plugins.endTerm()]);
      }, { once: true });
      progress(`${spec.name}: leading; starting ${syncers.length} syncer(s)`);
      await Promise.all(prerequisites.map((c) => c.start(signal)));
      await Promise.all(syncers.map((c) => c.start(signal)));
      // After this replica's controllers run as leader, as vCluster's StartControllers does.
      if (!signal.aborted) await plugins.setLeader();
      firstSync();
    },
    onStoppedLeading: () => progress(`${spec.name}: no longer leading; syncers stopped`),
  });
  const metrics = new SyncerMetrics({
    syncers: () => controllers.filter((c): c is Runnable & SyncerReport => 'stats' in c && 'name' in c),
    leading: () => leading,
    others: plugins.host ? [plugins.host.metrics.registry] : [],
  });
  const metricsUrl = await metrics.serve();
  const election = elector.run(stopElection.signal);
  await synced;
  progress(`${spec.name}: syncers ready`);
  const readyAt = new Date().toISOString();
  return {
    plane,
    state: () => ({
      supervisorPid: process.pid, name: spec.name, hostNamespace: spec.hostNamespace, server: plane.server, apiserver: plane.apiserver, kubeconfig: plane.kubeconfig,
      startedAt, readyAt, leading, metricsUrl, components: plane.status(),
    }),
    stop: async () => {
      await Promise.all(controllers.map((c) => c.stop()));
      stopElection.abort();
      await election;
      await metrics.stop();
      await plugins.stop();
      asCaller.close();
      await host.close();
      await virtual.close();
    },
  };
}

async function storeKubeconfigSecret(host: HookedClient, spec: VirtualClusterSpec, kubeconfig: string): Promise<void> {
  const secrets = host.resourceFor<KubeObject>(CORE['secrets']!);
  const name = new NameTranslator(spec.name, spec.hostNamespace).kubeconfigSecretName();
  const secret: KubeObject = {
    metadata: { name, namespace: spec.hostNamespace, labels: { 'vcluster.loft.sh/managed-by': spec.name } },
    type: 'Opaque',
    data: { config: Buffer.from(kubeconfig).toString('base64') },
  };
  try {
    await secrets.create(secret);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const current = await secrets.get(name, { namespace: spec.hostNamespace });
    await secrets.update({ ...current, data: secret['data'] });
  }
}

/** Objects of a virtual cluster on the host, by the marker label; removed by `kubenest delete`. */
export async function deleteHostObjects(host: KubeClient, spec: VirtualClusterSpec): Promise<'deleted' | 'kept' | 'kept-shared'> {
  const selector = `vcluster.loft.sh/managed-by=${spec.name}`;
  const namespaced = [
    'configmaps', 'secrets', 'services', 'endpoints', 'pods', 'persistentvolumeclaims',
    'serviceaccounts', 'ingresses', 'networkpolicies', 'poddisruptionbudgets',
  ];
  for (const resource of namespaced) {
    await host.resourceFor(CORE[resource]!).deleteCollection({ namespace: spec.hostNamespace, labelSelector: selector });
  }
  // The plugins' own RBAC (their ServiceAccounts went with the serviceaccounts above; ADR 22).
  for (const ref of [RBAC_REFS.rolebindings, RBAC_REFS.roles]) await host.resourceFor(ref).deleteCollection({ namespace: spec.hostNamespace, labelSelector: selector });
  // Cluster-scoped copies carry the cluster marker, which names the host namespace too.
  const clusterSelector = `vcluster.loft.sh/managed-by=${new NameTranslator(spec.name, spec.hostNamespace).clusterMarker()}`;
  for (const ref of [CORE['priorityclasses']!, RBAC_REFS.clusterrolebindings, RBAC_REFS.clusterroles]) await host.resourceFor(ref).deleteCollection({ labelSelector: clusterSelector });
  // kubenest's own clean-up of a stopped virtual cluster: no plugin runs, so no hooks.
  await deleteWorkloadHostObjects({ host: new HookedClient('host', host, NO_HOOKS), hostNamespace: spec.hostNamespace, vclusterName: spec.name }, spec.values);
  for (const [ref, name] of [[CORE['leases']!, new NameTranslator(spec.name, spec.hostNamespace).leaderLeaseName()]] as const) {
    try {
      await host.resourceFor(ref).delete(name, { namespace: spec.hostNamespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  if (spec.createdNamespace) {
    // Another virtual cluster may have been created into the namespace since: then it stays.
    const others = await host.resourceFor(CORE['secrets']!).list({ namespace: spec.hostNamespace, labelSelector: `vcluster.loft.sh/managed-by,vcluster.loft.sh/managed-by!=${spec.name}` });
    if (others.items.length > 0) return 'kept-shared';
    try {
      await host.resourceFor(CORE['namespaces']!).delete(spec.hostNamespace);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return 'deleted';
  }
  return 'kept';
}

/**
 * The host's service range, which the virtual apiserver must share (virtual Services take the
 * host's ClusterIPs). Read from the ServiceCIDR API where the host has it (1.33+), else from the
 * error a Service with an out-of-range ClusterIP gets, as vCluster first did.
 */
export async function detectServiceCidr(host: KubeClient, namespace: string): Promise<string> {
  try {
    const cidr = await host.rest.get<{ spec?: { cidrs?: string[] } }>('/apis/networking.k8s.io/v1/servicecidrs/kubernetes');
    const ipv4 = cidr.spec?.cidrs?.find((c) => !c.includes(':'));
    if (ipv4) return ipv4;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await host.resourceFor(CORE['services']!).create({
      metadata: { generateName: 'kubenest-cidr-probe-', namespace },
      spec: { clusterIP: '4.4.4.4', ports: [{ port: 80 }] },
    }, { dryRun: true });
  } catch (error) {
    const match = /valid IPs is ([0-9.]+\/\d+)/.exec((error as Error).message);
    if (match?.[1]) return match[1];
    throw new ControlPlaneError(`could not detect the host's service range: ${(error as Error).message}`);
  }
  throw new ControlPlaneError('could not detect the host\'s service range: the host accepted ClusterIP 4.4.4.4');
}
