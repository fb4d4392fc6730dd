// Issue 9 "Figures": the plugin host's costs, against real control planes and real plugin processes.
//   - start: a Go plugin (the vcluster-sdk "hooks" example, built into the cache) from spawn to
//     Initialize returned (from the plugin host's own log), and the whole start (GetPluginConfig,
//     the config Secret, the mapping store's TLS front), over --starts rounds;
//   - mutate: the hook chain's round trip (`PluginHost.mutate`: JSON, gRPC over the unix socket, the
//     plugin's hook, Go merge) p50/p99 for a Pod CreatePhysical against the Go plugin, and the same
//     for a ConfigMap against the no-op plugin;
//     The Go plugin's round trips are also measured with both control planes stopped (SIGSTOP):
//     the hook path alone, without their work competing for the 2 cores;
//   - recovery: kill -9 of the Go plugin, --kills rounds, until its hook works again (restarted,
//     handshaken, initialised: the "within 5 s of the crash");
//   - sync: N ConfigMaps already in the virtual cluster, from a syncer's start until all N are on
//     the host, in the same control planes: without hooks (twice: before and after), with the no-op
//     ConfigMap hook of a plugin process (--noop-plugin go: our Go test plugin kntest with
//     `noop: true`, tools/test-plugins; ts: the TypeScript stand-in
//     packages/kubenest/src/plugins/testdata/fake-plugin.ts, mode noop; both answer mutated=false),
//     and with an in-process hook that writes one mapping per created host object into the
//     mapping store through the TLS front (plugins/mapping-store.ts) as a Go plugin's
//     mapping-store client does — what it would cost if kubenest's syncers recorded mappings;
//   - mapping store: one mapping write (an etcd Txn create, as kine takes it) p50/p99 through the
//     TLS front and directly on kine's unix socket;
//   - RSS of this process (the syncer runs in it) and of each plugin process.
//
//   ./bench/run plugins [--count 10000] [--concurrency 32] [--mutates 2000] [--starts 3] [--kills 5] [--noop-plugin go|ts]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CORE, Informer, type KubeClient, type KubeObject } from '@kubenest/kube';
import { MappingStoreProxy, configMapSyncer, kineSocketPath, startPlugins, type Plugins } from '@kubenest/kubenest';
import { grpc } from '@kubenest/plugin-proto';
import { HookedClient, MetadataTranslator, NameTranslator, NO_HOOKS, SyncController, type HookType, type ObjectHooks, type SyncContext } from '@kubenest/sync';
import { REPO_ROOT, killProcess, sdkExamplePlugins, startSyncEnvironment, testPlugins } from '@kubenest/testing';
import { spawnToInitializeMs } from './baselines.ts';
import { cpuSeconds, loadAverage, round, rssMiB, summary } from './measure.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    mutates: { type: 'string', default: '2000' },
    starts: { type: 'string', default: '3' },
    kills: { type: 'string', default: '5' },
    // The no-op ConfigMap hook's plugin: our Go test plugin kntest (noop: true), or the TypeScript stand-in.
    'noop-plugin': { type: 'string', default: 'go' },
  },
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const mutates = Number(values.mutates);
const starts = Number(values.starts);
const kills = Number(values.kills);
const NAME = 'bench';
const FAKE_PLUGIN = join(REPO_ROOT, 'packages/kubenest/src/plugins/testdata/fake-plugin.ts');

/**
 * A minimal etcd v3 client for one call, `KV/Txn` "create if absent" (kine takes writes as
 * transactions; etcd's mapping-store client uses the same API), encoded by hand.
 */
