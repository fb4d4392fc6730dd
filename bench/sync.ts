// Measures the ConfigMap syncer between a real host cluster and a real virtual control plane:
//   - latency: single creates in the virtual cluster at a steady rate, each timed from the
//     virtual apiserver's answer to the host copy showing up in a host watch (p50/p99), and the
//     same creates sent to the host directly, timed to the same watch (the baseline);
//   - bulk: N ConfigMaps created in the virtual cluster (all: true) until all N are on the host,
//     as a ratio to the time the host apiserver takes to accept the same N creates sent directly
//     (the baseline, same run, same concurrency).
//   - backlog: N ConfigMaps already in the virtual cluster when a syncer starts, until all N are
//     on the host, against the same baseline (the syncer's own throughput);
//   - CPU seconds per process during the bulk run, and RSS of this process (the syncer runs in
//     it) idle and after the bulk run.
//
//   ./bench/run sync [--rate 50] [--singles 500] [--bulk 10000] [--concurrency 32] [--pin]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CORE, Informer, type KubeClient, type KubeObject } from '@kubenest/kube';
import { configMapSyncer } from '@kubenest/kubenest';
import { startSyncEnvironment } from '@kubenest/testing';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    singles: { type: 'string', default: '500' },
    bulk: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    // Give each control plane a core of its own (host: CPU 1, virtual: CPU 0), as when the host
    // is a separate cluster; the benchmark process (writers and syncer) stays unpinned.
    pin: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const singles = Number(values.singles);
const bulk = Number(values.bulk);
const concurrency = Number(values.concurrency);

