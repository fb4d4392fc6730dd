import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { RestClient, isNotFound, loadKubeconfig } from '@kubenest/kube';
import type { Binaries } from './binaries.ts';
import {
  ControlPlaneError, controlPlanePkiLeaves, keptPort,
  kubeconfigFor, loadSettings,
} from './components.ts';
import { FrontDoor, TokenAuthenticator, type TokenReviewStatus } from '../frontdoor/index.ts';
import { writeFileAtomic } from './files.ts';
import { RunningControlPlane, clusterLayout, prepareDataDir, startCoreComponents, type ClusterLayout } from './control-plane.ts';
import { writeKubeconfig } from './kubeconfig-file.ts';
import { ensureFrontProxyPki, ensurePki, type LeafSpec, type PkiPaths } from './pki.ts';
import { freePort } from './ports.ts';
import { Supervisor } from './supervisor.ts';

/**
 * The controllers a virtual cluster runs, as vCluster does without a virtual scheduler: pods are
 * scheduled on the host, so node IPAM and lifecycle, volume binding and attaching, and TTL are off.
 */
export const VIRTUAL_CONTROLLERS = [
  '*', '-nodeipam', '-nodelifecycle', '-persistentvolume-binder', '-attachdetach',
  '-persistentvolume-expander', '-cloud-node-lifecycle', '-ttl',
];
const VIRTUAL_CONTROLLER_FLAGS = [
  '--node-monitor-grace-period=180s', '--node-monitor-period=30s',
  '--pvclaimbinder-sync-period=60s', '--horizontal-pod-autoscaler-sync-period=60s',
];

export interface VirtualControlPlaneOptions {
  /** The virtual cluster's name (a DNS label). */
  name: string;
  dataDir: string;
  binaries: Binaries;
  /** The host's service range: virtual Services must be able to take the host's ClusterIPs. */
  serviceCidr: string;
  apiserverPort?: number;
  progress?: (line: string) => void;
  restartComponents?: boolean;
}

/**
 * A virtual cluster's own control plane: kine (SQLite in its data dir), kube-apiserver and
 * kube-controller-manager, on loopback. Ready once the controller manager has created the
 * `default` ServiceAccount, which is what workloads and the syncer need first.
 */
export class VirtualControlPlane extends RunningControlPlane {
  readonly name: string;
  /** The authenticating proxy in front of the apiserver, in this process; `server` is its URL. */
  readonly frontDoor: FrontDoor;
  /** The kube-apiserver itself, which only kubenest (the syncers, the front door) calls directly. */
  readonly apiserver: string;
  /** An admin kubeconfig for the apiserver itself (`kubeconfig` is the users', through the front door). */
  readonly apiserverKubeconfig: string;

  private constructor(
    name: string, layout: ClusterLayout, supervisor: Supervisor, client: RestClient,
    direct: { server: string; kubeconfig: string }, frontDoor: FrontDoor,
  ) {
    super(layout, supervisor, frontDoor.url, client);
    this.name = name;
    this.frontDoor = frontDoor;
    this.apiserver = direct.server;
    this.apiserverKubeconfig = direct.kubeconfig;
  }

  override async stop(): Promise<void> {
    await this.frontDoor.stop();
    await super.stop();
  }

