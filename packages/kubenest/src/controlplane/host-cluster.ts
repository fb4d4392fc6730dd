import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { RestClient, isAlreadyExists, isNotFound, loadKubeconfig } from '@kubenest/kube';
import type { KubeObject } from '@kubenest/kube';
import type { Binaries } from './binaries.ts';
import {
  ControlPlaneError, controlPlanePkiLeaves, loadSettings, healthy, kubeconfigFor,
} from './components.ts';
import { writeFileAtomic } from './files.ts';
import { hostStagesConfig } from './host-stages.ts';
import { NodeKubeletForwarders, kubeletSimulationConfig, nodeIp, simulatedLogLines, type PortForwardRule } from './kwok-kubelet.ts';
import { writeKubeconfig } from './kubeconfig-file.ts';
import { ensurePki, type LeafSpec, type PkiPaths } from './pki.ts';
import { freePort } from './ports.ts';
import { startHostProvisioner, type HostProvisioner } from './host-provisioner.ts';
import { Supervisor } from './supervisor.ts';
import { RunningControlPlane, clusterLayout, prepareDataDir, startCoreComponents, type ClusterLayout } from './control-plane.ts';

export const HOST_SERVICE_CIDR = '10.96.0.0/12';
/** Simulated pod IPs are loopback addresses, so nothing ever dials a private-range address. */
export const HOST_POD_CIDR = '127.244.0.0/16';
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
const NODE_PREFIX = 'kwok-node-';
export interface HostClusterOptions {
  dataDir: string;
  binaries: Binaries;
  /** Number of simulated nodes; default 1. */
  nodes?: number;
  /** kube-apiserver port; default: the port used last time in this data dir, else a free one. */
  apiserverPort?: number;
  progress?: (line: string) => void;
  /** Restart components that exit unexpectedly (the daemon does; tests that inject faults may not). */
  restartComponents?: boolean;
  /** Pod ports a port-forward reaches, each at a port on 127.0.0.1 (kwok's simulation needs fixed targets); default none. */
  portForwards?: PortForwardRule[];
}

/**
 * A local host cluster: kine (SQLite) + kube-apiserver + kube-controller-manager + kube-scheduler
 * + kwok with simulated nodes, every listener on loopback. Objects persist in the data dir.
 */
export class HostCluster extends RunningControlPlane {
  readonly nodeNames: string[];
  private provisioner: HostProvisioner | undefined;
  private forwarders: NodeKubeletForwarders | undefined;

  private constructor(layout: ClusterLayout, supervisor: Supervisor, server: string, client: RestClient, nodeNames: string[]) {
    super(layout, supervisor, server, client);
    this.nodeNames = nodeNames;
  }

