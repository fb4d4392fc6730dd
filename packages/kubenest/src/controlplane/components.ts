import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Agent } from 'undici';
import { APISERVER_KUBELET_CLIENT_CN } from '../kubelet/endpoint.ts';
import type { FrontProxyPki, LeafSpec, PkiPaths } from './pki.ts';
import { freePort, portIsFree } from './ports.ts';

/** Flags and files shared by the host cluster and the virtual control planes. */

/** A problem the user can fix (a port, a directory, a file); shown without a stack trace. */
export class ControlPlaneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}

/** Settings that must survive restarts of the same data dir. */
export interface ClusterSettings {
  apiserverPort: number;
  /** A virtual cluster's front door (the authenticating proxy users reach): kept like the apiserver's. */
  frontDoorPort?: number | undefined;
  createdAt: string;
}

/** The apiserver port: the one asked for, else the one used last time (if free), else a free one. */
export async function loadSettings(settingsFile: string, requestedPort: number | undefined): Promise<ClusterSettings> {
  let saved: ClusterSettings | undefined;
  if (existsSync(settingsFile)) {
    try {
      saved = JSON.parse(readFileSync(settingsFile, 'utf8')) as ClusterSettings;
    } catch (error) {
      throw new ControlPlaneError(`${settingsFile} is not valid JSON (${(error as Error).message}); fix or delete it (the cluster's objects are in kine/state.db and are kept)`);
    }
  }
  if (requestedPort !== undefined) {
    if (!Number.isInteger(requestedPort) || requestedPort < 1 || requestedPort > 65535) {
      throw new ControlPlaneError(`--port must be a TCP port from 1 to 65535 (got ${requestedPort})`);
    }
    if (!(await portIsFree(requestedPort))) {
      throw new ControlPlaneError(`--port ${requestedPort} is in use on 127.0.0.1; pick another port or omit --port to get a free one`);
    }
    return { ...saved, createdAt: saved?.createdAt ?? new Date().toISOString(), apiserverPort: requestedPort };
  }
  // Keep the port across restarts so kubeconfigs handed out earlier stay valid.
  if (saved && await portFreesUp(saved.apiserverPort)) return saved;
  return { ...saved, createdAt: saved?.createdAt ?? new Date().toISOString(), apiserverPort: await freePort() };
}

/** The port used last time if it is free (or frees up within seconds), else a free one. */
export async function keptPort(previous: number | undefined): Promise<number> {
  return previous !== undefined && await portFreesUp(previous) ? previous : freePort();
}

/** True when the port is free, or frees up within 5 s (a previous process that was just ended may hold it a moment longer). */
async function portFreesUp(port: number): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    if (await portIsFree(port)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function kineArgs(databaseFile: string, socket: string): string[] {
  return [
    // The DSN parameters are the ones vCluster uses for its embedded SQLite.
    `--endpoint=sqlite://${databaseFile}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate`,
    `--listen-address=unix://${socket}`,
    '--metrics-bind-address=0',
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

/** GET /healthz on a component's loopback port, verifying its certificate against our CA. */
export async function healthy(agent: Agent, port: number, signal: AbortSignal): Promise<boolean> {
  const response = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent, signal });
  await response.body.dump();
  return response.statusCode === 200;
}

/** The first address of an IPv4 service range: the `kubernetes` Service's ClusterIP. */
export function firstServiceIp(cidr: string): string {
  const [base, bits] = cidr.split('/');
  const octets = (base ?? '').split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) || !bits) {
    throw new Error(`not an IPv4 CIDR: ${cidr}`);
  }
  const value = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  const first = ((value & mask) + 1) >>> 0;
  return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.');
}

/** Certificates every control plane needs: the apiserver's, a loopback serving one, admin and KCM clients. */
export function controlPlanePkiLeaves(serviceCidr: string): LeafSpec[] {
  return [
    {
      name: 'apiserver', commonName: 'kube-apiserver',
      server: {
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ips: ['127.0.0.1', firstServiceIp(serviceCidr)],
      },
    },
    { name: 'loopback-serving', commonName: 'localhost', server: { dnsNames: ['localhost'], ips: ['127.0.0.1'] } },
    { name: 'admin', commonName: 'kubenest-admin', organizations: ['system:masters'], client: true },
    { name: 'controller-manager', commonName: 'system:kube-controller-manager', client: true },
    // What the apiserver presents to kubelets (logs, exec, port-forward); a kubelet endpoint of ours lets only this name in.
    { name: 'apiserver-kubelet-client', commonName: APISERVER_KUBELET_CLIENT_CN, client: true },
  ];
}

export function kubeconfigFor(pki: PkiPaths, name: string): string {
  return join(pki.dir, `${name}.kubeconfig`);
}

/**
 * The flags that make the apiserver take the caller's identity from an authenticating front proxy
 * (X-Remote-User, X-Remote-Group, X-Remote-Extra-*), from that proxy's client certificate only.
 */
export function requestHeaderArgs(frontProxy: FrontProxyPki): string[] {
  return [
    `--requestheader-client-ca-file=${frontProxy.caCert}`,
    `--requestheader-allowed-names=${frontProxy.clientName}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
  ];
}

export function apiserverArgs(options: {
  pki: PkiPaths; port: number; kineSocket: string; dataDir: string; serviceCidr: string; frontProxy?: FrontProxyPki | undefined;
}): string[] {
  const { pki } = options;
  return [
    `--etcd-servers=unix://${options.kineSocket}`,
    '--bind-address=127.0.0.1', `--secure-port=${options.port}`,
    // Without this the apiserver advertises the machine's eth0 address; loopback is the only
    // address anything may dial here, and loopback is illegal in Endpoints, hence no reconciler.
    '--advertise-address=127.0.0.1', '--endpoint-reconciler-type=none',
    // Logs, exec and port-forward dial the node's kubelet: at its InternalIP (127.0.1.x here),
    // never at a Hostname, which would send a DNS query off the machine.
    '--kubelet-preferred-address-types=InternalIP',
    // The kubelets answering there (kubenest's endpoint for a virtual cluster, kwok on the local
    // host) hold serving certificates of this cluster's CA for those addresses: verified (ADR 27).
    `--kubelet-certificate-authority=${pki.caCert}`,
    `--kubelet-client-certificate=${pki.cert('apiserver-kubelet-client')}`, `--kubelet-client-key=${pki.key('apiserver-kubelet-client')}`,
    `--tls-cert-file=${pki.cert('apiserver')}`, `--tls-private-key-file=${pki.key('apiserver')}`,
    `--cert-dir=${join(options.dataDir, 'pki')}`,
    `--client-ca-file=${pki.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${options.serviceCidr}`,
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true', '--enable-bootstrap-token-auth=true', '--profiling=false',
    ...(options.frontProxy ? requestHeaderArgs(options.frontProxy) : []),
  ];
}

export function controllerManagerArgs(options: {
  pki: PkiPaths; port: number; serviceCidr: string; clusterName: string; controllers: string[]; extra?: string[];
}): string[] {
  const { pki } = options;
  const kubeconfig = kubeconfigFor(pki, 'controller-manager');
  return [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${options.port}`, `--cert-dir=${pki.dir}`,
    `--tls-cert-file=${pki.cert('loopback-serving')}`, `--tls-private-key-file=${pki.key('loopback-serving')}`,
    '--leader-elect=false', '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccountKey}`, `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
    `--cluster-name=${options.clusterName}`, `--service-cluster-ip-range=${options.serviceCidr}`,
    `--controllers=${options.controllers.join(',')}`,
    ...(options.extra ?? []),
  ];
}