class MappingClient {
  private readonly client: grpc.Client;
  constructor(target: string, credentials: grpc.ChannelCredentials) {
    // The front's certificate names localhost (and 127.0.0.1): TLS server names cannot be IPs.
    this.client = new grpc.Client(target, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
  }

  create(key: string, value: string): Promise<void> {
    const keyBytes = Buffer.from(key);
    // Compare{target: MOD, key, mod_revision: 0}; RequestOp{request_put: PutRequest{key, value}}.
    const compare = Buffer.concat([field(2, varint(2)), bytes(3, keyBytes), Buffer.from([0x30, 0x00])]);
    const put = Buffer.concat([bytes(1, keyBytes), bytes(2, Buffer.from(value))]);
    const request = Buffer.concat([bytes(1, compare), bytes(2, bytes(2, put))]);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest('/etcdserverpb.KV/Txn', (b: Buffer) => b, (b: Buffer) => b, request, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.client.close();
  }
}

const examples = await sdkExamplePlugins();
const env = await startSyncEnvironment(NAME);
const layout = env.plane.layout;
const results: Record<string, unknown> = { count, concurrency, mutates, starts, loadAverageAtStart: loadAverage() };
const progress = (line: string): void => { process.stderr.write(`  ${line}\n`); };
const startWith = (plugins: Record<string, unknown>): Promise<Plugins> =>
  startPlugins({ name: NAME, hostNamespace: env.hostNamespace, values: { plugins }, layout, host: env.hostClient, progress });

try {
  // 1. Start of the Go plugin, --starts rounds.
  const startMs: number[] = [];
  const initializeMs: number[] = [];
  let goPlugins: Plugins | undefined;
  for (let round = 0; round < starts; round++) {
    await goPlugins?.stop();
    console.error(`start ${round + 1}/${starts}: the Go "hooks" example plugin`);
    const started = performance.now();
    goPlugins = await startWith({ hooks: { path: join(examples, 'hooks') } });
    startMs.push(performance.now() - started);
    initializeMs.push(spawnToInitializeMs(join(layout.logsDir, 'plugin', 'hooks.log')));
  }
  results['goPluginStartMs'] = { spawnToInitializeReturned: summary(initializeMs), wholeStart: summary(startMs) };

  // 2. Mutate round trips against the Go plugin (its Pod CreatePhysical hook adds a label).
  const pod = (i: number): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, namespace: env.hostNamespace, labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } });
  const mutated = await goPlugins!.host!.mutate('CreatePhysical', pod(-1));
  if (mutated.metadata?.labels?.['created-by-plugin'] !== 'pod-hook') throw new Error(`the Go hooks plugin did not label the pod: ${JSON.stringify(mutated.metadata)}`);
  console.error(`mutate: ${mutates} Pod CreatePhysical round trips to the Go plugin`);
  results['goMutateMs'] = await roundTrips(goPlugins!.host!, (i) => pod(i), 'CreatePhysical');
  // 2a. The same with both control planes stopped (SIGSTOP, then SIGCONT; about a second): the hook
  // path alone, without the control planes' own work competing for the 2 cores with the two
  // processes of the round trip. Reported beside the figure above, not instead of it.
  const planePids = [...env.plane.status(), ...env.host.cluster.status()].flatMap((c) => (c.pid ? [c.pid] : []));
  console.error(`mutate: the same ${mutates} round trips with the ${planePids.length} control plane processes stopped`);
  for (const pid of planePids) killProcess(pid, 'SIGSTOP');
  try {
    results['goMutateControlPlanesStoppedMs'] = await roundTrips(goPlugins!.host!, (i) => pod(i), 'CreatePhysical');
  } finally {
    for (const pid of planePids) {
      try { killProcess(pid, 'SIGCONT'); } catch (error) { console.error(`SIGCONT to pid ${pid}: ${(error as Error).message}`); } // the rest go on
    }
  }
  results['goPluginRssMiB'] = rssOfPlugins(goPlugins!);

  // 2b. kill -9 of the Go plugin, --kills times: from the kill until its hook works again (goal 5 s).
  const recoveryMs: number[] = [];
  for (let round = 0; round < kills; round++) {
    const host = goPlugins!.host!;
    const pid = host.status()[0]!.pid!;
    console.error(`kill ${round + 1}/${kills}: SIGKILL to the Go plugin (pid ${pid}), until its Pod hook works again`);
    const killed = performance.now();
    killProcess(pid, 'SIGKILL');
    for (;;) {
      try {
        const out = await host.mutate('CreatePhysical', pod(round));
        if (out.metadata?.labels?.['created-by-plugin'] === 'pod-hook' && host.status()[0]!.pid !== pid) break;
      } catch {
        // refused while it is down (failurePolicy Fail)
      }
      if (performance.now() - killed > 60_000) throw new Error('the Go plugin did not come back within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    recoveryMs.push(performance.now() - killed);
    // The restart backoff doubles per crash and is reset by a successful start: each round is a "first restart".
  }
  results['goPluginRecoveryMs'] = summary(recoveryMs);
  await goPlugins!.stop();

  // 3. The no-op ConfigMap hook of a plugin process: kntest (Go) or the TypeScript stand-in.
  const noop = await startWith({ noop: values['noop-plugin'] === 'ts'
    ? { path: FAKE_PLUGIN, config: { mode: 'noop' } }
    : { path: join(await testPlugins(), 'kntest'), config: { label: 'bench', noop: true } } });
  results['noopPlugin'] = values['noop-plugin'] === 'ts' ? 'TypeScript stand-in (fake-plugin.ts, mode noop)' : 'Go: tools/test-plugins kntest (noop: true)';
  const configMap = (i: number): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `m-${i}`, namespace: env.hostNamespace }, data: { index: String(i), payload: 'x'.repeat(64) } });
  console.error(`mutate: ${mutates} ConfigMap CreatePhysical round trips to the no-op plugin`);
  results['noopMutateMs'] = await roundTrips(noop.host!, configMap, 'CreatePhysical');

  // 4. The mapping store: one write through the TLS front, and directly on kine's socket.
  const store = await MappingStoreProxy.start(join(layout.dataDir, 'plugins', 'pki'), kineSocketPath(layout.dataDir));
  const viaFront = new MappingClient(store.endpoint.endpoint, grpc.credentials.createSsl(readFileSync(store.endpoint.caFile), readFileSync(store.endpoint.keyFile), readFileSync(store.endpoint.certFile)));
  const direct = new MappingClient(`unix://${kineSocketPath(layout.dataDir)}`, grpc.credentials.createInsecure());
  console.error(`mapping store: ${mutates} writes through the TLS front, ${mutates} directly on kine's socket`);
  results['mappingWriteMs'] = {
    throughTlsFront: await timed(mutates, (i) => viaFront.create(`/vcluster/mappings/bench/front-${i}`, mappingValue(i))),
    directOnKineSocket: await timed(mutates, (i) => direct.create(`/vcluster/mappings/bench/direct-${i}`, mappingValue(i))),
  };

  // 5. N ConfigMaps synced: without hooks, with the no-op plugin hook, with mapping writes, without again.
  const mappingHooks: ObjectHooks = {
    wants: (apiVersion, kind, type) => apiVersion === 'v1' && kind === 'ConfigMap' && type === 'CreatePhysical',
    async mutate<T extends KubeObject>(_type: HookType, object: T): Promise<T> {
      await viaFront.create(`/vcluster/mappings/${NAME}/v1/configmaps/${object.metadata?.namespace}/${object.metadata?.name}`, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', name: object.metadata?.name, namespace: object.metadata?.namespace }));
      return object;
    },
  };
  const runs: [string, ObjectHooks, (() => number | undefined) | undefined][] = [
    ['withoutHooks', NO_HOOKS, undefined],
    ['noopPluginHook', noop.host!, () => noop.host!.status()[0]?.pid],
    ['mappingWritePerObject', mappingHooks, undefined],
    ['withoutHooksAgain', NO_HOOKS, undefined],
  ];
  const sync: Record<string, unknown> = {};
  // Unmeasured warm-up, both code paths, a fifth of the count each: without it the first measured
  // run also paid the syncer's JIT and the host apiserver's first load (runs 6-7: 28-32 s against
  // 19-21 s for the same run at the end).
  const warmup = Math.ceil(count / 5);
  for (const [index, hooks] of [[10, NO_HOOKS], [11, noop.host!]] as const) {
    console.error(`warm-up: ${warmup} ConfigMaps, ${index === 10 ? 'without hooks' : 'with the no-op plugin hook'} (not measured)`);
    sync[index === 10 ? 'warmupWithoutHooks' : 'warmupNoopPluginHook'] = await syncRun(index, hooks, undefined, warmup);
  }
  for (const [index, [label, hooks, pluginPid]] of runs.entries()) {
    console.error(`sync ${label}: ${count} ConfigMaps already in the virtual cluster, then a syncer starts`);
    sync[label] = await syncRun(index, hooks, pluginPid);
  }
  const seconds = (label: string): number => (sync[label] as { seconds: number }).seconds;
  const baseline = (seconds('withoutHooks') + seconds('withoutHooksAgain')) / 2;
  results['sync'] = {
    ...sync,
    // Throughput with ÷ without = time without ÷ time with.
    noopPluginHookThroughputRatio: round(baseline / seconds('noopPluginHook')), goal: '>= 0.9',
    mappingWriteThroughputRatio: round(baseline / seconds('mappingWritePerObject')),
  };
  results['noopPluginRssMiB'] = rssOfPlugins(noop);
  global.gc?.();
  results['syncerProcessRssMiB'] = round(process.memoryUsage().rss / 1048576);
  viaFront.close();
  direct.close();
  await store.stop();
  await noop.stop();
  results['loadAverageAtEnd'] = loadAverage();
} finally {
  await env.dispose();
}
console.log(JSON.stringify(results, null, 2));
printTable(results);

