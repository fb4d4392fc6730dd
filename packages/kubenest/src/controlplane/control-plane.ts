import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Agent } from 'undici';
import type { RestClient } from '@kubenest/kube';
import type { Binaries } from './binaries.ts';
import {
  ControlPlaneError, apiserverArgs, controllerManagerArgs, healthy, kineArgs, kineSocketPath, socketAccepts,
} from './components.ts';
import type { FrontProxyPki, PkiPaths } from './pki.ts';
import type { ComponentStatus, Supervisor } from './supervisor.ts';

/** Where a cluster (host or virtual) keeps its state, logs and run files. */
export interface ClusterLayout {
  dataDir: string;
  settingsFile: string;
  kubeconfig: string;
  logsDir: string;
  runDir: string;
  pidsFile: string;
  lockFile: string;
  stateFile: string;
}

export function clusterLayout(dataDir: string): ClusterLayout {
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

export function prepareDataDir(layout: ClusterLayout): void {
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
    throw new ControlPlaneError(`the data dir ${layout.dataDir} is not writable (${code}); choose another with --data-dir or fix its permissions`);
  }
}

/** A started control plane: its processes, its API endpoint and an admin client. */
export class RunningControlPlane {
  readonly layout: ClusterLayout;
  readonly supervisor: Supervisor;
  readonly server: string;
  readonly client: RestClient;

  protected constructor(layout: ClusterLayout, supervisor: Supervisor, server: string, client: RestClient) {
    this.layout = layout;
    this.supervisor = supervisor;
    this.server = server;
    this.client = client;
  }

  get kubeconfig(): string {
    return this.layout.kubeconfig;
  }

  status(): ComponentStatus[] {
    return this.supervisor.status();
  }

  async stop(): Promise<void> {
    await this.supervisor.stop();
    await this.client.close();
  }
}

export interface CoreComponentsOptions {
  supervisor: Supervisor;
  binaries: Binaries;
  layout: ClusterLayout;
  pki: PkiPaths;
  apiserverPort: number;
  /** A virtual cluster's: the apiserver trusts its front door's identity headers. */
  frontProxy?: FrontProxyPki | undefined;
  kcmPort: number;
  serviceCidr: string;
  clusterName: string;
  controllers: string[];
  controllerFlags?: string[];
  /** Admin client, for the apiserver's readiness. */
  client: RestClient;
  /** TLS agent trusting the cluster CA, for the controller manager's readiness. */
  probe: Agent;
  restart: boolean;
  progress: (line: string) => void;
  /** Prefix for progress lines (a virtual cluster's name). */
  label?: string;
}

/** kine, then kube-apiserver, then kube-controller-manager, each started once the previous one serves. */
export async function startCoreComponents(o: CoreComponentsOptions): Promise<void> {
  const say = (line: string): void => o.progress(o.label ? `${o.label}: ${line}` : line);
  const log = (name: string): string => join(o.layout.logsDir, `${name}.log`);
  const kineSocket = kineSocketPath(o.layout.dataDir);
  const b = o.binaries;
  say('starting kine (SQLite storage)');
  rmSync(kineSocket, { force: true }); // left behind by a kine that was killed
  await o.supervisor.start({
    name: 'kine', command: b.path('kine'), logFile: log('kine'), restart: o.restart,
    args: kineArgs(join(o.layout.dataDir, 'kine', 'state.db'), kineSocket),
    ready: () => socketAccepts(kineSocket),
  });
  say(`starting kube-apiserver on https://127.0.0.1:${o.apiserverPort}`);
  await o.supervisor.start({
    name: 'kube-apiserver', command: b.path('kube-apiserver'), logFile: log('kube-apiserver'), restart: o.restart,
    readyTimeoutMs: 120_000,
    args: apiserverArgs({ pki: o.pki, port: o.apiserverPort, kineSocket, dataDir: o.layout.dataDir, serviceCidr: o.serviceCidr, frontProxy: o.frontProxy }),
    ready: async (signal) => (await o.client.raw('GET', '/readyz', { signal, timeoutMs: 5_000 })).status === 200,
  });
  say('starting kube-controller-manager');
  await o.supervisor.start({
    name: 'kube-controller-manager', command: b.path('kube-controller-manager'), logFile: log('kube-controller-manager'), restart: o.restart,
    args: controllerManagerArgs({
      pki: o.pki, port: o.kcmPort, serviceCidr: o.serviceCidr, clusterName: o.clusterName,
      controllers: o.controllers, ...(o.controllerFlags ? { extra: o.controllerFlags } : {}),
    }),
    ready: (signal) => healthy(o.probe, o.kcmPort, signal),
  });
}
