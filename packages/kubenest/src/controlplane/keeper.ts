import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reapRecorded } from './pids.ts';

/** The exit code of a supervisor that found the data dir's lock held by another (ADR 32). */
export const LOCK_HELD_EXIT = 75;

/**
 * The keeper: a small parent process per background supervisor (host or virtual cluster) that
 * starts the supervisor again when it dies of anything but a deliberate stop, with backoff, and
 * gives up after repeated crashes with a reason (ADR 16). It holds no cluster logic, so the things
 * that kill a supervisor (a bug, memory) do not reach it.
 */

/** Messages a supervisor sends its parent over IPC (cli/background.ts reads the same ones). */
export type SupervisorMessage<S = unknown> = { type: 'progress'; line: string } | { type: 'ready'; state: S } | { type: 'failed'; message: string };

export interface Exit {
  code: number | null;
  signal: string | null;
  at: string;
}

/** What `run/keeper.json` holds: written by the keeper, read by `list` and `host status`. */
export interface KeeperState {
  pid: number;
  supervisorPid?: number | undefined;
  state: 'starting' | 'running' | 'recovering' | 'failed' | 'stopping';
  /** Times the keeper started the supervisor again after a crash. */
  restarts: number;
  /** Crashes since the supervisor last ran for `stableMs`; a crash loop ends in failed. */
  crashesInARow: number;
  restartedAt?: string | undefined;
  lastCrash?: Exit | undefined;
  /** Why it failed (state `failed`). */
  reason?: string | undefined;
  /** The last transitions, oldest first. */
  history: { state: KeeperState['state']; at: string; detail?: string }[];
}

export interface RecoveryPolicy {
  /** The delay before each restart of a crash loop; one crash more than its length is failed. */
  backoffMs: number[];
  stableMs: number;
}

export const RECOVERY: RecoveryPolicy = {
  backoffMs: [1_000, 2_000, 4_000, 8_000, 16_000],
  /** A supervisor that ran this long before crashing starts a new count. */
  stableMs: 5 * 60_000,
};

export type AfterExit =
  | { action: 'exit'; code: number }
  | { action: 'restart'; delayMs: number; crashesInARow: number }
  | { action: 'fail'; crashesInARow: number; reason: string };

/**
 * What to do when the supervisor has exited. A stop the keeper was asked for, a clean exit (the
 * supervisor was sent SIGTERM itself) and a first start that never got ready (the CLI that waits
 * reports that) end the keeper; anything else is a crash, restarted after the next backoff step,
 * until one more crash than there are steps: then failed.
 */
export function afterSupervisorExit(input: {
  stopping: boolean; everReady: boolean; exit: Exit; crashesInARow: number; readySince: number | undefined; now: number; lastFailure?: string | undefined;
}, policy: RecoveryPolicy = RECOVERY): AfterExit {
  if (input.stopping) return { action: 'exit', code: 0 };
  if (!input.everReady) return { action: 'exit', code: 1 };
  if (input.exit.code === 0 && input.exit.signal === null) return { action: 'exit', code: 0 };
  const stable = input.readySince !== undefined && input.now - input.readySince >= policy.stableMs;
  const crashesInARow = (stable ? 0 : input.crashesInARow) + 1;
  if (crashesInARow > policy.backoffMs.length) {
    const how = input.exit.signal ? `killed by ${input.exit.signal}` : `exited with code ${input.exit.code}`;
    return {
      action: 'fail', crashesInARow,
      reason: `the supervisor crashed ${crashesInARow} times in a row (last ${how} at ${input.exit.at}${input.lastFailure ? `: ${input.lastFailure}` : ''}); ` +
        'see logs/kubenest.log',
    };
  }
  return { action: 'restart', delayMs: policy.backoffMs[crashesInARow - 1]!, crashesInARow };
}

export function keeperFile(runDir: string): string {
  return join(runDir, 'keeper.json');
}

export function readKeeperState(runDir: string): KeeperState | undefined {
  try {
    return JSON.parse(readFileSync(keeperFile(runDir), 'utf8')) as KeeperState;
  } catch {
    return undefined;
  }
}

/** True when `pid` is a keeper process (not a pid reused after a reboot). */
export function isKeeperProcess(pid: number): boolean {
  try {
    // From the sources or from the bundle (ADR 30).
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith('keeper-main.ts') || arg.endsWith('keeper-main.mjs'));
  } catch {
    return false;
  }
}

/**
 * Runs `command args` (a supervisor) until it stops for good, as described above. The first
 * run's IPC messages are relayed to this process's parent (the CLI that waits for "ready").
 * `stop` (keeper-main.ts calls it on SIGTERM, SIGINT and SIGHUP) stops the supervisor and then
 * the keeper, which never starts it again after that. Whenever the keeper ends, it first ends
 * whatever the supervisor recorded and left running. `done` resolves with the exit code.
 */
