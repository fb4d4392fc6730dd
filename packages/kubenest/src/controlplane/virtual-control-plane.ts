import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { RestClient, isNotFound, loadKubeconfig } from '@kubenest/kube';
import type { Binaries } from './binaries.ts';
import {
  ControlPlaneError, controlPlanePkiLeaves,
  kubeconfigFor, loadSettings,
} from './components.ts';
import { writeFileAtomic } from './files.ts';
import { RunningControlPlane, clusterLayout, prepareDataDir, startCoreComponents, type ClusterLayout } from './control-plane.ts';
import { writeKubeconfig } from './kubeconfig-file.ts';
import { ensurePki } from './pki.ts';
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

  private constructor(name: string, layout: ClusterLayout, supervisor: Supervisor, server: string, client: RestClient) {
    super(layout, supervisor, server, client);
    this.name = name;
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
    const pki = await ensurePki(join(layout.dataDir, 'pki'), controlPlanePkiLeaves(options.serviceCidr));
    const server = `https://127.0.0.1:${settings.apiserverPort}`;
    await writeKubeconfig(kubeconfigFor(pki, 'controller-manager'), {
      name: `${options.name}-controller-manager`, server, caFile: pki.caCert,
      certFile: pki.cert('controller-manager'), keyFile: pki.key('controller-manager'),
    });
    await writeKubeconfig(layout.kubeconfig, {
      name: `vcluster_${options.name}`, server, caFile: pki.caCert, certFile: pki.cert('admin'), keyFile: pki.key('admin'),
    });
    const supervisor = new Supervisor({ pidFile: layout.pidsFile, journal: progress });
    const client = new RestClient(loadKubeconfig(layout.kubeconfig), { qps: 1000, burst: 2000 });
    const probe = new Agent({ connect: { ca: readFileSync(pki.caCert) } });
    try {
      await startCoreComponents({
        supervisor, binaries: options.binaries, layout, pki, apiserverPort: settings.apiserverPort, kcmPort,
        serviceCidr: options.serviceCidr, clusterName: options.name, controllers: VIRTUAL_CONTROLLERS,
        controllerFlags: VIRTUAL_CONTROLLER_FLAGS, client, probe, restart: options.restartComponents ?? false,
        progress, label: options.name,
      });
      await waitForDefaultServiceAccount(client, 60_000);
      await writeFileAtomic(layout.settingsFile, JSON.stringify(settings, null, 2) + '\n');
      return new VirtualControlPlane(options.name, layout, supervisor, server, client);
    } catch (error) {
      await supervisor.stop();
      await client.close();
      throw error;
    } finally {
      await probe.close();
    }
  }

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
