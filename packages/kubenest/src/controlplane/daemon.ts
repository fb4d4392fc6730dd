import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Binaries } from './binaries.ts';
import { writeFileAtomic } from './files.ts';
import { ControlPlaneError } from './components.ts';
import type { RunningControlPlane} from './control-plane.ts';
import { clusterLayout, prepareDataDir, type ClusterLayout } from './control-plane.ts';
import { HostCluster } from './host-cluster.ts';
import { isLockHeld, tryLock, type LockName } from './lock.ts';
import { isKeeperProcess, keeperFile, readKeeperState, type Exit } from './keeper.ts';
import { isAlive, isOurProcess, readPidFile, readPids, reapRecorded, signalProcess } from './pids.ts';
import { pluginPidsFile } from '../plugins/files.ts';
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

/**
 * Takes the data dir's lock: one supervisor per data dir. The lock itself is held by the kernel
 * for this process (`tryLock`, ADR 32); `run/supervisor.pid` only says who holds it, for status
 * and messages, and is written whole after the lock is taken.
 */
export async function acquireLock(layout: ClusterLayout): Promise<() => void> {
  const release = await tryLock(supervisorLock(layout));
  if (!release) {
    const holder = readLockPid(layout);
    throw new LockHeldError(`a host cluster is already running from ${layout.dataDir} (${holder !== undefined && isAlive(holder) ? `supervisor pid ${holder}` : 'its supervisor is starting'}); ` +
      `see \`kubenest host status --data-dir ${layout.dataDir}\` or stop it with \`kubenest host down --data-dir ${layout.dataDir}\``);
  }
  try {
    await writeFileAtomic(layout.lockFile, String(process.pid), 0o600);
  } catch (error) {
    release();
    throw error;
  }
  return () => {
    if (readLockPid(layout) === process.pid) rmSync(layout.lockFile, { force: true });
    release();
  };
}

/** The data dir's supervisor lock: its secret is kept in the data dir itself. */
export function supervisorLock(layout: ClusterLayout): LockName {
  return { key: 'supervisor', secretDir: layout.dataDir };
}

/** Another process holds the lock: the supervisor that met it exits with LOCK_HELD_EXIT (keeper.ts), and its keeper touches nothing. */
export class LockHeldError extends ControlPlaneError {}

