// Measures the local host cluster: start-up on a fresh and on an existing data dir, time to the
// first Ready node, time for a Deployment's pods to reach Running, and each component's RSS.
// Baseline in the same run: kine + kube-apiserver alone, the floor any host cluster pays.
//
//   ./bin/kubenest binaries            # once, so the build is not part of the figures
//   ./bench/run host-up [--rounds 3] [--replicas 100] [--cold-build]
//
// --cold-build also times `build.sh` into an empty directory with an empty Go build cache
// (the module cache is kept): the cost of the first `kubenest host up` on a fresh machine.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostCluster, resolveBinaries, type Supervisor } from '@kubenest/kubenest';
import type { RestClient } from '@kubenest/kube';
import { REPO_ROOT, tempDir } from '@kubenest/testing';
import { apiserverOnly } from './baselines.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    replicas: { type: 'string', default: '100' },
    'cold-build': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const replicas = Number(values.replicas);

const binaries = await resolveBinaries({ progress: (line) => console.error(line) });
const results: Record<string, unknown> = { machine: machine(), versions: binaries.versions, rounds, replicas };

if (values['cold-build']) results['coldBuildSeconds'] = coldBuild();

const fresh: number[] = [];
const firstNode: number[] = [];
const restart: number[] = [];
const baseline: number[] = [];
const podsSmall: number[] = [];
const podsLarge: number[] = [];
let rss: Record<string, number> = {};

for (let round = 0; round < rounds; round++) {
  console.error(`round ${round + 1}/${rounds}`);
  baseline.push(await apiserverOnly(binaries));

  const dir = tempDir('kn-bench-');
  try {
    let started = Date.now();
    let cluster = await HostCluster.start({ dataDir: dir.path, binaries, nodes: 1 });
    const freshMs = Date.now() - started;
    fresh.push(freshMs);
    // With one node, "all nodes Ready" (what start() waits for) is the first Ready node.
    firstNode.push(freshMs);
    podsSmall.push(await deploymentToRunning(cluster.client, 'small', 3));
    podsLarge.push(await deploymentToRunning(cluster.client, 'large', replicas));
    await sleep(5_000); // let the controllers settle before reading memory
    rss = componentRss(cluster.supervisor);
    await cluster.stop();

    started = Date.now();
    cluster = await HostCluster.start({ dataDir: dir.path, binaries, nodes: 1 });
    restart.push(Date.now() - started);
    await cluster.stop();
  } finally {
    dir.remove();
  }
}

Object.assign(results, {
  apiserverOnlyMs: summary(baseline),
  hostUpFreshDataDirMs: summary(fresh),
  hostUpFreshRatioToBaseline: round2(median(fresh) / median(baseline)),
  firstReadyNodeMs: summary(firstNode),
  hostUpExistingDataDirMs: summary(restart),
  deployment3ToRunningMs: summary(podsSmall),
  [`deployment${replicas}ToRunningMs`]: summary(podsLarge),
  componentRssMiB: rss,
});

console.log(JSON.stringify(results, null, 2));
console.log('\n| figure | median | min | max |\n|---|---|---|---|');
for (const [name, value] of Object.entries(results)) {
  if (value && typeof value === 'object' && 'median' in value) {
    const s = value as { median: number; min: number; max: number };
    console.log(`| ${name} | ${s.median} | ${s.min} | ${s.max} |`);
  }
}
console.log(`| hostUpFreshRatioToBaseline | ${results['hostUpFreshRatioToBaseline'] as number} | | |`);
for (const [name, mib] of Object.entries(rss)) console.log(`| RSS ${name} (MiB) | ${mib} | | |`);

/** kine + kube-apiserver only, with the host cluster's own flags, on a fresh data dir: start to /readyz. */
async function deploymentToRunning(client: RestClient, name: string, count: number): Promise<number> {
  const started = Date.now();
  await client.create('/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas: count, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
    },
  });
  const deadline = started + 300_000;
  for (;;) {
    const pods = await client.get<{ items: { status?: { phase?: string } }[] }>('/api/v1/namespaces/default/pods', { query: { labelSelector: `app=${name}` } });
    if (pods.items.filter((p) => p.status?.phase === 'Running').length === count) return Date.now() - started;
    if (Date.now() > deadline) throw new Error(`${count} pods were not Running within 300 s`);
    await sleep(100);
  }
}

function componentRss(supervisor: Supervisor): Record<string, number> {
  const out: Record<string, number> = {};
  for (const component of supervisor.status()) {
    if (!component.pid) continue;
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${component.pid}/status`, 'utf8'))?.[1] ?? 0);
    out[component.name] = Math.round(kb / 1024);
  }
  out['total'] = Object.values(out).reduce((a, b) => a + b, 0);
  return out;
}

function coldBuild(): number {
  const out = tempDir('kn-cold-');
  const gocache = tempDir('kn-gocache-');
  try {
    console.error('cold build: empty output dir and Go build cache (several minutes)');
    const started = Date.now();
    const result = spawnSync('bash', [join(REPO_ROOT, 'tools/k8s/build.sh'), out.path], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, GOCACHE: gocache.path } });
    if (result.status !== 0) throw new Error('cold build failed');
    return Math.round((Date.now() - started) / 1000);
  } finally {
    out.remove();
    gocache.remove();
  }
}

function machine(): string {
  const cpus = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  return `${cpus} cores, node ${process.version}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function summary(values: number[]): { median: number; min: number; max: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