  static async start(options: VirtualControlPlaneOptions): Promise<VirtualControlPlane> {
    if (!/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/.test(options.name)) {
      throw new ControlPlaneError(`"${options.name}" is not a valid virtual cluster name: use at most 52 lower-case letters, digits and "-", starting and ending with a letter or digit`);
    }
    const layout = clusterLayout(options.dataDir);
    const progress = options.progress ?? (() => {});
    prepareDataDir(layout);
    const settings = await loadSettings(layout.settingsFile, options.apiserverPort);
    const kcmPort = await freePort();
    const pki = await ensurePki(join(layout.dataDir, 'pki'), [...controlPlanePkiLeaves(options.serviceCidr), frontDoorLeaf(options.serviceCidr)]);
    const frontProxy = await ensureFrontProxyPki(join(layout.dataDir, 'pki'));
    const server = `https://127.0.0.1:${settings.apiserverPort}`;
    await writeKubeconfig(kubeconfigFor(pki, 'controller-manager'), {
      name: `${options.name}-controller-manager`, server, caFile: pki.caCert,
      certFile: pki.cert('controller-manager'), keyFile: pki.key('controller-manager'),
    });
    const direct = { server, kubeconfig: kubeconfigFor(pki, 'admin') };
    await writeKubeconfig(direct.kubeconfig, {
      name: `vcluster_${options.name}`, server, caFile: pki.caCert, certFile: pki.cert('admin'), keyFile: pki.key('admin'),
    });
    const supervisor = new Supervisor({ pidFile: layout.pidsFile, journal: progress });
    const client = new RestClient(loadKubeconfig(direct.kubeconfig), { qps: 1000, burst: 2000 });
    const probe = new Agent({ connect: { ca: readFileSync(pki.caCert) } });
    let frontDoor: FrontDoor | undefined;
    try {
      // The front door first: its port is in the users' kubeconfig, and it answers 503 until the apiserver serves.
      let port = await keptPort(settings.frontDoorPort);
      while (port === settings.apiserverPort || port === kcmPort) port = await keptPort(undefined);
      frontDoor = await startFrontDoor(pki, frontProxy, server, client, port, progress);
      settings.frontDoorPort = frontDoor.port;
      await writeKubeconfig(layout.kubeconfig, {
        name: `vcluster_${options.name}`, server: frontDoor.url, caFile: pki.caCert, certFile: pki.cert('admin'), keyFile: pki.key('admin'),
      });
      await startCoreComponents({
        supervisor, binaries: options.binaries, layout, pki, frontProxy, apiserverPort: settings.apiserverPort, kcmPort,
        serviceCidr: options.serviceCidr, clusterName: options.name, controllers: VIRTUAL_CONTROLLERS,
        controllerFlags: VIRTUAL_CONTROLLER_FLAGS, client, probe, restart: options.restartComponents ?? false,
        progress, label: options.name,
      });
      await waitForDefaultServiceAccount(client, 60_000);
      await writeFileAtomic(layout.settingsFile, JSON.stringify(settings, null, 2) + '\n');
      return new VirtualControlPlane(options.name, layout, supervisor, client, direct, frontDoor);
    } catch (error) {
      await frontDoor?.stop();
      await supervisor.stop();
      await client.close();
      throw error;
    } finally {
      await probe.close();
    }
  }

}

/** The front door's serving certificate: every name the apiserver's has (pods reach it as `kubernetes.default`). */
function frontDoorLeaf(serviceCidr: string): LeafSpec {
  const apiserver = controlPlanePkiLeaves(serviceCidr).find((leaf) => leaf.name === 'apiserver')!;
  return { ...apiserver, name: 'front-door', commonName: 'kubenest-front-door' };
}

async function startFrontDoor(
  pki: PkiPaths, frontProxy: { caCert: string; clientCert: string; clientKey: string }, apiserver: string, client: RestClient, port: number,
  progress: (line: string) => void,
): Promise<FrontDoor> {
  const review = async (token: string): Promise<TokenReviewStatus> => {
    const answer = await client.request<{ status?: TokenReviewStatus }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }, timeoutMs: 10_000,
    });
    return answer.status ?? {};
  };
  return FrontDoor.start({
    port, servingCert: readFileSync(pki.cert('front-door')), servingKey: readFileSync(pki.key('front-door')), clientCa: readFileSync(pki.caCert),
    apiserver: { url: apiserver, ca: readFileSync(pki.caCert), cert: readFileSync(frontProxy.clientCert), key: readFileSync(frontProxy.clientKey) },
    tokens: new TokenAuthenticator({ review }), log: progress,
  });
}

async function waitForDefaultServiceAccount(client: RestClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.get('/api/v1/namespaces/default/serviceaccounts/default', { timeoutMs: 5_000 });
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (Date.now() > deadline) {
      throw new ControlPlaneError(`the default ServiceAccount did not appear within ${timeoutMs / 1000}s; see logs/kube-controller-manager.log`);
    }
    await sleep(200);
  }
}
