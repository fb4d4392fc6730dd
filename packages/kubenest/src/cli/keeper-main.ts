/**
 * Entry point of the keeper process (controlplane/keeper.ts), started by `runInBackground`:
 *   node keeper-main.ts <run dir> -- <supervisor command...>
 * Kept apart from main.ts so that the keeper loads nothing but what it needs.
 */
import { dirname, resolve } from 'node:path';
import { LOCK_HELD_EXIT, keep } from '../controlplane/keeper.ts';
import { tryLock } from '../controlplane/lock.ts';

const [runDir, separator, command, ...args] = process.argv.slice(2);
if (!runDir || separator !== '--' || !command) {
  process.stderr.write('usage: keeper-main.ts <run dir> -- <command> [args...]\n');
  process.exit(2);
}
const log = (line: string): void => { console.log(`${new Date().toISOString()} keeper: ${line}`); };
// One keeper per data dir: a second (two starts at once) leaves the first's files and processes alone.
const dataDir = dirname(resolve(runDir));
if (!await tryLock({ key: 'keeper', secretDir: dataDir })) {
  const message = `another kubenest keeper runs the cluster of ${dataDir}; see its status, or stop it first`;
  log(message);
  await new Promise<void>((resolveSent) => (process.send ? process.send({ type: 'failed', message }, () => resolveSent()) : resolveSent()));
  process.exit(LOCK_HELD_EXIT);
}
const keeper = keep({ runDir, command, args, log });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => keeper.stop(signal));
process.exit(await keeper.done);
