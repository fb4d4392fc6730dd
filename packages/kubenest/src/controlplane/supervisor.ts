import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordPids, signalGroup } from './pids.ts';

export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Start with `env` only instead of this process's environment plus `env`. */
  ownEnvOnly?: boolean;
  /** File that receives the component's stdout and stderr (appended). */
  logFile: string;
  /** Resolves true once the component serves; polled until `readyTimeoutMs`. */
  ready: (signal: AbortSignal) => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Restart after an unexpected exit, with capped exponential backoff. Every restart is logged and counted. */
  restart?: boolean;
}

export interface ComponentStatus {
  name: string;
  pid: number | undefined;
  state: 'starting' | 'running' | 'restarting' | 'exited' | 'stopped';
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; at: string } | undefined;
  logFile: string;
}

export class ComponentStartError extends Error {
  readonly component: string;
  readonly logFile: string;

  constructor(component: string, message: string, logFile: string) {
    super(`${component} ${message}\n  log: ${logFile}${logTail(logFile)}`);
    this.name = 'ComponentStartError';
    this.component = component;
    this.logFile = logFile;
  }
}

interface Running {
  spec: ComponentSpec;
  child: ChildProcess | undefined;
  status: ComponentStatus;
  exited: Promise<void>;
  restartTimer?: NodeJS.Timeout | undefined;
}

const STOP_GRACE_MS = 15_000;
const RESTART_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000];

/**
 * Starts processes in order, waits for each to be ready, and stops them in reverse order.
 * It owns every process it starts and ends each by its pid. Unexpected exits are reported through
 * the 'exit' event and the status, never swallowed; a component restarts only when its spec asks.
 */