const env = await startSyncEnvironment('bench');
const results: Record<string, unknown> = { rate, singles, bulkCount: bulk, concurrency, pinned: values.pin };
if (values.pin) {
  const pin = (cpu: number, pids: (number | undefined)[]): void => {
    for (const pid of pids) if (pid) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  };
  pin(1, env.host.cluster.status().map((c) => c.pid));
  pin(0, env.plane.status().map((c) => c.pid));
}
try {
  const configMaps = (client: KubeClient) => client.resourceFor<KubeObject>(CORE['configmaps']!);
  for (const ns of ['latency', 'bulk']) await configMaps(env.virtualClient).rest.create('/api/v1/namespaces', { metadata: { name: ns } });
  await env.hostClient.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'direct' } });
  global.gc?.();
  const rssIdle = process.memoryUsage().rss;
  const controller = await env.startSyncer(configMapSyncer({ all: true }));

  // Host-side watch: when each host copy appears.
  const seen = new Map<string, number>();
  const hostWatch = new Informer(configMaps(env.hostClient), { namespace: env.hostNamespace });
  hostWatch.addHandlers({ onAdd: (o) => seen.set(o.metadata?.annotations?.['vcluster.loft.sh/object-name'] ?? o.metadata?.name ?? '', performance.now()) });
  hostWatch.start();
  await hostWatch.waitForSync();

  // Each create timed from its answer to the host watch seeing the object: through the virtual
  // cluster and the syncer, and (the baseline) sent to the host directly at the same rate.
  const timeSingles = async (client: KubeClient, namespace: string, prefix: string): Promise<Record<string, number>> => {
    const created = new Map<string, number>();
    for (let i = 0; i < singles; i++) {
      const started = performance.now();
      const name = `${prefix}-${i}`;
      await configMaps(client).create({ metadata: { name, namespace }, data: { i: String(i) } });
      created.set(name, performance.now());
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 1000 / rate - performance.now())));
    }
    await waitFor(() => [...created.keys()].every((name) => seen.has(name)), 60_000);
    const latencies = [...created].map(([name, at]) => seen.get(name)! - at).sort((a, b) => a - b);
    return { p50: round(latencies[Math.floor(latencies.length * 0.5)]!), p99: round(latencies[Math.floor(latencies.length * 0.99)]!), max: round(latencies.at(-1)!) };
  };
  console.error(`latency: ${singles} creates at ${rate}/s`);
  results['latencyMs'] = await timeSingles(env.virtualClient, 'latency', 'single');
  console.error(`latency baseline: ${singles} creates at ${rate}/s sent to the host directly`);
  results['directLatencyMs'] = await timeSingles(env.hostClient, env.hostNamespace, 'direct-single');

  console.error(`baseline: ${bulk} creates sent to the host directly`);
  const directSeconds = await createMany(env.hostClient, 'direct', bulk, concurrency);

  console.error(`bulk: ${bulk} creates in the virtual cluster until all are on the host`);
  const cpuBefore = cpuSeconds();
  const startedBulk = performance.now();
  const virtualSeconds = await createMany(env.virtualClient, 'bulk', bulk, concurrency);
  const bulkNames = Array.from({ length: bulk }, (_, i) => `cm-${i}`);
  await waitFor(() => bulkNames.every((name) => seen.has(name)), 600_000);
  const lastSeen = Math.max(...bulkNames.map((name) => seen.get(name)!));
  const syncedSeconds = (lastSeen - startedBulk) / 1000;
  global.gc?.();
  results['bulk'] = {
    directHostCreatesSeconds: round(directSeconds), virtualToHostSeconds: round(syncedSeconds),
    // Part of the above: the virtual apiserver accepting the creates, on the same 2 cores.
    virtualCreatesAcceptedSeconds: round(virtualSeconds),
    lastHostCopyAfterLastVirtualCreateSeconds: round(syncedSeconds - virtualSeconds),
    ratio: round(syncedSeconds / directSeconds), goal: '<= 1.2',
  };
  // Where the CPU went during the bulk run, per process (user + system seconds).
  const cpuAfter = cpuSeconds();
  results['bulkCpuSeconds'] = Object.fromEntries(Object.entries(cpuAfter).map(([name, seconds]) => [name, round(seconds - (cpuBefore[name] ?? 0))]));
  results['syncerProcessRssMiB'] = { idle: round(rssIdle / 1048576), afterBulk: round(process.memoryUsage().rss / 1048576) };
  results['controllerStats'] = controller.stats;

  // The syncer's own throughput: N ConfigMaps already in the virtual cluster (the virtual
  // apiserver is idle while they sync), from the syncer's start until all are on the host.
  await controller.stop();
  await configMaps(env.virtualClient).rest.create('/api/v1/namespaces', { metadata: { name: 'backlog' } });
  console.error(`backlog: ${bulk} ConfigMaps already in the virtual cluster, then a syncer starts`);
  await createMany(env.virtualClient, 'backlog', bulk, concurrency, 'bk');
  const backlogCpuBefore = cpuSeconds();
  const startedBacklog = performance.now();
  const backlogController = await env.startSyncer(configMapSyncer({ all: true }));
  const backlogNames = Array.from({ length: bulk }, (_, i) => `bk-${i}`);
  await waitFor(() => backlogNames.every((name) => seen.has(name)), 600_000);
  const backlogSeconds = (Math.max(...backlogNames.map((name) => seen.get(name)!)) - startedBacklog) / 1000;
  const backlogCpu = Object.fromEntries(Object.entries(cpuSeconds()).map(([name, seconds]) => [name, round(seconds - (backlogCpuBefore[name] ?? 0))]));
  // The host's kine/SQLite slows down as its database grows (every run adds 30,000 objects), so
  // the direct creates are measured again at the end; the ratios use the mean of both baselines.
  await hostWatch.stop();
  await env.hostClient.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'direct-after' } });
  console.error(`baseline again: ${bulk} creates sent to the host directly`);
  const directAfterSeconds = await createMany(env.hostClient, 'direct-after', bulk, concurrency);
  const baseline = (directSeconds + directAfterSeconds) / 2;
  (results['bulk'] as Record<string, unknown>)['directHostCreatesAfterSeconds'] = round(directAfterSeconds);
  (results['bulk'] as Record<string, unknown>)['ratioToMeanBaseline'] = round(syncedSeconds / baseline);
  results['backlog'] = {
    syncerStartToAllOnHostSeconds: round(backlogSeconds), directHostCreatesSeconds: round(directSeconds), directHostCreatesAfterSeconds: round(directAfterSeconds),
    ratio: round(backlogSeconds / directSeconds), ratioToMeanBaseline: round(backlogSeconds / baseline), controllerStats: backlogController.stats,
    cpuSeconds: backlogCpu,
  };
} finally {
  await env.dispose();
}
console.log(JSON.stringify(results, null, 2));

/** CPU seconds (user + system) used so far by each control-plane process and by this one. */
function cpuSeconds(): Record<string, number> {
  const ticks = (pid: number): number => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return 0;
    }
  };
  const out: Record<string, number> = { 'benchmark process (writers + syncer)': ticks(process.pid) };
  for (const component of env.host.cluster.status()) if (component.pid) out[`host ${component.name}`] = ticks(component.pid);
  for (const component of env.plane.status()) if (component.pid) out[`virtual ${component.name}`] = ticks(component.pid);
  return out;
}

async function createMany(client: KubeClient, namespace: string, count: number, parallel: number, prefix = 'cm'): Promise<number> {
  const configMaps = client.resourceFor<KubeObject>(CORE['configmaps']!);
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      await configMaps.create({ metadata: { name: `${prefix}-${i}`, namespace }, data: { index: String(i), payload: 'x'.repeat(64) } });
    }
  }));
  return (performance.now() - started) / 1000;
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the host copies');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
