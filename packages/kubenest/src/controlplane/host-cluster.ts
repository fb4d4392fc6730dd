import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { RestClient, isAlreadyExists, isNotFound, loadKubeconfig } from '@kubenest/kube';
import type { KubeObject } from '@kubenest/kube';
import type { Binaries } from './binaries.ts';
import { writeFileAtomic } from './files.ts';
import { writeKubeconfig } from './kubeconfig-file.ts';
import { ensurePki, type LeafSpec, type PkiPaths } from './pki.ts';
import { freePort, portIsFree } from './ports.ts';
import { Supervisor, type ComponentStatus } from './supervisor.ts';

export const HOST_SERVICE_CIDR = '10.96.0.0/12';
const HOST_FIRST_SERVICE_IP = '10.96.0.1';
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
}

/** Settings that must survive restarts of the same data dir. */
interface ClusterSettings {
  apiserverPort: number;
  createdAt: string;
}

export interface HostLayout {
  dataDir: string;
  settingsFile: string;
  kubeconfig: string;
  logsDir: string;
  runDir: string;
  pidsFile: string;
  lockFile: string;
  stateFile: string;
}

export function hostLayout(dataDir: string): HostLayout {
  const dir = resolve(dataDir);
  return {
    dataDir: dir,
    settingsFile: join(dir, 'cluster.json'),
    kubeconfig: join(dir, 'kubeconfig'),
    logsDir: join(dir, 'logs'),
    runDir: join(dir, 'run'),
    pidsFile: join(dir, 'run', 'pids.json'),
    lockFile: join(dir, 'run', 'supervisor.pid'),
    stateFile: join(dir, 'run', 'state.json'),
  };
}

export class HostClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostClusterError';
  }
}

/**
 * A local host cluster: kine (SQLite) + kube-apiserver + kube-controller-manager + kube-scheduler
 * + kwok with simulated nodes, every listener on loopback. Objects persist in the data dir.
 */
export class HostCluster {
  readonly layout: HostLayout;
  readonly supervisor: Supervisor;
  readonly server: string;
  readonly client: RestClient;
  readonly nodeNames: string[];

  private constructor(layout: HostLayout, supervisor: Supervisor, server: string, client: RestClient, nodeNames: string[]) {
    this.layout = layout;
    this.supervisor = supervisor;
    this.server = server;
    this.client = client;
    this.nodeNames = nodeNames;
  }

  get kubeconfig(): string {
    return this.layout.kubeconfig;
  }

