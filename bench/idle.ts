// Idle memory of a local host cluster and one virtual cluster started by the CLI as a user would
// (`kubenest up`): the RSS of each kubenest process (the host's supervisor and its keeper, the
// virtual cluster's supervisor — control plane supervision, syncers, front door — and its keeper)
// and of each Kubernetes component, after a quiet minute. Run twice in the same benchmark: the
// long-running processes from their bundle (ADR 30, the default) and from the TypeScript sources
// (`KUBENEST_RUN_FROM_SOURCE=1`, how they ran before: the baseline).
//
//   ./bench/run idle [--settle 60]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cliSandbox, readPidFile } from '@kubenest/testing';
import { rssMiB } from './measure.ts';

const { values } = parseArgs({ options: { settle: { type: 'string', default: '60' } } });
const settleMs = Number(values.settle) * 1000;

/** Every process whose command line mentions `dir`, named by what it is. */
function processesOf(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (!args.some((a) => a.includes(dir))) continue;
    const side = args.some((a) => a.includes(join(dir, 'vclusters'))) ? 'virtual' : 'host';
    const program = args[0]!.split('/').at(-1)!;
    let name: string;
    if (program === 'node') {
      const script = args[1] ?? '';
      name = script.includes('keeper-main') ? 'keeper' : 'supervisor';
    } else {
      name = program;
    }
    const key = `${side} ${name}`;
    out[key] = (out[key] ?? 0) + Math.max(0, rssMiB(Number(entry), 0)); // 0 for one that just ended
  }
  return out;
}

const results: Record<string, Record<string, number>> = {};
for (const [label, env] of [['bundle', {}], ['sources', { KUBENEST_RUN_FROM_SOURCE: '1' }]] as const) {
  const sandbox = await cliSandbox(`kn-bench-idle-${label}-`, env);
  try {
    console.error(`${label}: kubenest up, then ${settleMs / 1000} s quiet`);
    const up = await sandbox.cli('up');
    if (up.code !== 0) throw new Error(`up failed: ${up.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const found = processesOf(sandbox.dir);
    // The virtual cluster's supervisor names only the cluster on its command line.
    const supervisor = readPidFile(join(sandbox.vclustersDir, 'demo', 'run', 'supervisor.pid'));
    if (supervisor === undefined) throw new Error('the virtual cluster\'s run/supervisor.pid names no process');
    found['virtual supervisor'] = rssMiB(supervisor, 0);
    results[label] = found;
  } finally {
    await sandbox.dispose(['demo']);
  }
}
console.log(JSON.stringify(results, null, 2));
const rows = [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))].sort();
console.log(`\n${'process'.padEnd(36)} ${'bundle'.padStart(8)} ${'sources'.padStart(8)}  (RSS MiB)`);
for (const row of rows) console.log(`${row.padEnd(36)} ${String(results['bundle']?.[row] ?? '-').padStart(8)} ${String(results['sources']?.[row] ?? '-').padStart(8)}`);
