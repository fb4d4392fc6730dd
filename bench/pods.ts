// Measures the pod syncer end to end, with the virtual cluster started by the CLI as a user would:
//   - a Deployment of N replicas created in the virtual cluster until N virtual pods are Running,
//     as a ratio to the same Deployment created directly on the host (the baseline, same run);
//   - pod sync latency p50/p99: virtual create → host create, host Running → virtual Running,
//     and virtual create → virtual Running, for single pods at a steady rate; baseline: the same
//     pods created on the host directly (create → seen by a watch, create → Running);
//   - RSS of the virtual cluster's supervisor process (it runs the syncer) idle and with N pods.
//
//   ./bench/run pods [--replicas 1000] [--nodes 4] [--singles 100] [--rate 10]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CORE, Informer, KubeClient, isNotFound, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { cliSandbox, readPidFile } from '@kubenest/testing';
import { rssMiB } from './measure.ts';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '1000' },
    nodes: { type: 'string', default: '4' },
    singles: { type: 'string', default: '100' },
    rate: { type: 'string', default: '10' },
  },
});
const replicas = Number(values.replicas);
const singles = Number(values.singles);
const rate = Number(values.rate);

type Pod = KubeObject & { status?: { phase?: string } };
const deployment = (namespace: string, n: number): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'load', namespace },
  spec: {
    replicas: n, selector: { matchLabels: { app: 'load' } },
    template: { metadata: { labels: { app: 'load' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
  },
});
const deploymentRef = CORE['deployments']!;

const percentile = (sorted: number[], p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 10) / 10;

/** Times until `count` pods of the informer's namespace are Running. */
function runningCounter(informer: Informer<Pod>): (count: number, timeoutMs: number) => Promise<void> {
  return (count, timeoutMs) => new Promise((resolve, reject) => {
    const check = (): boolean => informer.store.list().filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp).length >= count;
    const deadline = setTimeout(() => reject(new Error(`not ${count} Running pods within ${timeoutMs} ms`)), timeoutMs);
    const done = (): void => { if (check()) { clearTimeout(deadline); clearInterval(timer); resolve(); } };
    const timer = setInterval(done, 50);
    done();
  });
}

