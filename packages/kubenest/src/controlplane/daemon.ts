import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Binaries } from './binaries.ts';
import { writeFileAtomic } from './files.ts';
import { ControlPlaneError } from './components.ts';
import type { RunningControlPlane} from './control-plane.ts';
import { clusterLayout, prepareDataDir, type ClusterLayout } from './control-plane.ts';
import { HostCluster } from './host-cluster.ts';
import { isAlive, reapRecorded } from './pids.ts';
import { pluginPidsFile } from '../plugins/host.ts';
import type { ComponentStatus } from './supervisor.ts';

/** What `host status` reads: written by the running supervisor, removed when it stops. */
export interface HostState {
  supervisorPid: number;
  server: string;
  kubeconfig: string;
  nodes: string[];
  startedAt: string;
  readyAt?: string;
  components: ComponentStatus[];
}

export interface DaemonEvents {
  progress(line: string): void;
  ready(state: HostState): void;
}

/** Takes the data dir's lock: one supervisor per data dir. */
export function acquireLock(layout: ClusterLayout): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(layout.lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        if (readLockPid(layout) === process.pid) rmSync(layout.lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLockPid(layout);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new ControlPlaneError(`a host cluster is already running from ${layout.dataDir} (supervisor pid ${holder}); ` +
        `see \`kubenest host status --data-dir ${layout.dataDir}\` or stop it with \`kubenest host down --data-dir ${layout.dataDir}\``);
    }
    rmSync(layout.lockFile, { force: true }); // left by a supervisor that was killed
  }
  throw new ControlPlaneError(`could not take the lock ${layout.lockFile}`);
}

export function readLockPid(layout: ClusterLayout): number | undefined {
  try {
    const pid = Number(readFileSync(layout.lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The state a running supervisor wrote (host or virtual cluster), if any. */
export function readState<S = HostState>(layout: ClusterLayout): S | undefined {
  if (!existsSync(layout.stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(layout.stateFile, 'utf8')) as S;
  } catch {
    return undefined;
  }
}

/**
 * Runs a control plane under this process until SIGINT/SIGTERM/SIGHUP, then stops it. Holds the
 * data dir's lock throughout; a bug (uncaught exception) also stops everything. Resolves with
 * the exit code the process should end with.
 */
export async function runSupervised<S extends { components: ComponentStatus[] }>(
  layout: ClusterLayout,
  label: string,
  start: () => Promise<{ plane: RunningControlPlane; state: () => S; stop?: () => Promise<void> }>,
  events: { progress(line: string): void; ready(state: S): void },
): Promise<number> {
  prepareDataDir(layout);
  const release = acquireLock(layout);
  let started: Awaited<ReturnType<typeof start>> | undefined;
  let stopping: Promise<number> | undefined;
  const stop = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      events.progress(`stopping ${label} (${reason})`);
      await started?.stop?.();
      await started?.plane.stop();
      rmSync(layout.stateFile, { force: true });
      release();
      events.progress(`${label} stopped`);
      return 0;
    })();
    return stopping;
  };
  const stopped = new Promise<number>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => { void stop(signal).then(resolve); });
    }
    // A bug in kubenest must not leave the components running without their supervisor.
    process.on('uncaughtException', (error) => {
      events.progress(`internal error: ${error.stack ?? error.message}`);
      void stop('internal error').then(() => resolve(1));
    });
  });

  try {
    const reaped = [...await reapRecorded(layout.pidsFile), ...await reapRecorded(pluginPidsFile(layout.dataDir))];
    if (reaped.length > 0) events.progress(`ended processes left by an earlier run that was killed: ${reaped.join(', ')}`);
    started = await start();
    if (stopping) return await stopping;
    const { plane, state } = started;
    const persist = (): void => { void writeFileAtomic(layout.stateFile, JSON.stringify(state(), null, 2) + '\n', 0o600); };
    plane.supervisor.on('exit', persist);
    plane.supervisor.on('restart', persist);
    await writeFileAtomic(layout.stateFile, JSON.stringify(state(), null, 2) + '\n', 0o600);
    events.ready(state());
    return await stopped;
  } catch (error) {
    await stop('start-up failed');
    throw error;
  }
}

/** Runs a host cluster until it is signalled to stop (see runSupervised). */
export async function runHostDaemon(
  options: { dataDir: string; binaries: Binaries; nodes: number; apiserverPort?: number | undefined },
  events: DaemonEvents,
): Promise<number> {
  const layout = clusterLayout(options.dataDir);
  return runSupervised(layout, 'the host cluster', async () => {
    const startedAt = new Date().toISOString();
    const cluster = await HostCluster.start({
      dataDir: layout.dataDir, binaries: options.binaries, nodes: options.nodes,
      apiserverPort: options.apiserverPort, restartComponents: true,
      progress: (line) => events.progress(line),
    });
    const readyAt = new Date().toISOString();
    const state = (): HostState => ({
      supervisorPid: process.pid, server: cluster.server, kubeconfig: cluster.kubeconfig, nodes: cluster.nodeNames,
      startedAt, readyAt, components: cluster.status(),
    });
    return { plane: cluster, state };
  }, events);
}

/** Asks the supervisor of a data dir (host or virtual cluster) to stop and waits for it; ends leftovers if it was killed. */
export async function stopDaemon(dataDir: string, progress: (line: string) => void, timeoutMs = 90_000): Promise<'stopped' | 'not-running'> {
  const layout = clusterLayout(dataDir);
  const pid = readLockPid(layout);
  if (pid !== undefined && isAlive(pid)) {
    progress(`stopping the supervisor of ${layout.dataDir} (pid ${pid})`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) {
      progress(`the supervisor did not stop within ${timeoutMs / 1000}s; killing it and its components`);
      process.kill(pid, 'SIGKILL');
    }
    await reapRecorded(layout.pidsFile);
    await reapRecorded(pluginPidsFile(layout.dataDir));
    rmSync(layout.lockFile, { force: true });
    rmSync(layout.stateFile, { force: true });
    return 'stopped';
  }
  const reaped = [...await reapRecorded(layout.pidsFile), ...await reapRecorded(pluginPidsFile(layout.dataDir))];
  rmSync(layout.lockFile, { force: true });
  rmSync(layout.stateFile, { force: true });
  if (reaped.length > 0) {
    progress(`ended processes left by a supervisor that was killed: ${reaped.join(', ')}`);
    return 'stopped';
  }
  return 'not-running';
}
