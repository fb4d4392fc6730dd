// ADR 31's figures: the CPU one hook call (`Plugin/Mutate`) costs the host process and the plugin,
// over the transport the plugin host uses (`UnaryChannel`, node:http2) and over grpc-js (the
// baseline, what it used before), in the same run against the same plugin process: our Go test
// plugin kntest with `noop: true` (tools/test-plugins; go-plugin and grpc-go as a vcluster-sdk
// plugin), no control planes.
//   - burst: --calls calls, 32 in flight;
//   - isolated: --isolated calls one at a time, each after a 1 ms timer (as calls arrive in a
//     sync, each on its own), with the round trip's p50/p99; a loop of timers alone is the floor.
// The transports alternate in --rounds rounds so that drift falls on both alike.
//
//   ./bench/run hook-call [--calls 10000] [--isolated 3000] [--rounds 3]
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { grpc, pluginv2 } from '@kubenest/plugin-proto';
import { testPlugins } from '@kubenest/testing';
import { PluginHost } from '../packages/kubenest/src/plugins/host.ts';
import { UnaryChannel } from '../packages/kubenest/src/plugins/unary.ts';
import { quantile } from './measure.ts';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '10000' },
    isolated: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
  },
});
const calls = Number(values.calls);
const isolated = Number(values.isolated);
const rounds = Number(values.rounds);

const dir = mkdtempSync(join(tmpdir(), 'kubenest-hook-call-'));
writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
// The plugin host starts the plugin (handshake, Initialize) as it does in a virtual cluster; its
// host credentials and mapping store are never used by the no-op plugin.
const host = await PluginHost.start({
  vclusterName: 'bench', hostNamespace: 'vcluster-bench',
  values: { plugins: { noop: { path: join(await testPlugins(), 'kntest'), config: { label: 'bench', noop: true } } } },
  hostCredentials: () => Promise.resolve({ server: 'https://127.0.0.1:1', token: 'unused' }),
  virtualKubeconfigFile: join(dir, 'kubeconfig'), mappingStore: { endpoint: '127.0.0.1:1', caFile: 'unused', certFile: 'unused', keyFile: 'unused' },
  dataDir: join(dir, 'vc'), logsDir: join(dir, 'vc', 'logs'), progress: (line) => process.stderr.write(`  ${line}\n`),
});
const pluginPid = host.status()[0]!.pid!;
const socket = join(host.socketDir, readdirSync(host.socketDir)[0]!);

const viaGrpcJs = new pluginv2.PluginClient(`unix://${socket}`, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 2 ** 31 - 1, 'grpc.max_send_message_length': 2 ** 31 - 1, 'grpc.default_authority': 'unused',
  'grpc.enable_channelz': 0, 'grpc.enable_retries': 0,
});
const viaHttp2 = new UnaryChannel('unix', socket);
await viaHttp2.open();

const request = (i: number): pluginv2.Mutate_Request => ({
  apiVersion: 'v1', kind: 'ConfigMap', type: 'CreatePhysical',
  object: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}-x-default-x-bench`, namespace: 'vcluster-bench', labels: { 'vcluster.loft.sh/managed-by': 'bench' }, annotations: { 'vcluster.loft.sh/object-name': `cm-${i}`, 'vcluster.loft.sh/object-namespace': 'default' } }, data: { index: String(i), payload: 'x'.repeat(64) } }),
});
const transports: Record<string, (i: number) => Promise<pluginv2.Mutate_Response>> = {
  'grpc-js': (i) => new Promise((resolve, reject) => { viaGrpcJs.mutate(request(i), (error, answer) => (error ? reject(error) : resolve(answer))); }),
  'node:http2': (i) => viaHttp2.call('/pluginv2.Plugin/Mutate', (r: pluginv2.Mutate_Request) => pluginv2.Mutate_Request.encode(r).finish(), (b) => pluginv2.Mutate_Response.decode(b), request(i)),
};

function pluginCpuMicros(): number {
  const fields = readFileSync(`/proc/${pluginPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

type Sample = { hostMicros: number; pluginMicros: number; latencies: number[] };
async function measure(n: number, body: () => Promise<number[]>): Promise<Sample> {
  const host0 = process.cpuUsage();
  const plugin0 = pluginCpuMicros();
  const latencies = await body();
  const used = process.cpuUsage(host0);
  return { hostMicros: (used.user + used.system) / n, pluginMicros: (pluginCpuMicros() - plugin0) / n, latencies };
}
const burst = (call: (i: number) => Promise<unknown>) => measure(calls, async () => {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => { while (next < calls) await call(next++); }));
  return [];
});
const alone = (call: ((i: number) => Promise<unknown>) | undefined) => measure(isolated, async () => {
  const latencies: number[] = [];
  for (let i = 0; i < isolated; i++) {
    await tick();
    if (!call) continue;
    const started = performance.now();
    await call(i);
    latencies.push(performance.now() - started);
  }
  return latencies;
});

const results: Record<string, { burst: Sample[]; isolated: Sample[] }> = { 'grpc-js': { burst: [], isolated: [] }, 'node:http2': { burst: [], isolated: [] } };
const floor: Sample[] = [];
try {
  for (const call of Object.values(transports)) for (let i = 0; i < 2000; i++) await call(i); // warm-up, unmeasured
  for (let round = 1; round <= rounds; round++) {
    for (const [name, call] of Object.entries(transports)) {
      process.stderr.write(`round ${round}/${rounds}: ${name}: ${calls} calls, 32 in flight; ${isolated} calls one at a time\n`);
      results[name]!.burst.push(await burst(call));
      results[name]!.isolated.push(await alone(call));
    }
    floor.push(await alone(undefined));
  }
} finally {
  viaHttp2.close();
  viaGrpcJs.close();
  await host.stop();
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]): number => quantile(xs, 0.5);
const range = (xs: number[]): string => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))}`;
const report: Record<string, unknown> = { calls, isolated, rounds, floorHostMicrosPerTimer: range(floor.map((s) => s.hostMicros)) };
for (const [name, r] of Object.entries(results)) {
  const latencies = r.isolated.flatMap((s) => s.latencies);
  report[name] = {
    burstHostMicrosPerCall: range(r.burst.map((s) => s.hostMicros)), burstPluginMicrosPerCall: range(r.burst.map((s) => s.pluginMicros)),
    isolatedHostMicrosPerCall: range(r.isolated.map((s) => s.hostMicros)), isolatedPluginMicrosPerCall: range(r.isolated.map((s) => s.pluginMicros)),
    isolatedRoundTripMs: { p50: +median(latencies).toFixed(3), p99: +quantile(latencies, 0.99).toFixed(3) },
  };
}
console.log(JSON.stringify(report, null, 2));