  static async start(options: HostClusterOptions): Promise<HostCluster> {
    const layout = hostLayout(options.dataDir);
    const progress = options.progress ?? (() => {});
    const nodeCount = options.nodes ?? 1;
    if (!Number.isInteger(nodeCount) || nodeCount < 0 || nodeCount > 1000) {
      throw new HostClusterError(`--nodes must be a whole number from 0 to 1000 (got ${options.nodes})`);
    }
    prepareDataDir(layout);
    const settings = await loadSettings(layout, options.apiserverPort);
    const [kcmPort, schedulerPort, kwokPort] = [await freePort(), await freePort(), await freePort()];
    const pki = await ensurePki(join(layout.dataDir, 'pki'), hostPkiLeaves());
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
    const kineSocket = kineSocketPath(layout.dataDir);
    const stages = b.kwokStages.map((file) => readFileSync(file, 'utf8').trim()).join('\n---\n');
    await writeFileAtomic(join(layout.dataDir, 'kwok.yaml'), `${stages}\n`, 0o600);

    try {
      progress('starting kine (SQLite storage)');
      rmSync(kineSocket, { force: true });
      await supervisor.start({
        name: 'kine', command: b.path('kine'), logFile: log('kine'), restart,
        args: kineArgs(join(layout.dataDir, 'kine', 'state.db'), kineSocket),
        ready: () => socketAccepts(kineSocket),
      });

      progress(`starting kube-apiserver on ${server}`);
      await supervisor.start({
        name: 'kube-apiserver', command: b.path('kube-apiserver'), logFile: log('kube-apiserver'), restart,
        readyTimeoutMs: 120_000,
        args: apiserverArgs(pki, settings.apiserverPort, kineSocket, layout.dataDir),
        ready: async (signal) => (await client.raw('GET', '/readyz', { signal, timeoutMs: 5_000 })).status === 200,
      });

      progress('starting kube-controller-manager');
      await supervisor.start({
        name: 'kube-controller-manager', command: b.path('kube-controller-manager'), logFile: log('kube-controller-manager'), restart,
        args: controllerManagerArgs(pki, kcmPort, join(layout.dataDir, 'pki')),
        ready: (signal) => healthy(probe, kcmPort, signal),
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
      progress('starting kwok (simulated nodes and pods)');
      await supervisor.start({
        name: 'kwok', command: b.path('kwok'), logFile: log('kwok'), restart,
        args: [
          `--kubeconfig=${kubeconfigFor(pki, 'kwok')}`,
          `--config=${join(layout.dataDir, 'kwok.yaml')}`,
          `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
          `--cidr=${HOST_POD_CIDR}`, '--node-ip=127.0.0.1',
          '--node-lease-duration-seconds=40',
          `--server-address=127.0.0.1:${kwokPort}`,
        ],
        ready: async (signal) => (await request(`http://127.0.0.1:${kwokPort}/healthz`, { signal })
          .then(async (r) => { await r.body.dump(); return r.statusCode === 200; })),
      });

      const nodeNames = await reconcileNodes(client, nodeCount);
      progress(`waiting for ${nodeCount} node(s) to be Ready`);
      await waitForNodesReady(client, nodeNames, 90_000);
      await writeFileAtomic(layout.settingsFile, JSON.stringify(settings, null, 2) + '\n');
      return new HostCluster(layout, supervisor, server, client, nodeNames);
    } catch (error) {
      await supervisor.stop();
      await client.close();
      throw error;
    } finally {
      await probe.close();
    }
  }

  status(): ComponentStatus[] {
    return this.supervisor.status();
  }

  async stop(): Promise<void> {
    await this.supervisor.stop();
    await this.client.close();
  }
}

export function prepareDataDir(layout: HostLayout): void {
  try {
    for (const dir of [layout.dataDir, layout.logsDir, layout.runDir, join(layout.dataDir, 'kine')]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    const probe = join(layout.runDir, '.writable');
    // A read-only or foreign-owned directory fails here, before any process starts.
    rmSync(probe, { force: true });
    mkdirSync(probe);
    rmSync(probe, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new HostClusterError(`the data dir ${layout.dataDir} is not writable (${code}); choose another with --data-dir or fix its permissions`);
  }
}

async function loadSettings(layout: HostLayout, requestedPort: number | undefined): Promise<ClusterSettings> {
  let saved: ClusterSettings | undefined;
  if (existsSync(layout.settingsFile)) {
    try {
      saved = JSON.parse(readFileSync(layout.settingsFile, 'utf8')) as ClusterSettings;
    } catch (error) {
      throw new HostClusterError(`${layout.settingsFile} is not valid JSON (${(error as Error).message}); fix or delete it (the cluster's objects are in kine/state.db and are kept)`);
    }
  }
  if (requestedPort !== undefined) {
    if (!Number.isInteger(requestedPort) || requestedPort < 1 || requestedPort > 65535) {
      throw new HostClusterError(`--port must be a TCP port from 1 to 65535 (got ${requestedPort})`);
    }
    if (!(await portIsFree(requestedPort))) {
      throw new HostClusterError(`--port ${requestedPort} is in use on 127.0.0.1; pick another port or omit --port to get a free one`);
    }
    return { createdAt: saved?.createdAt ?? new Date().toISOString(), apiserverPort: requestedPort };
  }
  // Keep the port across restarts so kubeconfigs handed out earlier stay valid.
  if (saved && (await portIsFree(saved.apiserverPort))) return saved;
  return { createdAt: saved?.createdAt ?? new Date().toISOString(), apiserverPort: await freePort() };
}

export function kineArgs(databaseFile: string, socket: string): string[] {
  return [
    // The DSN parameters are the ones vCluster uses for its embedded SQLite.
    `--endpoint=sqlite://${databaseFile}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate`,
    `--listen-address=unix://${socket}`,
    '--metrics-bind-address=0',
  ];
}

export function hostPkiLeaves(): LeafSpec[] {
  const loopback = { dnsNames: ['localhost'], ips: ['127.0.0.1'] };
  return [
    {
      name: 'apiserver', commonName: 'kube-apiserver',
      server: {
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ips: ['127.0.0.1', HOST_FIRST_SERVICE_IP],
      },
    },
    { name: 'loopback-serving', commonName: 'localhost', server: loopback },
    { name: 'admin', commonName: 'kubenest-admin', organizations: ['system:masters'], client: true },
    { name: 'controller-manager', commonName: 'system:kube-controller-manager', client: true },
    { name: 'scheduler', commonName: 'system:kube-scheduler', client: true },
    // kwok writes node and pod status for every simulated node; it needs cluster-wide rights.
    { name: 'kwok', commonName: 'kubenest-kwok', organizations: ['system:masters'], client: true },
  ];
}

function kubeconfigFor(pki: PkiPaths, name: string): string {
  return join(pki.dir, `${name}.kubeconfig`);
}

async function writeComponentKubeconfigs(layout: HostLayout, pki: PkiPaths, server: string): Promise<void> {
  for (const name of ['controller-manager', 'scheduler', 'kwok']) {
    await writeKubeconfig(kubeconfigFor(pki, name), { name: `kubenest-${name}`, server, caFile: pki.caCert, certFile: pki.cert(name), keyFile: pki.key(name) });
  }
  await writeKubeconfig(layout.kubeconfig, { name: 'kubenest-host', server, caFile: pki.caCert, certFile: pki.cert('admin'), keyFile: pki.key('admin') });
}

export function apiserverArgs(pki: PkiPaths, port: number, kineSocket: string, dataDir: string): string[] {
  return [
    `--etcd-servers=unix://${kineSocket}`,
    '--bind-address=127.0.0.1', `--secure-port=${port}`,
    // Without this the apiserver advertises the machine's eth0 address; loopback is the only
    // address anything may dial here, and loopback is illegal in Endpoints, hence no reconciler.
    '--advertise-address=127.0.0.1', '--endpoint-reconciler-type=none',
    `--tls-cert-file=${pki.cert('apiserver')}`, `--tls-private-key-file=${pki.key('apiserver')}`,
    `--cert-dir=${join(dataDir, 'pki')}`,
    `--client-ca-file=${pki.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${HOST_SERVICE_CIDR}`,
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true', '--enable-bootstrap-token-auth=true', '--profiling=false',
  ];
}

function controllerManagerArgs(pki: PkiPaths, port: number, pkiDir: string): string[] {
  const kubeconfig = kubeconfigFor(pki, 'controller-manager');
  return [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${port}`, `--cert-dir=${pkiDir}`,
    `--tls-cert-file=${pki.cert('loopback-serving')}`, `--tls-private-key-file=${pki.key('loopback-serving')}`,
    '--leader-elect=false', '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccountKey}`, `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
    '--cluster-name=kubenest', `--service-cluster-ip-range=${HOST_SERVICE_CIDR}`,
    // node-lifecycle must run: it lifts the not-ready taint once kwok reports a node Ready.
    '--controllers=*',
  ];
}

/** kine listens on a unix socket; paths longer than the kernel's limit fall back to a private /tmp dir. */
export function kineSocketPath(dataDir: string): string {
  const inDir = join(dataDir, 'kine.sock');
  if (Buffer.byteLength(inDir) <= 100) return inDir;
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `kubenest-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, `${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}.sock`);
}

export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(path);
    socket.once('connect', () => { socket.destroy(); resolvePromise(true); });
    socket.once('error', () => resolvePromise(false));
  });
}

async function healthy(agent: Agent, port: number, signal: AbortSignal): Promise<boolean> {
  const response = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent, signal });
  await response.body.dump();
  return response.statusCode === 200;
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
    status: { addresses: [{ type: 'InternalIP', address: `127.0.1.${index + 1}` }, { type: 'Hostname', address: name }] },
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

/** Creates kwok-node-0..N-1 where missing and removes simulated nodes beyond N. */
async function reconcileNodes(client: RestClient, count: number): Promise<string[]> {
  const wanted = Array.from({ length: count }, (_, i) => `${NODE_PREFIX}${i}`);
  for (const [index, name] of wanted.entries()) {
    try {
      await client.create('/api/v1/nodes', nodeObject(name, index));
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
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
      throw new HostClusterError(`node(s) ${pending.join(', ')} did not become Ready and schedulable within ${timeoutMs / 1000}s; see logs/kwok.log and logs/kube-controller-manager.log`);
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

