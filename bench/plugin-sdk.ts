// Issue 11 "Figures": the TypeScript plugin SDK against a Go plugin, in one run on the same
// control planes (one host, one virtual control plane, the plugin host in this process):
//   - the same no-op hook (ConfigMap CreatePhysical, answered mutated=false) in
//       go:       our Go test plugin kntest (go-plugin, `noop: true`; tools/test-plugins), the baseline,
//       ts-src:   bench/noop-plugin/plugin.ts with @kubenest/plugin-sdk, run from source by Node,
//       ts-built: the same, made by `kubenest plugin build` (a Node single executable);
//     Mutate round trip p50/p99 (`PluginHost.mutate`), the three interleaved in blocks of 100
//     calls so that the machine's load falls on all alike; plugin start, from the host's
//     `launching` line (just before the spawn) to `Initialize returned`, --starts rounds each; RSS;
//   - `kubenest plugin dev` restart: a project made by `kubenest plugin init`, run by `plugin dev`
//     against its own host and virtual cluster; each of --edits saves of plugin.ts, from the save
//     to the plugin running again with its hooks registered (the "restarted in N ms" that dev prints).
//
//   ./bench/run plugin-sdk [--mutates 2000] [--starts 5] [--edits 5]
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeObject } from '@kubenest/kube';
import { buildPlugin, startPlugins, type Plugins } from '@kubenest/kubenest';
import { REPO_ROOT, cliSandbox, kubenest, spawnKubenest, startSyncEnvironment, tempDir, testBinaries, testPlugins } from '@kubenest/testing';
import { spawnToInitializeMs } from './baselines.ts';
import { loadAverage, round, rssMiB, summary } from './measure.ts';

const { values } = parseArgs({
  options: {
    mutates: { type: 'string', default: '2000' },
    starts: { type: 'string', default: '5' },
    edits: { type: 'string', default: '5' },
  },
});
const mutates = Number(values.mutates);
const starts = Number(values.starts);
const edits = Number(values.edits);
const NAME = 'sdkbench';
const NOOP = join(REPO_ROOT, 'bench/noop-plugin');

const work = tempDir('kn-sdkbench-');
const results: Record<string, unknown> = { mutates, starts, edits, loadAverageAtStart: loadAverage() };
try {
  console.error('building bench/noop-plugin with kubenest plugin build');
  const buildStarted = performance.now();
  const built = await buildPlugin({ dir: NOOP, out: join(work.path, 'noop-dist'), portable: false });
  results['buildSeconds'] = round((performance.now() - buildStarted) / 1000);
  results['builtExecutableMiB'] = round(readFileSync(built.executable).length / 1048576);

  const variants: Record<string, Record<string, unknown>> = {
    go: { path: join(await testPlugins(), 'kntest'), config: { label: 'bench', noop: true } },
    'ts-src': { path: join(NOOP, 'plugin') },
    'ts-built': { path: built.executable },
  };
  const env = await startSyncEnvironment(NAME);
  const layout = env.plane.layout;
  const startWith = (name: string): Promise<Plugins> =>
    startPlugins({ name: NAME, hostNamespace: env.hostNamespace, values: { plugins: { [name]: variants[name] } }, layout, host: env.hostClient, progress: () => {} });
  const running: Record<string, Plugins> = {};
  try {
    // 1. Start: spawn -> Initialize returned, --starts rounds per variant, round-robin.
    const startMs: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]));
    for (let round = 0; round < starts; round++) {
      for (const name of Object.keys(variants)) {
        console.error(`start ${round + 1}/${starts}: ${name}`);
        await running[name]?.stop();
        running[name] = await startWith(name);
        startMs[name]!.push(spawnToInitializeMs(join(layout.logsDir, 'plugin', `${name}.log`)));
      }
    }
    results['startSpawnToInitializeMs'] = Object.fromEntries(Object.entries(startMs).map(([k, v]) => [k, summary(v)]));

    // 2. Mutate round trips, interleaved in blocks of 100.
    const configMap = (i: number): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `m-${i}`, namespace: env.hostNamespace }, data: { index: String(i), payload: 'x'.repeat(64) } });
    for (const [name, plugins] of Object.entries(running)) {
      const answer = await plugins.host!.mutate('CreatePhysical', configMap(-1));
      if (JSON.stringify(answer) !== JSON.stringify(configMap(-1))) throw new Error(`${name}: the no-op hook changed the object: ${JSON.stringify(answer)}`);
      for (let i = 0; i < 200; i++) await plugins.host!.mutate('CreatePhysical', configMap(i)); // warm-up
    }
    console.error(`mutate: ${mutates} ConfigMap CreatePhysical round trips per variant, interleaved`);
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]));
    for (let done = 0; done < mutates; done += 100) {
      for (const [name, plugins] of Object.entries(running)) {
        for (let i = 0; i < Math.min(100, mutates - done); i++) {
          const started = performance.now();
          await plugins.host!.mutate('CreatePhysical', configMap(done + i));
          samples[name]!.push(performance.now() - started);
        }
      }
    }
    const mutate = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(v)]));
    results['mutateMs'] = mutate;
    const p99 = (name: string): number => mutate[name]!.p99;
    results['p99RatioToGo'] = { 'ts-src': round(p99('ts-src') / p99('go')), 'ts-built': round(p99('ts-built') / p99('go')), goal: '<= 1.5 and TS p99 <= 2 ms' };
    results['rssMiB'] = Object.fromEntries(Object.entries(running).map(([name, plugins]) => {
      const pid = plugins.host!.status()[0]?.pid;
      return [name, pid ? rssMiB(pid) : -1];
    }));
  } finally {
    for (const plugins of Object.values(running)) await plugins.stop();
    await env.dispose();
  }

  // 3. plugin dev: restart after a save.
  console.error(`plugin dev: ${edits} saves of a scaffolded plugin's plugin.ts`);
  results['devRestartMs'] = summary(await devRestarts(join(work.path, 'devplug')));
  results['loadAverageAtEnd'] = loadAverage();
} finally {
  work.remove();
}
console.log(JSON.stringify(results, null, 2));
printTable(results);

