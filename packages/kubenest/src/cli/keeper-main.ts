/**
 * Entry point of the keeper process (controlplane/keeper.ts), started by `runInBackground`:
 *   node keeper-main.ts <run dir> -- <supervisor command...>
 * Kept apart from main.ts so that the keeper loads nothing but what it needs.
 */
import { keep } from '../controlplane/keeper.ts';

const [runDir, separator, command, ...args] = process.argv.slice(2);
if (!runDir || separator !== '--' || !command) {
  process.stderr.write('usage: keeper-main.ts <run dir> -- <command> [args...]\n');
  process.exit(2);
}
const log = (line: string): void => { console.log(`${new Date().toISOString()} keeper: ${line}`); };
const keeper = keep({ runDir, command, args, log });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => keeper.stop(signal));
process.exit(await keeper.done);