export class Supervisor extends EventEmitter<{
  exit: [status: ComponentStatus];
  restart: [status: ComponentStatus];
}> {
  private readonly components: Running[] = [];
  private stopping = false;
  private readonly pidFile: string | undefined;
  private readonly journal: (line: string) => void;
  private readonly stopGraceMs: number;

  constructor(options: { pidFile?: string; journal?: (line: string) => void; stopGraceMs?: number } = {}) {
    super();
    this.pidFile = options.pidFile;
    this.journal = options.journal ?? (() => {});
    this.stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS;
  }

  status(): ComponentStatus[] {
    return this.components.map((c) => ({ ...c.status }));
  }

  pids(): number[] {
    return this.components.flatMap((c) => (c.status.pid ? [c.status.pid] : []));
  }

  /** Starts a component and resolves once it is ready; on failure the component is stopped. */
  async start(spec: ComponentSpec): Promise<void> {
    if (this.stopping) throw new Error(`not starting ${spec.name}: the supervisor is stopping`);
    const running: Running = {
      spec,
      child: undefined,
      status: { name: spec.name, pid: undefined, state: 'starting', restarts: 0, logFile: spec.logFile },
      exited: Promise.resolve(),
    };
    this.components.push(running);
    this.launch(running);
    await this.waitReady(running);
  }

  private launch(running: Running): void {
    const { spec } = running;
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a', 0o600);
    writeSync(fd, `\n--- kubenest: starting ${spec.name} at ${new Date().toISOString()}: ${spec.command} ${spec.args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      // Own process group: a Ctrl-C in the terminal reaches only kubenest, which then stops
      // the components in order instead of all of them dying at once.
      // Tied to this process's life: if the supervisor is killed (SIGKILL, the OOM killer), the
      // kernel ends the component too, so no orphan serves without a supervisor (ADR 16).
      const [command, args] = tiedToParent(spec.command, spec.args);
      child = spawn(command, args, {
        stdio: ['ignore', fd, fd],
        env: spec.ownEnvOnly ? { ...spec.env } : { ...process.env, ...spec.env },
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    running.child = child;
    running.status.pid = child.pid;
    running.status.state = 'starting';
    this.persistPids();
    running.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        running.status.lastExit = { code: null, signal: null, at: new Date().toISOString() };
        this.journal(`${spec.name} could not be started: ${error.message}`);
      });
      child.once('close', (code, signal) => {
        running.status.pid = undefined;
        running.status.lastExit = { code, signal, at: new Date().toISOString() };
        this.persistPids();
        resolve();
        this.onExit(running, code, signal);
      });
    });
  }

  private onExit(running: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || running.status.state === 'stopped') {
      running.status.state = 'stopped';
      return;
    }
    const wasRunning = running.status.state === 'running' || running.status.state === 'restarting';
    running.status.state = 'exited';
    this.journal(`${running.spec.name} exited unexpectedly (code ${code}, signal ${signal}); log: ${running.spec.logFile}`);
    this.emit('exit', { ...running.status });
    if (!running.spec.restart || !wasRunning) return;
    const delay = RESTART_BACKOFF_MS[Math.min(running.status.restarts, RESTART_BACKOFF_MS.length - 1)] ?? 30_000;
    running.status.state = 'restarting';
    this.journal(`${running.spec.name}: restarting in ${delay / 1000}s (restart #${running.status.restarts + 1})`);
    running.restartTimer = setTimeout(() => {
      running.restartTimer = undefined;
      if (this.stopping) return;
      running.status.restarts += 1;
      this.launch(running);
      running.status.state = 'restarting';
      this.waitReady(running)
        .then(() => {
          this.journal(`${running.spec.name} is running again (restart #${running.status.restarts})`);
          this.emit('restart', { ...running.status });
        })
        .catch((error: unknown) => this.journal(`${running.spec.name}: ${(error as Error).message}`));
    }, delay);
  }

  private async waitReady(running: Running): Promise<void> {
    const { spec } = running;
    const timeoutMs = spec.readyTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const controller = new AbortController();
    try {
      for (;;) {
        if (running.status.pid === undefined) {
          const exit = running.status.lastExit;
          throw new ComponentStartError(spec.name, `exited before it was ready (code ${exit?.code ?? 'none'}, signal ${exit?.signal ?? 'none'})`, spec.logFile);
        }
        if (await spec.ready(controller.signal).catch(() => false)) break;
        if (Date.now() > deadline) {
          throw new ComponentStartError(spec.name, `was not ready within ${Math.round(timeoutMs / 1000)}s`, spec.logFile);
        }
        await sleep(150);
      }
    } catch (error) {
      await this.stopOne(running);
      throw error;
    } finally {
      controller.abort();
    }
    running.status.state = 'running';
  }

  /**
   * Kills one component (SIGKILL by default: a crash, for fault-injection tests) and starts it
   * again, resolving once it is ready.
   */
  async restartComponent(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const running = this.components.find((c) => c.spec.name === name);
    if (!running) throw new Error(`no component named ${name}`);
    running.status.state = 'stopped';
    if (running.status.pid !== undefined) {
      signalGroup(running.status.pid, signal);
      await running.exited;
    }
    running.status.restarts += 1;
    this.launch(running);
    await this.waitReady(running);
  }

  /** Stops every component in reverse start order: SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const running of [...this.components].reverse()) await this.stopOne(running);
    this.persistPids();
  }

  private async stopOne(running: Running): Promise<void> {
    if (running.restartTimer) clearTimeout(running.restartTimer);
    const pid = running.status.pid;
    running.status.state = 'stopped';
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    const killed = await Promise.race([running.exited.then(() => true), sleep(this.stopGraceMs).then(() => false)]);
    if (!killed) {
      this.journal(`${running.spec.name} did not stop within ${this.stopGraceMs / 1000}s; sending SIGKILL`);
      signalGroup(pid, 'SIGKILL');
      await running.exited;
    }
  }

  private persistPids(): void {
    if (!this.pidFile) return;
    recordPids(this.pidFile, this.components.flatMap((c) =>
      c.status.pid ? [{ name: c.spec.name, pid: c.status.pid, command: c.spec.command }] : []));
  }
}

let setpriv: string | null | undefined;

/**
 * The command line that starts `command` with the parent-death signal set to SIGKILL, through
 * util-linux's `setpriv --pdeathsig` (it calls prctl(PR_SET_PDEATHSIG), which survives its exec
 * into `command`, so the pid and /proc/<pid>/cmdline are the component's own). Node cannot set it
 * itself. Without setpriv the command runs as is, and the recorded pids are the only net.
 */
export function tiedToParent(command: string, args: string[]): [string, string[]] {
  if (setpriv === undefined) {
    try {
      const help = execFileSync('setpriv', ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      setpriv = help.includes('--pdeathsig') ? 'setpriv' : null;
    } catch {
      setpriv = null;
    }
  }
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
}

function logTail(logFile: string, lines = 15): string {
  try {
    const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines);
    return `\n  last lines of the log:\n    ${tail.join('\n    ')}`;
  } catch {
    return '';
  }
}