  static async start(options: HostClusterOptions): Promise<HostCluster> {
    const layout = clusterLayout(options.dataDir);
    const progress = options.progress ?? (() => {});
    const nodeCount = options.nodes ?? 1;
    if (!Number.isInteger(nodeCount) || nodeCount < 0 || nodeCount > 1000) {
      throw new ControlPlaneError(`--nodes must be a whole number from 0 to 1000 (got ${options.nodes})`);
    }
    prepareDataDir(layout);
    const settings = await loadSettings(layout.settingsFile, options.apiserverPort);
    const [kcmPort, schedulerPort] = [await freePort(), await freePort()];
    const pki = await ensurePki(join(layout.dataDir, 'pki'), hostPkiLeaves(nodeCount));
    const server = `https://127.0.0.1:${settings.apiserverPort}`;
    await writeComponentKubeconfigs(layout, pki, server);
    const b = options.binaries;
    const supervisor = new Supervisor({
      pidFile: layout.pidsFile,
      journal: (line) => progress(line),
    });
    const restart = options.restartComponents ?? false;
    const log = (name: string): string => join(layout.logsDir, `${name}.log`);
    const admin = loadKubeconfig(layout.kubeconfig);
    const client = new RestClient(admin);
    const probe = new Agent({ connect: { ca: readFileSync(pki.caCert) } });
    const logsFile = join(layout.dataDir, 'kwok', 'container.log');
    await writeFileAtomic(logsFile, simulatedLogLines(), 0o644);
    const uid = process.getuid?.();
    await writeFileAtomic(join(layout.dataDir, 'kwok.yaml'), hostStagesConfig(b.kwokStages) + '---\n' + kubeletSimulationConfig({
      logsFile, portForwards: options.portForwards,
      // kwok runs exec'd commands on this machine: never as root.
      runAs: uid === 0 ? { uid: 65534, gid: 65534 } : undefined,
    }), 0o600);
    let forwarders: NodeKubeletForwarders | undefined;

    try {
      await startCoreComponents({
        supervisor, binaries: b, layout, pki, apiserverPort: settings.apiserverPort, serviceCidr: HOST_SERVICE_CIDR,
        clusterName: 'kubenest',
        // node-lifecycle must run: it lifts the not-ready taint once kwok reports a node Ready.
        controllers: ['*'], kcmPort, client, probe, restart, progress,
      });

      progress('starting kube-scheduler');
      await supervisor.start({
        name: 'kube-scheduler', command: b.path('kube-scheduler'), logFile: log('kube-scheduler'), restart,
        args: [
          `--kubeconfig=${kubeconfigFor(pki, 'scheduler')}`,
          `--authentication-kubeconfig=${kubeconfigFor(pki, 'scheduler')}`,
          `--authorization-kubeconfig=${kubeconfigFor(pki, 'scheduler')}`,
          '--bind-address=127.0.0.1', `--secure-port=${schedulerPort}`, '--leader-elect=false',
          `--tls-cert-file=${pki.cert('loopback-serving')}`, `--tls-private-key-file=${pki.key('loopback-serving')}`,
        ],
        ready: (signal) => healthy(probe, schedulerPort, signal),
      });

      await releaseNodeLeases(client);
      // kwok's port, free on 127.0.0.1 and on every node's address (another host's nodes share them).
      let kwokPort = 0;
      for (let attempt = 0; !forwarders; attempt++) {
        kwokPort = await freePort();
        try {
          forwarders = await NodeKubeletForwarders.start(Array.from({ length: nodeCount }, (_, i) => nodeIp(i)), kwokPort);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw error;
        }
      }
      progress('starting kwok (simulated nodes and pods, and their kubelet API)');
      await supervisor.start({
        name: 'kwok', command: b.path('kwok'), logFile: log('kwok'), restart,
        args: [
          `--kubeconfig=${kubeconfigFor(pki, 'kwok')}`,
          `--config=${join(layout.dataDir, 'kwok.yaml')}`,
          `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
          `--cidr=${HOST_POD_CIDR}`, '--node-ip=127.0.0.1',
          '--node-lease-duration-seconds=40',
          `--server-address=127.0.0.1:${kwokPort}`, `--node-port=${kwokPort}`,
          `--tls-cert-file=${pki.cert('kwok-kubelet')}`, `--tls-private-key-file=${pki.key('kwok-kubelet')}`,
        ],
        // Commands run through kwok's exec get kwok's environment: only what kwok needs, nothing of the user's.
        ownEnvOnly: true, env: kwokEnvironment(),
        ready: async (signal) => (await request(`https://127.0.0.1:${kwokPort}/healthz`, { signal, dispatcher: probe })
          .then(async (r) => { await r.body.dump(); return r.statusCode === 200; })),
      });

      const nodeNames = await reconcileNodes(client, nodeCount, kwokPort);
      progress(`waiting for ${nodeCount} node(s) to be Ready`);
      await waitForNodesReady(client, nodeNames, 90_000);
      await writeFileAtomic(layout.settingsFile, JSON.stringify(settings, null, 2) + '\n');
      const cluster = new HostCluster(layout, supervisor, server, client, nodeNames);
      cluster.forwarders = forwarders;
      // No storage driver here: this process provisions volumes for the default class.
      cluster.provisioner = await startHostProvisioner({ kubeconfig: layout.kubeconfig, dataDir: layout.dataDir, progress });
      return cluster;
    } catch (error) {
      await supervisor.stop();
      await forwarders?.stop();
      await client.close();
      throw error;
    } finally {
      await probe.close();
    }
  }

  override async stop(): Promise<void> {
    await this.provisioner?.stop();
    await super.stop();
    await this.forwarders?.stop();
  }

}



