// Measures the kube client runtime against a real local apiserver, each figure with a baseline
// from the same run:
//   - informer initial list of N ConfigMaps: time, and RSS of a fresh process before/after
//     (RSS per 1,000 cached objects);
//   - watch throughput: events/s through an informer while a second process creates objects as
//     fast as the apiserver accepts them, as a ratio to that accepted write rate;
//   - create throughput of our client vs a minimal raw HTTP loop (same connection pool size and
//     concurrency, no library).
//
//   ./bench/run kube [--objects 10000] [--writes 5000] [--creates 3000] [--concurrency 32]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { CORE, Informer, KubeClient, loadKubeconfig, type RestConfig } from '@kubenest/kube';
import { HostCluster, resolveBinaries } from '@kubenest/kubenest';
import { tempDir } from '@kubenest/testing';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '10000' },
    writes: { type: 'string', default: '5000' },
    creates: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    child: { type: 'string' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    count: { type: 'string' },
  },
});
const SELF = fileURLToPath(import.meta.url);

if (values.child) {
  await runChild(values.child, values.kubeconfig!, values.namespace!, Number(values.count ?? 0), Number(values.concurrency));
  process.exit(0);
}

const concurrency = Number(values.concurrency);
const binaries = await resolveBinaries({ progress: (line) => console.error(line) });
const dir = tempDir('kn-kbench-');
const host = await HostCluster.start({ dataDir: dir.path, binaries, nodes: 0 });
const config = loadKubeconfig(host.kubeconfig);
const kube = new KubeClient(config, { qps: Infinity });
const results: Record<string, unknown> = { objects: Number(values.objects), writes: Number(values.writes), creates: Number(values.creates), concurrency };
try {
  for (const ns of ['list', 'watch', 'ours', 'raw']) await kube.resourceFor(CORE['namespaces']!).create({ metadata: { name: ns } });

  console.error(`creating ${values.objects} ConfigMaps for the list benchmark`);
  await createMany(kube, 'list', Number(values.objects), concurrency);
  const list = JSON.parse(await child(['--child', 'informer-list', '--kubeconfig', host.kubeconfig, '--namespace', 'list'])) as Record<string, number>;
  results['informerInitialList'] = { ...list, rssPer1000ObjectsMiB: round(((list['rssAfterMiB'] ?? 0) - (list['rssBeforeMiB'] ?? 0)) / (Number(values.objects) / 1000)) };

  console.error('watch throughput');
  const informer = new Informer(kube.resourceFor(CORE['configmaps']!), { namespace: 'watch' });
  let events = 0;
  let lastEventWall = 0;
  informer.addHandlers({ onAdd: () => { events += 1; lastEventWall = Date.now(); } });
  informer.start();
  await informer.waitForSync();
  events = 0;
  const writes = Number(values.writes);
  const writer = JSON.parse(await child(['--child', 'writer', '--kubeconfig', host.kubeconfig, '--namespace', 'watch', '--count', String(writes), '--concurrency', String(concurrency)])) as { seconds: number; startedAt: number; endedAt: number };
  const deadline = Date.now() + 120_000;
  while (events < writes && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await informer.stop();
  const writeRate = writes / writer.seconds;
  // Over the same window as the writes: from the writer's first create to the informer's last event.
  const eventRate = events / ((lastEventWall - writer.startedAt) / 1000);
  results['watchThroughput'] = { acceptedWritesPerSecond: round(writeRate), informerEventsPerSecond: round(eventRate), eventsSeen: events, ratio: round(eventRate / writeRate),
    // How long after the writer's last accepted create the informer delivered its last event.
    lagAfterLastWriteMs: lastEventWall - writer.endedAt };

  console.error('create throughput: our client vs a raw HTTP loop');
  const creates = Number(values.creates);
  const rawSeconds = await rawCreates(config, 'raw', creates, concurrency);
  const oursSeconds = await timed(() => createMany(kube, 'ours', creates, concurrency));
  results['createThroughput'] = {
    rawLoopPerSecond: round(creates / rawSeconds), oursPerSecond: round(creates / oursSeconds),
    oursAsFractionOfRaw: round(rawSeconds / oursSeconds),
  };
} finally {
  await kube.close();
  await host.stop();
  dir.remove();
}
console.log(JSON.stringify(results, null, 2));

async function createMany(client: KubeClient, namespace: string, count: number, parallel: number): Promise<void> {
  const configMaps = client.resourceFor(CORE['configmaps']!);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      await configMaps.create({ metadata: { name: `cm-${i}`, namespace }, data: { index: String(i), payload: 'x'.repeat(64) } });
    }
  }));
}

/** The baseline: POSTs with undici directly, the same pool size, no client library. */
async function rawCreates(config: RestConfig, namespace: string, count: number, parallel: number): Promise<number> {
  const agent = new Agent({ connections: 64, connect: { ca: config.caData, cert: config.clientCertData, key: config.clientKeyData } });
  const url = `${config.server}/api/v1/namespaces/${namespace}/configmaps`;
  let next = 0;
  const seconds = await timed(() => Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace }, data: { index: String(i), payload: 'x'.repeat(64) } });
      const response = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', accept: 'application/json' }, dispatcher: agent });
      await response.body.text();
      if (response.statusCode !== 201) throw new Error(`raw create: ${response.statusCode}`);
    }
  })));
  await agent.close();
  return seconds;
}

async function runChild(kind: string, kubeconfig: string, namespace: string, count: number, parallel: number): Promise<void> {
  const client = new KubeClient(loadKubeconfig(kubeconfig), { qps: Infinity });
  if (kind === 'informer-list') {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const informer = new Informer(client.resourceFor(CORE['configmaps']!), { namespace });
    informer.start();
    await informer.waitForSync();
    const seconds = (performance.now() - started) / 1000;
    global.gc?.();
    const rssAfter = process.memoryUsage().rss;
    await informer.stop();
    console.log(JSON.stringify({ cached: informer.store.size, seconds: round(seconds), rssBeforeMiB: mib(rssBefore), rssAfterMiB: mib(rssAfter) }));
  } else {
    const startedAt = Date.now();
    const seconds = await timed(() => createMany(client, namespace, count, parallel));
    console.log(JSON.stringify({ seconds, startedAt, endedAt: Date.now() }));
  }
  await client.close();
}

function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child ${args[1]} exited ${code}`))));
  });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function mib(bytes: number): number {
  return round(bytes / 1048576);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