export function keep(options: { runDir: string; command: string; args: string[]; log: (line: string) => void; policy?: RecoveryPolicy }): { done: Promise<number>; stop: (reason: string) => void } {
  const { runDir, log } = options;
  const pidsFile = join(runDir, 'pids.json');
  const stateFile = join(runDir, 'state.json');
  const state: KeeperState = { pid: process.pid, state: 'starting', restarts: 0, crashesInARow: 0, history: [] };
  const transition = (to: KeeperState['state'], detail?: string): void => {
    state.state = to;
    state.history = [...state.history, { state: to, at: new Date().toISOString(), ...(detail ? { detail } : {}) }].slice(-20);
    persist();
  };
  const persist = (): void => {
    const temporary = `${keeperFile(runDir)}.tmp`;
    writeFileSync(temporary, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    renameSync(temporary, keeperFile(runDir));
  };

  /** The supervisor while it runs. */
  let child: ChildProcess | undefined;
  let stopping = false;
  let everReady = false;
  let readySince: number | undefined;
  let lastFailure: string | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => { finish = resolve; });

  const end = async (code: number, keepState: boolean, reap = true): Promise<void> => {
    const reaped = reap ? await reapRecorded(pidsFile) : [];
    if (reaped.length > 0) log(`ended what the supervisor left running: ${reaped.join(', ')}`);
    if (!keepState) rmSync(keeperFile(runDir), { force: true });
    finish(code);
  };

  const start = (): void => {
    const first = !everReady;
    const supervisor = spawn(options.command, options.args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, KUBENEST_SUPERVISOR_RESTART: String(state.restarts) },
    });
    child = supervisor;
    state.supervisorPid = supervisor.pid;
    persist();
    supervisor.on('message', (message: SupervisorMessage) => {
      if (first && process.connected) process.send?.(message);
      if (message.type === 'failed') lastFailure = message.message;
      if (message.type === 'ready') {
        everReady = true;
        readySince = Date.now();
        lastFailure = undefined;
        if (state.restarts > 0) log(`the supervisor is running again (restart #${state.restarts})`);
        transition('running');
      }
    });
    let exited = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (exited) return;
      exited = true;
      if (child === supervisor) child = undefined;
      if (!everReady && code === LOCK_HELD_EXIT) {
        // Another supervisor runs this data dir: what pids.json lists is its, not ours to end.
        log('another supervisor holds the data dir\'s lock; leaving it alone');
        void end(1, false, false);
        return;
      }
      const exit: Exit = { code, signal, at: new Date().toISOString() };
      state.supervisorPid = undefined;
      const decision = afterSupervisorExit({ stopping, everReady, exit, crashesInARow: state.crashesInARow, readySince, now: Date.now(), lastFailure }, options.policy);
      readySince = undefined;
      if (decision.action === 'exit') {
        void end(decision.code, false);
        return;
      }
      state.lastCrash = exit;
      state.crashesInARow = decision.crashesInARow;
      // The dead supervisor's state would show its components as running.
      rmSync(stateFile, { force: true });
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (decision.action === 'fail') {
        state.reason = decision.reason;
        log(`giving up: ${decision.reason}`);
        transition('failed', decision.reason);
        void end(1, true);
        return;
      }
      log(`the supervisor ${how}; starting it again in ${decision.delayMs / 1000}s (restart #${state.restarts + 1}, crash ${decision.crashesInARow} in a row)`);
      transition('recovering', `supervisor ${how}`);
      // Components tied to the dead supervisor are gone already; without setpriv they are ended
      // here, before the next supervisor records its own.
      void reapRecorded(pidsFile).then((reaped) => {
        if (reaped.length > 0) log(`ended what the supervisor left running: ${reaped.join(', ')}`);
        if (stopping) return;
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          state.restarts += 1;
          state.restartedAt = new Date().toISOString();
          start();
        }, decision.delayMs);
      });
    };
    supervisor.once('exit', onExit);
    // Could not start at all (out of memory, say): a crash like any other, so it backs off.
    supervisor.once('error', (error) => {
      log(`could not start the supervisor: ${error.message}`);
      if (supervisor.pid === undefined) onExit(1, null);
    });
  };

  const stop = (reason: string): void => {
    if (stopping || state.state === 'failed') return;
    stopping = true;
    log(`stopping (${reason})`);
    transition('stopping');
    if (child) {
      child.kill('SIGTERM'); // its exit ends the keeper
      return;
    }
    // Between two supervisors: none is started again.
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
    void end(0, false);
  };
  start();
  return { done, stop };
}