export function hostPkiLeaves(nodeCount = 1): LeafSpec[] {
  return [
    ...controlPlanePkiLeaves(HOST_SERVICE_CIDR),
    // kwok's kubelet API, as the apiserver dials it at each node's InternalIP (verified: ADR 27).
    {
      name: 'kwok-kubelet', commonName: 'kubenest-kwok-kubelet',
      server: { dnsNames: ['localhost'], ips: ['127.0.0.1', ...Array.from({ length: nodeCount }, (_, i) => nodeIp(i))] },
    },
    { name: 'scheduler', commonName: 'system:kube-scheduler', client: true },
    // kwok writes node and pod status for every simulated node; it needs cluster-wide rights.
    { name: 'kwok', commonName: 'kubenest-kwok', organizations: ['system:masters'], client: true },
  ];
}

async function writeComponentKubeconfigs(layout: ClusterLayout, pki: PkiPaths, server: string): Promise<void> {
  for (const name of ['controller-manager', 'scheduler', 'kwok']) {
    await writeKubeconfig(kubeconfigFor(pki, name), { name: `kubenest-${name}`, server, caFile: pki.caCert, certFile: pki.cert(name), keyFile: pki.key(name) });
  }
  await writeKubeconfig(layout.kubeconfig, { name: 'kubenest-host', server, caFile: pki.caCert, certFile: pki.cert('admin'), keyFile: pki.key('admin') });
}

/** kwok's environment: what it and the commands it runs for exec need, none of the user's variables. */
function kwokEnvironment(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir(), LANG: 'C.UTF-8' };
  // Tests record the names Go processes resolve (GODEBUG=netdns=go+2): kept.
  if (process.env['GODEBUG']) env['GODEBUG'] = process.env['GODEBUG'];
  return env;
}

function nodeObject(name: string, index: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '', type: 'kwok',
      },
    },
    // Each node gets its own loopback address: distinct like real nodes, and never routable off the machine.
    status: { addresses: [{ type: 'InternalIP', address: nodeIp(index) }, { type: 'Hostname', address: name }] },
  };
}

/**
 * A kwok that ended left its node leases behind, held under its own identity; a new kwok would
 * not touch those nodes' pods until the leases expire. We run the only kwok, so drop them.
 */
async function releaseNodeLeases(client: RestClient): Promise<void> {
  const nodes = await client.get<{ items: KubeObject[] }>('/api/v1/nodes', { query: { labelSelector: 'type=kwok' } });
  for (const node of nodes.items) {
    try {
      await client.delete(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node.metadata?.name ?? ''}`);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/**
 * Creates kwok-node-0..N-1 where missing, points each at this run's kubelet port (kwok's own
 * stages write it only on a node's first start and heartbeats), and removes simulated nodes beyond N.
 */
async function reconcileNodes(client: RestClient, count: number, kubeletPort: number): Promise<string[]> {
  const wanted = Array.from({ length: count }, (_, i) => `${NODE_PREFIX}${i}`);
  for (const [index, name] of wanted.entries()) {
    try {
      await client.create('/api/v1/nodes', nodeObject(name, index));
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    await client.request('PATCH', `/api/v1/nodes/${name}/status`, {
      body: { status: { daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } } } }, contentType: 'application/merge-patch+json',
    });
  }
  const list = await client.get<{ items: KubeObject[] }>('/api/v1/nodes', { query: { labelSelector: 'type=kwok' } });
  for (const node of list.items) {
    const name = node.metadata?.name ?? '';
    if (name.startsWith(NODE_PREFIX) && !wanted.includes(name)) {
      try {
        await client.delete(`/api/v1/nodes/${name}`);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
  return wanted;
}

async function waitForNodesReady(client: RestClient, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = names;
  while (pending.length > 0) {
    const list = await client.get<{ items: KubeObject[] }>('/api/v1/nodes');
    const ready = new Set(list.items.filter(isSchedulable).map((node) => node.metadata?.name));
    pending = names.filter((name) => !ready.has(name));
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new ControlPlaneError(`node(s) ${pending.join(', ')} did not become Ready and schedulable within ${timeoutMs / 1000}s; see logs/kwok.log and logs/kube-controller-manager.log`);
    }
    await sleep(250);
  }
}

function isSchedulable(node: KubeObject): boolean {
  const status = node['status'] as { conditions?: { type: string; status: string }[] } | undefined;
  const spec = node['spec'] as { taints?: { key: string }[] } | undefined;
  const ready = status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const notReadyTaint = spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready') ?? false;
  return ready && !notReadyTaint;
}

