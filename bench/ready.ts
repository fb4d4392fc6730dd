// Time to all Ready, virtual cluster against the host directly, in the same run (issue 14):
//   - a Deployment of N replicas (default 100): create to N pods with the Ready condition True;
//   - then, with the Deployment still running, a DaemonSet: create to one Ready pod on each of
//     the host's nodes (default 10). In the virtual cluster the Deployment's pods bring a fake
//     node for every host node they use (its pods spread over the nodes by a topology spread
//     constraint, on both sides: the host's default spreading does not apply to a virtual
//     cluster's pods, which have no owner on the host), so the DaemonSet covers as many nodes as
//     the Deployment reached (printed as `virtualNodes`).
// Both sides run on the same local host (kwok's simulated kubelet, stages in
// packages/kubenest/src/controlplane/kwok-stages/), host first, each in its own namespace, the
// host's namespace gone before the virtual run starts. The figure is virtual / host.
//
//   ./bench/run ready [--replicas 100] [--nodes 10] [--rounds 1] [--values vcluster.yaml]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CORE, Informer, KubeClient, isNotFound, loadKubeconfig, type KubeObject, type ResourceRef } from '@kubenest/kube';
import { cliSandbox } from '@kubenest/testing';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '100' },
    nodes: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    values: { type: 'string' },
  },
});
const replicas = Number(values.replicas);
const nodes = Number(values.nodes);
const rounds = Number(values.rounds);

type Pod = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
const DAEMONSETS: ResourceRef = { group: 'apps', version: 'v1', resource: 'daemonsets', namespaced: true, kind: 'DaemonSet' };

const template = (app: string) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } });
const spread = { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'load' } } }] };
const deployment = (namespace: string): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'load', namespace },
  spec: { replicas, selector: { matchLabels: { app: 'load' } }, template: { ...template('load'), spec: { ...template('load').spec, ...spread } } },
});
const daemonSet = (namespace: string): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace },
  spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') },
});

const isReady = (pod: Pod): boolean => !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Resolves when `count` pods with label app=`app` in the informer are Ready. */
function readyPods(informer: Informer<Pod>, app: string, count: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => informer.store.list().filter((p) => p.metadata?.labels?.['app'] === app && isReady(p)).length >= count;
    const deadline = setTimeout(() => { clearInterval(timer); reject(new Error(`not ${count} Ready ${app} pods within ${timeoutMs} ms`)); }, timeoutMs);
    const timer = setInterval(() => { if (check()) { clearTimeout(deadline); clearInterval(timer); resolve(); } }, 20);
  });
}

async function namespaceGone(client: KubeClient, name: string): Promise<void> {
  await client.resourceFor(CORE['namespaces']!).delete(name);
  for (const deadline = Date.now() + 300_000; ;) {
    const gone = await client.resourceFor(CORE['namespaces']!).get(name).then(() => false, (error: unknown) => {
      if (isNotFound(error)) return true;
      throw error;
    });
    if (gone) return;
    if (Date.now() > deadline) throw new Error(`namespace ${name} was not deleted within 5 minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One side's run: the Deployment to all Ready, then the DaemonSet to all Ready; seconds each. */
async function measure(client: KubeClient, namespace: string, daemonPods: () => Promise<number>): Promise<{ deployment: number; daemonSet: number; daemonPods: number }> {
  await client.resourceFor(CORE['namespaces']!).create({ metadata: { name: namespace } });
  const pods = new Informer<Pod>(client.resourceFor<Pod>(CORE['pods']!), { namespace });
  pods.start();
  await pods.waitForSync();
  try {
    let started = performance.now();
    await client.resourceFor(CORE['deployments']!).create(deployment(namespace));
    await readyPods(pods, 'load', replicas, 600_000);
    const deploymentSeconds = (performance.now() - started) / 1000;
    const expected = await daemonPods();
    started = performance.now();
    await client.resourceFor(DAEMONSETS).create(daemonSet(namespace));
    await readyPods(pods, 'agent', expected, 600_000);
    return { deployment: deploymentSeconds, daemonSet: (performance.now() - started) / 1000, daemonPods: expected };
  } finally {
    await pods.stop();
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const sandbox = await cliSandbox('kn-bench-ready-');
let virtual: KubeClient | undefined;
let host: KubeClient | undefined;
const runs: Record<string, number>[] = [];
try {
  console.error(`starting a host with ${nodes} kwok nodes and virtual cluster "bench"`);
  if ((await sandbox.cli('host', 'up', '--nodes', String(nodes))).code !== 0) throw new Error('host up failed');
  const created = await sandbox.cli('create', 'bench', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), ...(values.values ? ['-f', values.values] : []));
  if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
  virtual = new KubeClient(loadKubeconfig(join(sandbox.vclustersDir, 'bench', 'kubeconfig')), { qps: Infinity });
  host = new KubeClient(loadKubeconfig(join(sandbox.hostDir, 'kubeconfig')), { qps: Infinity });
  const v = virtual;
  const h = host;

  for (let round = 1; round <= rounds; round++) {
    console.error(`round ${round}: host: Deployment of ${replicas}, then a DaemonSet on ${nodes} nodes`);
    const direct = await measure(h, `direct-${round}`, () => Promise.resolve(nodes));
    await namespaceGone(h, `direct-${round}`);
    console.error(`round ${round}: virtual: the same in the virtual cluster`);
    const through = await measure(v, `load-${round}`, async () => {
      // The DaemonSet's pods go to the virtual nodes there are: one per host node the Deployment uses.
      for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
        if ((await v.resourceFor(CORE['nodes']!).list()).items.length >= nodes) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      return (await v.resourceFor(CORE['nodes']!).list()).items.length;
    });
    await namespaceGone(v, `load-${round}`);
    runs.push({
      round, deploymentHostS: round1(direct.deployment), deploymentVirtualS: round1(through.deployment),
      deploymentRatio: Math.round((through.deployment / direct.deployment) * 100) / 100,
      daemonSetHostS: round1(direct.daemonSet), daemonSetVirtualS: round1(through.daemonSet),
      daemonSetRatio: Math.round((through.daemonSet / direct.daemonSet) * 100) / 100,
      hostNodes: nodes, virtualNodes: through.daemonPods,
    });
  }
  console.log(JSON.stringify({ replicas, nodes, values: values.values ?? null, runs }, null, 2));
  console.log('\n| round | Deployment of %d to all Ready: host / virtual / ratio | DaemonSet to all Ready: host / virtual / ratio | virtual nodes |', replicas);
  console.log('|---|---|---|---|');
  for (const r of runs) {
    console.log(`| ${r['round']} | ${r['deploymentHostS']} s / ${r['deploymentVirtualS']} s / ${r['deploymentRatio']} | ${r['daemonSetHostS']} s / ${r['daemonSetVirtualS']} s / ${r['daemonSetRatio']} | ${r['virtualNodes']} of ${nodes} |`);
  }
} finally {
  await virtual?.close();
  await host?.close();
  await sandbox.dispose(['bench']);
}
