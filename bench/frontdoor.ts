// Issue 10 "Figures": the front door (the authenticating proxy, packages/kubenest/src/frontdoor)
// against the virtual kube-apiserver it fronts, every figure with its direct baseline in the same run:
//   - GET (one ConfigMap) and LIST (a namespace of --list-size ConfigMaps) latency p50/p99, through
//     the front door and direct, requests interleaved one by one so that both see the same noise;
//   - --creates ConfigMap creates at --concurrency, through and direct, in 20 alternating blocks;
//     throughput through ÷ direct (goal ≥ 0.9);
//   - watch event throughput: two watches on the creates' namespace open at once, one through the
//     front door and one direct, events/s from the first create to each one's last event
//     (goal: through ÷ direct ≥ 0.95);
//   - RSS of the process that runs the front door, before it starts (modules loaded), idle, and
//     after the load (peak): what the front door adds to a virtual cluster's daemon.
// The front door runs in a child process of its own (the same code as in a daemon), so that the
// load this process generates does not share its event loop. Clients present the admin client
// certificate both ways.
//
//   ./bench/run frontdoor [--creates 10000] [--concurrency 32] [--requests 1000] [--list-size 100]
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { RestClient, loadKubeconfig } from '@kubenest/kube';
import { FrontDoor, HOST_SERVICE_CIDR, TokenAuthenticator, VirtualControlPlane, resolveBinaries, type TokenReviewStatus } from '@kubenest/kubenest';
import { tempDir } from '@kubenest/testing';
import { round, summary } from './measure.ts';

const { values } = parseArgs({
  options: {
    creates: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    requests: { type: 'string', default: '1000' },
    'list-size': { type: 'string', default: '100' },
    child: { type: 'string' },
  },
});
const SELF = fileURLToPath(import.meta.url);
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10;

if (values.child) {
  await runFrontDoorChild(values.child);
} else {
  await main();
}

/** The front door alone in this process, on the plane's certificates; reports RSS on request ("rss" on stdin). */
async function runFrontDoorChild(dataDir: string): Promise<void> {
  const pki = join(dataDir, 'pki');
  const settings = JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { apiserverPort: number };
  const client = new RestClient(loadKubeconfig(join(pki, 'admin.kubeconfig')), { qps: Infinity });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const review = async (token: string): Promise<TokenReviewStatus> =>
    (await client.request<{ status?: TokenReviewStatus }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } })).status ?? {};
  const door = await FrontDoor.start({
    port: 0, servingCert: readFileSync(join(pki, 'front-door.crt')), servingKey: readFileSync(join(pki, 'front-door.key')), clientCa: readFileSync(join(pki, 'ca.crt')),
    apiserver: { url: `https://127.0.0.1:${settings.apiserverPort}`, ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, 'front-proxy-client.crt')), key: readFileSync(join(pki, 'front-proxy-client.key')) },
    tokens: new TokenAuthenticator({ review }),
  });
  global.gc?.();
  console.log(JSON.stringify({ port: door.port, rssBeforeMiB: mib(rssBefore), rssIdleMiB: mib(process.memoryUsage().rss) }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'rss') console.log(JSON.stringify({ rssMiB: mib(process.memoryUsage().rss), maxRssMiB: round(process.resourceUsage().maxRSS / 1024, 1) }));
    if (line === 'cpu') {
      const { user, system } = process.cpuUsage();
      console.log(JSON.stringify({ cpuMs: round((user + system) / 1000, 0) }));
    }
  }
  await door.stop();
  await client.close();
}

interface Target { name: 'direct' | 'through'; url: string; agent: Agent }