async function devRestarts(project: string): Promise<number[]> {
  const made = await kubenest(['plugin', 'init', 'devplug', '--dir', project]);
  if (made.code !== 0) throw new Error(`plugin init failed: ${made.stderr}`);
  const sandbox = await cliSandbox('kn-sdkbench-dev-');
  const dev = spawnKubenest(['plugin', 'dev', project, '--name', 'dev'], {
    ...process.env, KUBENEST_HOST_DIR: sandbox.hostDir, KUBENEST_VCLUSTERS_DIR: sandbox.vclustersDir, KUBENEST_BIN_DIR: (await testBinaries()).dir,
  });
  let stderr = '';
  dev.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  dev.stdout!.resume();
  const waitFor = async (pattern: RegExp, count: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((stderr.match(new RegExp(pattern, 'g')) ?? []).length < count) {
      if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`plugin dev: no ${pattern} (${count}) in time:\n${stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  try {
    await waitFor(/watching .* for changes/, 1, 600_000);
    for (let i = 1; i <= edits; i++) {
      appendFileSync(join(project, 'plugin.ts'), `// edit ${i}\n`);
      await waitFor(/restarted in \d+ ms/, i, 120_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return [...stderr.matchAll(/restarted in (\d+) ms/g)].map((m) => Number(m[1]));
  } finally {
    dev.kill('SIGINT');
    if (dev.exitCode === null) await new Promise((resolve) => dev.once('exit', resolve));
    await sandbox.dispose(['dev']);
  }
}


function printTable(r: Record<string, unknown>): void {
  const row = (what: string, value: string): void => { console.error(`${what.padEnd(60)} ${value}`); };
  const pct = (m: Record<string, number> | undefined): string => (m ? `p50 ${m['p50']} ms, p99 ${m['p99']} ms (n ${m['n']}, max ${m['max']})` : '-');
  const start = r['startSpawnToInitializeMs'] as Record<string, Record<string, number>>;
  const mutate = r['mutateMs'] as Record<string, Record<string, number>>;
  const rss = r['rssMiB'] as Record<string, number>;
  for (const v of ['go', 'ts-src', 'ts-built']) {
    row(`${v}: Mutate round trip (no-op ConfigMap hook)`, pct(mutate[v]));
    row(`${v}: start, spawn -> Initialize returned`, pct(start[v]));
    row(`${v}: RSS`, `${rss[v]} MiB`);
  }
  row('p99 ratio to Go (goal <= 1.5, TS p99 <= 2 ms)', JSON.stringify(r['p99RatioToGo']));
  row('plugin dev restart (save -> running with its hooks)', pct(r['devRestartMs'] as Record<string, number>));
  row('kubenest plugin build of the no-op plugin', `${String(r['buildSeconds'])} s, executable ${String(r['builtExecutableMiB'])} MiB`);
  row('load average at start / end', `${String(r['loadAverageAtStart'])} / ${String(r['loadAverageAtEnd'])}`);
}