/** The pid `run/supervisor.pid` names; undefined when there is none (or no pid in it). */
export function readLockPid(layout: ClusterLayout): number | undefined {
  return readPidFile(layout.lockFile);
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
  const release = await acquireLock(layout);
  type Started = Awaited<ReturnType<typeof start>>;
  let started: Started | undefined;
  let starting: Promise<Started> | undefined;
  let stopping: Promise<number> | undefined;
  const stop = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      events.progress(`stopping ${label} (${reason})`);
      let running = started;
      if (!running && starting) {
        // Signalled while starting: end each component as soon as it is recorded, so the start
        // fails fast instead of finishing first; what it still finished is stopped below.
        const settled = starting.then((value) => ({ value }), () => ({ value: undefined }));
        for (;;) {
          const outcome = await Promise.race([settled, sleep(300).then(() => undefined)]);
          if (outcome) {
            running = outcome.value;
            break;
          }
          await reapRecorded(layout.pidsFile);
        }
      }
      await running?.stop?.();
      await running?.plane.stop();
      rmSync(layout.stateFile, { force: true });
      release();
      events.progress(`${label} stopped`);
      return 0;
    })();
    return stopping;
  };
  const stopRequested = (): boolean => stopping !== undefined;
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
    const restart = Number(process.env['KUBENEST_SUPERVISOR_RESTART'] ?? 0);
    if (restart > 0) events.progress(`starting ${label} again after its supervisor crashed (restart #${restart})`);
    const reaped = [...await reapRecorded(layout.pidsFile), ...await reapRecorded(pluginPidsFile(layout.dataDir))];
    if (reaped.length > 0) events.progress(`ended processes left by an earlier run that was killed: ${reaped.join(', ')}`);
    rmSync(layout.stateFile, { force: true }); // an earlier run's, if it was killed
    if (stopRequested()) return await stopped;
    starting = start();
    started = await starting;
    if (stopRequested()) return await stopped;
    const { plane, state } = started;
    const persist = (): void => {
      if (!stopRequested()) void writeFileAtomic(layout.stateFile, JSON.stringify(state(), null, 2) + '\n', 0o600);
    };
    plane.supervisor.on('exit', persist);
    plane.supervisor.on('restart', persist);
    // What changes without an event (a virtual cluster's Lease) reaches `list` within seconds.
    const refresh = setInterval(persist, 5_000);
    void stopped.then(() => clearInterval(refresh));
    await writeFileAtomic(layout.stateFile, JSON.stringify(state(), null, 2) + '\n', 0o600);
    events.ready(state());
    return await stopped;
  } catch (error) {
    // Stopped by a signal while starting: the start failed because of that, not on its own.
    if (stopRequested()) return await stopped;
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

/** The pid to signal to stop a data dir's cluster: its keeper if it has one, else its supervisor. */
export function daemonPid(layout: ClusterLayout): { keeper?: number | undefined; supervisor?: number | undefined } {
  const keeper = readKeeperState(layout.runDir);
  const supervisor = readLockPid(layout);
  return {
    keeper: keeper && isKeeperProcess(keeper.pid) ? keeper.pid : undefined,
    // The pid file alone could name a pid reused since (after a reboot, say): the lock says whether a supervisor runs.
    supervisor: supervisor !== undefined && isAlive(supervisor) && isLockHeld(supervisorLock(layout)) ? supervisor : undefined,
  };
}

/** True while something runs the data dir's cluster: its supervisor, or a keeper recovering it. */
export function isDaemonRunning(layout: ClusterLayout): boolean {
  const { keeper, supervisor } = daemonPid(layout);
  return keeper !== undefined || supervisor !== undefined;
}

export type Phase = 'running' | 'starting' | 'recovering' | 'degraded' | 'stopping' | 'failed' | 'stopped';

export interface DaemonStatus<S> {
  phase: Phase;
  /** recovering: since when and why; degraded: which components; failed: why. */
  detail?: string | undefined;
  supervisorPid?: number | undefined;
  keeperPid?: number | undefined;
  /** Times the keeper started the supervisor again after a crash. */
  supervisorRestarts: number;
  lastRestartAt?: string | undefined;
  lastCrash?: Exit | undefined;
  /** The running supervisor's own state (its components), once it is ready. */
  state?: S | undefined;
}

/**
 * What is true of a data dir's cluster, from its keeper, its supervisor and the pids they
 * recorded; never `stopped` while a process of it runs.
 */
export function daemonStatus<S extends { supervisorPid: number; components: ComponentStatus[]; leading?: boolean }>(layout: ClusterLayout): DaemonStatus<S> {
  const keeper = readKeeperState(layout.runDir);
  const { keeper: keeperPid, supervisor: supervisorPid } = daemonPid(layout);
  const base = {
    supervisorPid, keeperPid, supervisorRestarts: keeper?.restarts ?? 0, lastRestartAt: keeper?.restartedAt, lastCrash: keeper?.lastCrash,
  };
  // Failed is final: the keeper only ends what is left, then exits.
  if (keeper?.state === 'failed' && supervisorPid === undefined) return { ...base, phase: 'failed', detail: keeper.reason };
  if (keeperPid !== undefined && keeper?.state === 'stopping') return { ...base, phase: 'stopping' };
  if (keeperPid !== undefined && keeper?.state === 'recovering') {
    const crash = keeper.lastCrash;
    const how = crash ? (crash.signal ? `killed by ${crash.signal}` : `exited with code ${crash.code}`) : 'ended';
    // The keeper counts a restart when it starts the new supervisor, after the backoff.
    const started = keeper.restartedAt !== undefined && crash !== undefined && keeper.restartedAt >= crash.at;
    return { ...base, phase: 'recovering', detail: `supervisor ${how} at ${crash?.at ?? '?'}; ${started ? 'starting again' : 'waiting to start again'} (restart #${keeper.restarts + (started ? 0 : 1)})` };
  }
  if (supervisorPid === undefined) {
    // A keeper between two supervisors (the moment before it says it is recovering).
    if (keeperPid !== undefined) return { ...base, phase: keeper?.state === 'starting' ? 'starting' : 'recovering' };
    const left = readPids(layout.pidsFile).filter((entry) => isOurProcess(entry.pid, entry.command)).map((entry) => entry.name);
    if (left.length > 0) return { ...base, phase: 'degraded', detail: `no supervisor; still running: ${left.join(', ')} (\`kubenest up\` restarts it, \`delete\` or \`host down\` ends them)` };
    return { ...base, phase: 'stopped' };
  }
  const state = readState<S>(layout);
  // A state left by a killed supervisor is not this one's.
  if (!state || state.supervisorPid !== supervisorPid) return { ...base, phase: keeper && keeper.restarts > 0 && keeper.state !== 'running' ? 'recovering' : 'starting' };
  const down = state.components.filter((c) => c.state !== 'running').map((c) => `${c.name} ${c.state}`);
  if (state.leading === false) down.push('syncers stopped: the Lease on the host is not held (is the host reachable?)');
  return { ...base, state, phase: down.length > 0 ? 'degraded' : 'running', ...(down.length > 0 ? { detail: down.join(', ') } : {}) };
}

/**
 * Stops a data dir's cluster (host or virtual) and waits for it: SIGTERM to its keeper, which
 * stops the supervisor and does not start it again, or to the supervisor when it has no keeper
 * (`--foreground`). Ends what a killed supervisor left behind either way.
 */
export async function stopDaemon(dataDir: string, progress: (line: string) => void, timeoutMs = 90_000): Promise<'stopped' | 'not-running'> {
  const layout = clusterLayout(dataDir);
  const { keeper, supervisor } = daemonPid(layout);
  const cleanUp = (): void => {
    // Only what the stopped one left: a supervisor started meanwhile holds the lock and has its own.
    if (isLockHeld(supervisorLock(layout))) return;
    rmSync(layout.lockFile, { force: true });
    rmSync(layout.stateFile, { force: true });
    rmSync(keeperFile(layout.runDir), { force: true });
  };
  const target = keeper ?? supervisor;
  if (target !== undefined) {
    progress(`stopping the ${keeper !== undefined ? 'keeper and supervisor' : 'supervisor'} of ${layout.dataDir} (pid ${target})`);
    signalProcess(target, 'SIGTERM');
    // The keeper may be between two supervisors: the one to wait for is whichever holds the lock.
    // The pid file counts only while its lock is held: it may name a pid reused since.
    const holder = (): number | undefined => (isLockHeld(supervisorLock(layout)) ? readLockPid(layout) : undefined);
    const running = (): number[] => [target, holder() ?? supervisor ?? 0].filter((pid) => pid > 0 && isAlive(pid));
    const deadline = Date.now() + timeoutMs;
    while (running().length > 0 && Date.now() < deadline) await sleep(100);
    for (const pid of running()) {
      progress(`pid ${pid} did not stop within ${timeoutMs / 1000}s; killing it and the components`);
      signalProcess(pid, 'SIGKILL');
    }
    await reapRecorded(layout.pidsFile);
    await reapRecorded(pluginPidsFile(layout.dataDir));
    cleanUp();
    return 'stopped';
  }
  const reaped = [...await reapRecorded(layout.pidsFile), ...await reapRecorded(pluginPidsFile(layout.dataDir))];
  cleanUp();
  if (reaped.length > 0) {
    progress(`ended processes left by a supervisor that was killed: ${reaped.join(', ')}`);
    return 'stopped';
  }
  return 'not-running';
}