/** One sync run in its own virtual namespace and host namespace, so that no run sees another's objects. */
async function syncRun(index: number, hooks: ObjectHooks, pluginPid?: () => number | undefined, n = count): Promise<Record<string, unknown>> {
  const namespace = `run-${index}`;
  const hostNamespace = `vc-${NAME}-run-${index}`;
  await env.virtualClient.resourceFor(CORE['namespaces']!).create({ metadata: { name: namespace } });
  await env.hostClient.resourceFor(CORE['namespaces']!).create({ metadata: { name: hostNamespace } });
  await createMany(env.virtualClient, namespace, n);
  let seen = 0;
  const hostWatch = new Informer(env.hostClient.resourceFor<KubeObject>(CORE['configmaps']!), { namespace: hostNamespace });
  hostWatch.addHandlers({ onAdd: () => { seen += 1; } });
  hostWatch.start();
  await hostWatch.waitForSync();
  const ctx: SyncContext = {
    virtual: new HookedClient('virtual', env.virtualClient, hooks), host: new HookedClient('host', env.hostClient, hooks),
    vclusterName: NAME, hostNamespace, names: new NameTranslator(NAME, hostNamespace), meta: new MetadataTranslator(NAME, hostNamespace),
  };
  const base = configMapSyncer({ all: true });
  // Only this run's namespace: the others' host copies are in other host namespaces, never seen.
  const controller = new SyncController(ctx, { ...base, wants: (c, v) => v.metadata?.namespace === namespace && base.wants!(c, v) });
  const cpuBefore = { self: cpuSeconds(process.pid), plugin: pluginPid ? cpuSeconds(pluginPid()) : 0 };
  const started = performance.now();
  await controller.start();
  const deadline = Date.now() + 900_000;
  while (seen < n) {
    if (Date.now() > deadline) throw new Error(`${namespace}: ${seen} of ${n} on the host after 15 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const out = {
    seconds: round(seconds), perSecond: round(n / seconds),
    syncerProcessCpuSeconds: round(cpuSeconds(process.pid) - cpuBefore.self),
    ...(pluginPid ? { pluginProcessCpuSeconds: round(cpuSeconds(pluginPid()) - cpuBefore.plugin) } : {}),
    created: controller.stats.created, loadAverage: loadAverage(),
  };
  await controller.stop();
  await hostWatch.stop();
  return out;
}

async function roundTrips(host: ObjectHooks, object: (i: number) => KubeObject, type: HookType): Promise<Record<string, number>> {
  for (let i = 0; i < 200; i++) await host.mutate(type, object(i)); // warm-up
  return timed(mutates, (i) => host.mutate(type, object(i)));
}

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<Record<string, number>> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await op(i);
    samples.push(performance.now() - started);
  }
  return summary(samples);
}


function rssOfPlugins(plugins: Plugins): Record<string, number> {
  return Object.fromEntries(plugins.host!.status().map((s) => [s.name, s.pid ? rssMiB(s.pid) : -1]));
}

async function createMany(client: KubeClient, namespace: string, n: number): Promise<void> {
  const configMaps = client.resourceFor<KubeObject>(CORE['configmaps']!);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      await configMaps.create({ metadata: { name: `cm-${i}`, namespace }, data: { index: String(i), payload: 'x'.repeat(64) } });
    }
  }));
}

function mappingValue(i: number): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', name: `cm-${i}`, namespace: 'default' });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function field(number: number, value: Buffer): Buffer {
  return Buffer.concat([varint(number << 3), value]);
}

function bytes(number: number, value: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) | 2), varint(value.length), value]);
}

function printTable(r: Record<string, unknown>): void {
  const s = r['sync'] as Record<string, Record<string, number> | number | string>;
  const row = (what: string, value: string): void => { console.error(`${what.padEnd(64)} ${value}`); };
  const pct = (m: Record<string, number>): string => `p50 ${m['p50']} ms, p99 ${m['p99']} ms (n ${m['n']})`;
  const start = r['goPluginStartMs'] as Record<string, Record<string, number>>;
  row('Go plugin start, spawn -> Initialize returned', pct(start['spawnToInitializeReturned']!));
  row('Go plugin start, whole (+ GetPluginConfig, Secret, TLS front)', pct(start['wholeStart']!));
  row('Mutate round trip, Go plugin (Pod CreatePhysical)', pct(r['goMutateMs'] as Record<string, number>));
  row('  the same, control planes stopped (the hook path alone)', pct(r['goMutateControlPlanesStoppedMs'] as Record<string, number>));
  const recovery = r['goPluginRecoveryMs'] as Record<string, number>;
  row('Go plugin kill -9 -> its hook works again (goal 5 s)', `${pct(recovery)}, max ${recovery['max']} ms`);
  row(`Mutate round trip, no-op plugin (ConfigMap; ${String(r['noopPlugin'])})`, pct(r['noopMutateMs'] as Record<string, number>));
  const m = r['mappingWriteMs'] as Record<string, Record<string, number>>;
  row('mapping write through the TLS front', pct(m['throughTlsFront']!));
  row('mapping write directly on kine', pct(m['directOnKineSocket']!));
  for (const label of ['withoutHooks', 'noopPluginHook', 'mappingWritePerObject', 'withoutHooksAgain']) {
    const run = s[label] as Record<string, number>;
    row(`sync ${count} ConfigMaps: ${label}`, `${run['seconds']} s (${run['perSecond']}/s)`);
  }
  row('throughput ratio, no-op plugin hook / without (goal >= 0.9)', JSON.stringify(s['noopPluginHookThroughputRatio']));
  row('throughput ratio, mapping write per object / without', JSON.stringify(s['mappingWriteThroughputRatio']));
  row('RSS MiB: benchmark process / Go hooks plugin / no-op plugin', `${String(r['syncerProcessRssMiB'])} / ${JSON.stringify(r['goPluginRssMiB'])} / ${JSON.stringify(r['noopPluginRssMiB'])}`);
}
