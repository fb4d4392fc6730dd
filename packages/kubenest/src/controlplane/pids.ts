import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PidEntry {
  name: string;
  pid: number;
  /** The executable started, used to tell our process from an unrelated one that reused the pid. */
  command: string;
}

/** Writes the list of live child pids, so a later run can end them if kubenest was killed hard. */
export function recordPids(file: string, entries: PidEntry[]): void {
  if (entries.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, JSON.stringify(entries, null, 2) + '\n', { mode: 0o600 });
  renameSync(temporary, file);
}

export function readPids(file: string): PidEntry[] {
  if (!existsSync(file)) return [];
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return Array.isArray(parsed) ? (parsed as PidEntry[]) : [];
  } catch {
    return [];
  }
}

/** True when `pid` is alive and still runs `command` (not a pid reused by something else). */
export function isOurProcess(pid: number, command: string): boolean {
  if (!isProcessId(pid)) return false;
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return argv0 === command;
  } catch {
    return false;
  }
}

/**
 * A pid that names one process. 0 and negative numbers name process groups (ours, for 0), and a
 * pid read from a file being written can be 0 (`Number('')`): never signal those by mistake.
 */
export function isProcessId(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0;
}

/** The pid a pid file holds; undefined while it is missing, empty (being written) or holds no pid. */
export function readPidFile(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    const pid = /^\d+$/.test(text) ? Number(text) : NaN;
    return isProcessId(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  if (!isProcessId(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ends processes a previous run recorded but did not stop (kubenest was SIGKILLed, the machine
 * was not rebooted). Returns the names of those it ended.
 */
export async function reapRecorded(file: string): Promise<string[]> {
  const stale = readPids(file).filter((entry) => isOurProcess(entry.pid, entry.command));
  for (const entry of stale) signalGroup(entry.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (stale.some((entry) => isOurProcess(entry.pid, entry.command)) && Date.now() < deadline) await sleep(100);
  for (const entry of stale) if (isOurProcess(entry.pid, entry.command)) signalGroup(entry.pid, 'SIGKILL');
  rmSync(file, { force: true });
  return stale.map((entry) => `${entry.name} (pid ${entry.pid})`);
}

/**
 * Sends `signal` to one process. Throws on anything but a positive integer, since 0 and negative
 * numbers name process groups. This module is the only one that calls `process.kill` (eslint
 * enforces it), each call behind that check.
 */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): void {
  if (!isProcessId(pid)) throw new Error(`refusing to signal ${String(pid)}: not the pid of one process`);
  process.kill(pid, signal);
}

/**
 * Signals the process group `pid` leads (our components and plugins are started as group
 * leaders), or, unless `alone` is false, the process alone when it leads none. Pass false for a
 * child already reaped: its pid may belong to another process by now. Quiet when it is gone or
 * `pid` is no pid.
 */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals, alone = true): void {
  if (pid === undefined || !isProcessId(pid)) return;
  try {
    process.kill(-pid, signal);
  } catch {
    if (!alone) return;
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}