async function main(): Promise<void> {
  const creates = Number(values.creates);
  const concurrency = Number(values.concurrency);
  const requests = Number(values.requests);
  const listSize = Number(values['list-size']);
  const binaries = await resolveBinaries({ progress: (line) => console.error(line) });
  const dir = tempDir('kn-fdbench-');
  const plane = await VirtualControlPlane.start({ name: 'bench', dataDir: join(dir.path, 'bench'), binaries, serviceCidr: HOST_SERVICE_CIDR, progress: (line) => console.error(line) });
  let door: ChildProcessByStdio<Writable, Readable, null> | undefined;
  const results: Record<string, unknown> = { creates, concurrency, requests, listSize, cores: (await import('node:os')).cpus().length };
  try {
    const child = spawn(process.execPath, ['--expose-gc', SELF, '--child', plane.layout.dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
    door = child;
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const nextLine = async (): Promise<Record<string, number>> => JSON.parse(((await lines.next()).value as string | undefined) ?? '{}') as Record<string, number>;
    const started = await nextLine();
    const ca = readFileSync(join(plane.layout.dataDir, 'pki', 'ca.crt'));
    const connect = { ca, cert: readFileSync(join(plane.layout.dataDir, 'pki', 'admin.crt')), key: readFileSync(join(plane.layout.dataDir, 'pki', 'admin.key')) };
    const direct: Target = { name: 'direct', url: plane.apiserver, agent: new Agent({ connections: 64, connect }) };
    const through: Target = { name: 'through', url: `https://127.0.0.1:${started['port']}`, agent: new Agent({ connections: 64, connect }) };

    for (const ns of ['list', 'creates']) await call(direct, 'POST', '/api/v1/namespaces', { metadata: { name: ns } }, 201);
    await Promise.all(Array.from({ length: listSize }, (_, i) => call(direct, 'POST', '/api/v1/namespaces/list/configmaps', configMap(`cm-${i}`, 'list'), 201)));

    console.error(`GET and LIST latency, ${requests} of each per side, interleaved`);
    for (const t of [direct, through]) for (let i = 0; i < 20; i++) await call(t, 'GET', '/api/v1/namespaces/list/configmaps/cm-0'); // warm the connections
    const latency: Record<string, Record<string, number[]>> = { get: { direct: [], through: [] }, list: { direct: [], through: [] } };
    for (let i = 0; i < requests; i++) {
      for (const t of i % 2 === 0 ? [direct, through] : [through, direct]) {
        latency['get']![t.name]!.push(await timedCall(t, 'GET', `/api/v1/namespaces/list/configmaps/cm-${i % listSize}`));
        latency['list']![t.name]!.push(await timedCall(t, 'GET', '/api/v1/namespaces/list/configmaps'));
      }
    }
    for (const kind of ['get', 'list']) {
      const d = summary(latency[kind]!['direct']!);
      const th = summary(latency[kind]!['through']!);
      results[`${kind}LatencyMs`] = { direct: d, through: th, p50Ratio: round(th.p50 / d.p50), p99Ratio: round(th.p99 / d.p99) };
    }

    child.stdin.write('cpu\n');
    const cpuBefore = (await nextLine())['cpuMs'] ?? 0;
    console.error(`${creates} creates per side at concurrency ${concurrency}, in alternating blocks, with a watch open each way`);
    const watches = [direct, through].map((t) => openWatch(t, '/api/v1/namespaces/creates/configmaps?watch=true&allowWatchBookmarks=false'));
    await Promise.all(watches.map((w) => w.ready));
    const firstWrite = performance.now();
    const seconds = { direct: 0, through: 0 };
    // Many short blocks, so that the machine's load drifting during the run weighs on both sides alike.
    const blocks = 20;
    let index = 0;
    for (let block = 0; block < blocks; block++) {
      for (const t of block % 2 === 0 ? [direct, through] : [through, direct]) {
        const n = Math.floor(creates / blocks) + (block === blocks - 1 ? creates % blocks : 0);
        const from = index;
        index += n;
        const t0 = performance.now();
        let next = from;
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (next < from + n) {
            const i = next++;
            await call(t, 'POST', '/api/v1/namespaces/creates/configmaps', configMap(`cm-${i}`, 'creates'), 201);
          }
        }));
        seconds[t.name] += (performance.now() - t0) / 1000;
      }
    }
    const total = index;
    child.stdin.write('cpu\n');
    const cpuAfter = (await nextLine())['cpuMs'] ?? 0;
    const deadline = Date.now() + 120_000;
    while (watches.some((w) => w.events < total && !w.ended) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const w of watches) w.close();
    results['createThroughput'] = {
      directPerSecond: round(creates / seconds.direct, 0), throughPerSecond: round(creates / seconds.through, 0), ratio: round(seconds.direct / seconds.through),
      // The front door process's CPU per create it forwarded (its watch's events included).
      frontDoorCpuMsPerCreate: round((cpuAfter - cpuBefore) / creates, 3),
    };
    const [wd, wt] = watches as [Watch, Watch];
    const rate = (w: Watch): number => w.events / ((w.lastEventAt - firstWrite) / 1000);
    results['watchThroughput'] = {
      events: total, directSeen: wd.events, throughSeen: wt.events, directEndedByServer: wd.ended, throughEndedByServer: wt.ended,
      directEventsPerSecond: round(rate(wd), 0), throughEventsPerSecond: round(rate(wt), 0), ratio: round(rate(wt) / rate(wd)),
      // How much later the last event came through the front door than directly.
      lastEventLagMs: round(wt.lastEventAt - wd.lastEventAt, 1),
    };
    child.stdin.write('rss\n');
    const rss = await nextLine();
    results['frontDoorProcessRss'] = {
      beforeStartMiB: started['rssBeforeMiB'], idleMiB: started['rssIdleMiB'], afterLoadMiB: rss['rssMiB'], peakMiB: rss['maxRssMiB'],
      addedIdleMiB: round((started['rssIdleMiB'] ?? 0) - (started['rssBeforeMiB'] ?? 0), 1),
    };
    await direct.agent.close();
    await through.agent.close();
  } finally {
    door?.stdin.end();
    if (door && door.exitCode === null) await new Promise((resolve) => door!.once('exit', resolve));
    await plane.stop();
    dir.remove();
  }
  console.log(JSON.stringify(results, null, 2));
  printTable(results);
}