const sandbox = await cliSandbox('kn-bench-pods-');
const results: Record<string, unknown> = { replicas, nodes: Number(values.nodes), singles, rate };
let virtual: KubeClient | undefined;
let host: KubeClient | undefined;
try {
  console.error(`starting a host with ${values.nodes} kwok nodes and virtual cluster "bench"`);
  if ((await sandbox.cli('host', 'up', '--nodes', values.nodes)).code !== 0) throw new Error('host up failed');
  const created = await sandbox.cli('create', 'bench', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
  if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
  const supervisor = readPidFile(join(sandbox.vclustersDir, 'bench', 'run', 'supervisor.pid'));
  if (supervisor === undefined) throw new Error('the virtual cluster\'s run/supervisor.pid names no process');
  virtual = new KubeClient(loadKubeconfig(join(sandbox.vclustersDir, 'bench', 'kubeconfig')), { qps: Infinity });
  host = new KubeClient(loadKubeconfig(join(sandbox.hostDir, 'kubeconfig')), { qps: Infinity });
  await new Promise((r) => setTimeout(r, 3_000));
  results['syncerRssIdleMiB'] = rssMiB(supervisor, 0);

  // Latency: single pods at a steady rate, timed by watches on both sides.
  await virtual.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'latency' } });
  const seenOnHost = new Map<string, number>();
  const runningOnHost = new Map<string, number>();
  const runningInVirtual = new Map<string, number>();
  const hostWatch = new Informer<Pod>(host.resourceFor<Pod>(CORE['pods']!), { namespace: 'vcluster-bench', labelSelector: 'vcluster.loft.sh/namespace=latency' });
  const note = (map: Map<string, number>, key: string): void => { if (!map.has(key)) map.set(key, performance.now()); };
  const onHost = (pod: Pod): void => {
    const name = pod.metadata?.annotations?.['vcluster.loft.sh/object-name'] ?? '';
    note(seenOnHost, name);
    if (pod.status?.phase === 'Running') note(runningOnHost, name);
  };
  hostWatch.addHandlers({ onAdd: onHost, onUpdate: (_o, p) => onHost(p) });
  const virtualWatch = new Informer<Pod>(virtual.resourceFor<Pod>(CORE['pods']!), { namespace: 'latency' });
  const onVirtual = (pod: Pod): void => { if (pod.status?.phase === 'Running') note(runningInVirtual, pod.metadata?.name ?? ''); };
  virtualWatch.addHandlers({ onAdd: onVirtual, onUpdate: (_o, p) => onVirtual(p) });
  hostWatch.start();
  virtualWatch.start();
  await Promise.all([hostWatch.waitForSync(), virtualWatch.waitForSync()]);
  console.error(`latency: ${singles} single pods at ${rate}/s`);
  const createdAt = new Map<string, number>();
  for (let i = 0; i < singles; i++) {
    const started = performance.now();
    const name = `single-${i}`;
    await virtual.resourceFor<Pod>(CORE['pods']!).create({ metadata: { name, namespace: 'latency' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    createdAt.set(name, performance.now());
    await new Promise((r) => setTimeout(r, Math.max(0, started + 1000 / rate - performance.now())));
  }
  const deadline = Date.now() + 120_000;
  while ([...createdAt.keys()].some((n) => !runningInVirtual.has(n)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const toHost = [...createdAt].map(([n, at]) => (seenOnHost.get(n) ?? NaN) - at).sort((a, b) => a - b);
  const back = [...createdAt.keys()].map((n) => (runningInVirtual.get(n) ?? NaN) - (runningOnHost.get(n) ?? NaN)).sort((a, b) => a - b);
  const endToEnd = [...createdAt].map(([n, at]) => (runningInVirtual.get(n) ?? NaN) - at).sort((a, b) => a - b);
  results['createToHostMs'] = { p50: percentile(toHost, 0.5), p99: percentile(toHost, 0.99) };
  results['hostRunningToVirtualRunningMs'] = { p50: percentile(back, 0.5), p99: percentile(back, 0.99) };
  results['virtualCreateToVirtualRunningMs'] = { p50: percentile(endToEnd, 0.5), p99: percentile(endToEnd, 0.99) };
  await Promise.all([hostWatch.stop(), virtualWatch.stop()]);
  await virtual.resourceFor(CORE['namespaces']!).delete('latency');

  // Baseline for the latencies: the same single pods created on the host directly, timed from the
  // create's answer to a host watch seeing the pod, and seeing it Running.
  console.error(`latency baseline: ${singles} single pods at ${rate}/s on the host directly`);
  await host.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'direct-latency' } });
  const seenDirect = new Map<string, number>();
  const runningDirect = new Map<string, number>();
  const directWatch = new Informer<Pod>(host.resourceFor<Pod>(CORE['pods']!), { namespace: 'direct-latency' });
  const onDirect = (pod: Pod): void => {
    note(seenDirect, pod.metadata?.name ?? '');
    if (pod.status?.phase === 'Running') note(runningDirect, pod.metadata?.name ?? '');
  };
  directWatch.addHandlers({ onAdd: onDirect, onUpdate: (_o, p) => onDirect(p) });
  directWatch.start();
  await directWatch.waitForSync();
  const directCreatedAt = new Map<string, number>();
  for (let i = 0; i < singles; i++) {
    const started = performance.now();
    const name = `single-${i}`;
    await host.resourceFor<Pod>(CORE['pods']!).create({ metadata: { name, namespace: 'direct-latency' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    directCreatedAt.set(name, performance.now());
    await new Promise((r) => setTimeout(r, Math.max(0, started + 1000 / rate - performance.now())));
  }
  const directDeadline = Date.now() + 120_000;
  while ([...directCreatedAt.keys()].some((n) => !runningDirect.has(n)) && Date.now() < directDeadline) await new Promise((r) => setTimeout(r, 100));
  const directSeen = [...directCreatedAt].map(([n, at]) => (seenDirect.get(n) ?? NaN) - at).sort((a, b) => a - b);
  const directRunning = [...directCreatedAt].map(([n, at]) => (runningDirect.get(n) ?? NaN) - at).sort((a, b) => a - b);
  results['directCreateSeenMs'] = { p50: percentile(directSeen, 0.5), p99: percentile(directSeen, 0.99) };
  results['directCreateToRunningMs'] = { p50: percentile(directRunning, 0.5), p99: percentile(directRunning, 0.99) };
  await directWatch.stop();
  await host.resourceFor(CORE['namespaces']!).delete('direct-latency');

  // Baseline: the same Deployment sent to the host directly.
  await host.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'direct' } });
  const directPods = new Informer<Pod>(host.resourceFor<Pod>(CORE['pods']!), { namespace: 'direct' });
  directPods.start();
  await directPods.waitForSync();
  console.error(`baseline: Deployment of ${replicas} on the host`);
  let started = performance.now();
  await host.resourceFor(deploymentRef).create(deployment('direct', replicas));
  await runningCounter(directPods)(replicas, 600_000);
  const direct = (performance.now() - started) / 1000;
  await host.resourceFor(CORE['namespaces']!).delete('direct');
  await directPods.stop();
  // The virtual run starts on a quiet host: deleting the baseline's pods must not overlap it.
  console.error('waiting for the baseline namespace to be gone');
  for (const deadline = Date.now() + 300_000; ;) {
    const gone = await host.resourceFor(CORE['namespaces']!).get('direct').then(() => false, (error: unknown) => {
      if (isNotFound(error)) return true;
      throw error;
    });
    if (gone) break;
    if (Date.now() > deadline) throw new Error('the baseline namespace was not deleted within 5 minutes');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  // The same through the virtual cluster.
  await virtual.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'load' } });
  const virtualPods = new Informer<Pod>(virtual.resourceFor<Pod>(CORE['pods']!), { namespace: 'load' });
  virtualPods.start();
  await virtualPods.waitForSync();
  console.error(`virtual: Deployment of ${replicas} in the virtual cluster`);
  started = performance.now();
  await virtual.resourceFor(deploymentRef).create(deployment('load', replicas));
  await runningCounter(virtualPods)(replicas, 900_000);
  const throughVirtual = (performance.now() - started) / 1000;
  results['syncerRssWithPodsMiB'] = rssMiB(supervisor, 0);
  await virtualPods.stop();
  results['deploymentSeconds'] = { direct: Math.round(direct * 10) / 10, virtual: Math.round(throughVirtual * 10) / 10, ratio: Math.round((throughVirtual / direct) * 100) / 100 };
  console.log(JSON.stringify(results, null, 2));
} finally {
  await virtual?.close();
  await host?.close();
  await sandbox.dispose(['bench']);
}
