import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterLayout } from '../controlplane/control-plane.ts';
import { LockHeldError } from '../controlplane/daemon.ts';
import { LOCK_HELD_EXIT, type SupervisorMessage } from '../controlplane/keeper.ts';
import { entryPoint } from './bundle.ts';
import { CliError, say } from './output.ts';

/**
 * Starts `kubenest <args>` (a supervisor) detached under its keeper, which starts it again if it
 * crashes (ADR 16); their output goes to `<logsDir>/kubenest.log`. Shows the progress the
 * supervisor reports and resolves with its state once it says it is ready. Ctrl-C while waiting
 * stops it.
 */
export async function runInBackground<S>(args: string[], layout: Pick<ClusterLayout, 'logsDir' | 'runDir'>): Promise<S> {
  const { logsDir, runDir } = layout;
  mkdirSync(logsDir, { recursive: true, mode: 0o700 });
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const logFile = join(logsDir, 'kubenest.log');
  const [keeper, main] = [await entryPoint('keeper-main', say), await entryPoint('main', say)];
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [keeper, runDir, '--', process.execPath, main, ...args], { detached: true, stdio: ['ignore', log, log, 'ipc'] });
  closeSync(log);
  // An aborted start must not leave a half-started supervisor behind.
  const abort = (): void => { child.kill('SIGTERM'); };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const outcome = await new Promise<{ ok: true; state: S } | { ok: false; message: string }>((resolve) => {
    child.on('message', (message: SupervisorMessage<S>) => {
      if (message.type === 'progress') say(message.line);
      if (message.type === 'ready') resolve({ ok: true, state: message.state });
      if (message.type === 'failed') resolve({ ok: false, message: message.message });
    });
    child.on('exit', (code, signal) => resolve({ ok: false, message: `the supervisor exited (${signal ?? `code ${code}`}) before it was ready; log: ${logFile}` }));
  });
  process.off('SIGINT', abort);
  process.off('SIGTERM', abort);
  if (!outcome.ok) {
    // The keeper ends what the failed start left; the next command must find that done.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
    throw new CliError(outcome.message);
  }
  child.disconnect();
  child.unref();
  return outcome.state;
}

/** The body of a hidden `... run` command: runs a supervisor, reporting to the parent over IPC. */
export async function supervisedCommand<S>(
  run: (events: { progress(line: string): void; ready(state: S): void }) => Promise<number>,
): Promise<never> {
  const stamp = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);
  // The parent disconnects once the cluster is ready; after that the log file is the only reader.
  const tell = (message: SupervisorMessage<S>): void => { if (process.connected) process.send?.(message); };
  try {
    const code = await run({
      progress: (line) => { stamp(line); tell({ type: 'progress', line }); },
      ready: (state) => { stamp('ready'); tell({ type: 'ready', state }); },
    });
    process.exit(code);
  } catch (error) {
    stamp(`failed: ${(error as Error).message}`);
    tell({ type: 'failed', message: (error as Error).message });
    process.exit(error instanceof LockHeldError ? LOCK_HELD_EXIT : 1);
  }
}