function configMap(name: string, namespace: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { payload: 'x'.repeat(64) } };
}

async function call(t: Target, method: string, path: string, body?: unknown, expect = 200): Promise<void> {
  const response = await request(`${t.url}${path}`, {
    method, dispatcher: t.agent, headers: { accept: 'application/json', 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  await response.body.dump();
  if (response.statusCode !== expect) throw new Error(`${t.name} ${method} ${path}: ${response.statusCode}`);
}

async function timedCall(t: Target, method: string, path: string): Promise<number> {
  const t0 = performance.now();
  const response = await request(`${t.url}${path}`, { method, dispatcher: t.agent, headers: { accept: 'application/json' } });
  await response.body.text();
  const ms = performance.now() - t0;
  if (response.statusCode !== 200) throw new Error(`${t.name} ${method} ${path}: ${response.statusCode}`);
  return ms;
}

interface Watch { ready: Promise<void>; events: number; lastEventAt: number; ended: boolean; close(): void }

function openWatch(t: Target, path: string): Watch {
  const abort = new AbortController();
  const watch: Watch = { ready: Promise.resolve(), events: 0, lastEventAt: 0, ended: false, close: () => abort.abort() };
  watch.ready = (async () => {
    const response = await request(`${t.url}${path}`, { dispatcher: t.agent, signal: abort.signal, headers: { accept: 'application/json' } });
    if (response.statusCode !== 200) throw new Error(`${t.name} watch: ${response.statusCode}`);
    void (async () => {
      try {
        for await (const chunk of response.body) {
          for (const byte of chunk as Buffer) if (byte === 10) watch.events += 1;
          watch.lastEventAt = performance.now();
        }
        // The server ended the watch before close(): the figures cover only what came before.
        if (!abort.signal.aborted) watch.ended = true;
      } catch {
        // closed by close()
      }
    })();
  })();
  return watch;
}

function printTable(r: Record<string, unknown>): void {
  const get = r['getLatencyMs'] as { direct: { p50: number; p99: number }; through: { p50: number; p99: number }; p50Ratio: number; p99Ratio: number };
  const list = r['listLatencyMs'] as typeof get;
  const creates = r['createThroughput'] as Record<string, number>;
  const watch = r['watchThroughput'] as Record<string, number>;
  const rss = r['frontDoorProcessRss'] as Record<string, number>;
  console.log([
    '',
    '| figure | direct | through the front door | through ÷ direct |',
    '|---|---|---|---|',
    `| GET p50 / p99 (ms) | ${get.direct.p50} / ${get.direct.p99} | ${get.through.p50} / ${get.through.p99} | ${get.p50Ratio} / ${get.p99Ratio} |`,
    `| LIST ${String(r['listSize'])} p50 / p99 (ms) | ${list.direct.p50} / ${list.direct.p99} | ${list.through.p50} / ${list.through.p99} | ${list.p50Ratio} / ${list.p99Ratio} |`,
    `| ${String(r['creates'])} creates (per s) | ${creates['directPerSecond']} | ${creates['throughPerSecond']} (front door CPU ${creates['frontDoorCpuMsPerCreate']} ms each) | ${creates['ratio']} (throughput) |`,
    `| watch events (per s) | ${watch['directEventsPerSecond']} | ${watch['throughEventsPerSecond']} | ${watch['ratio']} |`,
    `| front door process RSS (MiB) | before start ${rss['beforeStartMiB']} | idle ${rss['idleMiB']}, after the load ${rss['afterLoadMiB']}, peak ${rss['peakMiB']} | +${rss['addedIdleMiB']} idle |`,
  ].join('\n'));
}
