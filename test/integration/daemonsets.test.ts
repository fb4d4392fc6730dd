import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { cliSandbox, eventually, run, type CliSandbox, type CommandResult } from '@kubenest/testing';

type Taint = { key: string; value?: string; effect: string };
type Node = { metadata: { name: string }; spec?: { taints?: Taint[] } };
type Pod = {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
};
type Event = { reason?: string; message?: string; type?: string; involvedObject?: { name?: string; fieldPath?: string; uid?: string }; source?: { component?: string } };
type List<T> = { items: T[] };

const HOST_NS = 'vcluster-demo';
/** The taints Kubernetes keeps in step with a node's state (the syncer's NODE_STATE_TAINTS). */
const isStateTaint = (t: Taint): boolean => t.key.startsWith('node.kubernetes.io/') || t.key === 'node.cloudprovider.kubernetes.io/uninitialized';
const stateTaints = (node: Node): string[] => (node.spec?.taints ?? []).filter(isStateTaint).map((t) => `${t.key}:${t.effect}`).sort();

/**
 * DaemonSets in virtual clusters on a local host with three kwok nodes, and the kubelet's events
 * and condition times from the host's simulation, all seen through kubectl as a user would.
 */
describe('DaemonSets and the simulated kubelet in a virtual cluster', () => {
  let sandbox: CliSandbox;
  const kubectl = (kubeconfig: string) => async (...args: string[]): Promise<string> => {
    const done: CommandResult = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 240_000 });
    assert.equal(done.code, 0, `kubectl ${args.join(' ')}: ${done.stderr}`);
    return done.stdout;
  };
  const applied = (kubeconfig: string, object: unknown): Promise<CommandResult> =>
    run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify(object) });
  let vk: (...args: string[]) => Promise<string>;
  let hk: (...args: string[]) => Promise<string>;
  const json = async <T>(get: Promise<string>): Promise<T> => JSON.parse(await get) as T;

  before(async () => {
    sandbox = await cliSandbox('kn-daemonsets-');
    const up = await sandbox.cli('host', 'up', '--nodes', '3');
    assert.equal(up.code, 0, up.stderr);
    const created = await sandbox.cli('create', 'demo', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
    assert.equal(created.code, 0, created.stderr);
    vk = kubectl(join(sandbox.vclustersDir, 'demo', 'kubeconfig'));
    hk = kubectl(join(sandbox.hostDir, 'kubeconfig'));
  });
  after(async () => {
    await sandbox?.dispose(['demo', 'mirror']);
  });

  const daemonSet = (name: string) => ({
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }] } },
    },
  });

  /** The DaemonSet's pods in the virtual cluster, one Running per virtual node, and their host copies on the same nodes. */
  async function assertOnePodPerNode(kubeconfig: string, name: string, hostNamespace: string, vcluster: string): Promise<string[]> {
    const v = kubectl(kubeconfig);
    const nodes = (await json<List<Node>>(v('get', 'nodes', '-o', 'json'))).items.filter((n) => !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' && isStateTaint(t)));
    const pods = (await json<List<Pod>>(v('get', 'pods', '-n', 'default', '-l', `app=${name}`, '-o', 'json'))).items;
    const nodeNames = nodes.map((n) => n.metadata.name).sort();
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), nodeNames, 'one pod per schedulable virtual node');
    for (const pod of pods) assert.equal(pod.status?.phase, 'Running', pod.metadata.name);
    const hostPods = (await json<List<Pod>>(hk('get', 'pods', '-n', hostNamespace, '-l', `vcluster.loft.sh/managed-by=${vcluster},app=${name}`, '-o', 'json'))).items;
    assert.deepEqual(
      hostPods.map((p) => `${p.metadata.name}@${p.spec.nodeName}`).sort(),
      pods.map((p) => `${p.metadata.name}-x-default-x-${vcluster}@${p.spec.nodeName}`).sort(),
      'the same pods on the host, under translated names, on the same nodes',
    );
    for (const pod of hostPods) assert.equal(pod.status?.phase, 'Running');
    return nodeNames;
  }

  it('a DaemonSet rolls out with one Running pod per virtual node, and follows the nodes as a Deployment spreads and shrinks', async () => {
    const kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
    // Each replica of `spread` needs a host node of its own, so scaling it brings host nodes into use.
    const spread = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'spread', namespace: 'default' },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'spread' } },
        template: {
          metadata: { labels: { app: 'spread' } },
          spec: {
            affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'spread' } } }] } },
            containers: [{ name: 'web', image: 'nginx:1.27' }],
          },
        },
      },
    };
    assert.equal((await applied(kubeconfig, spread)).code, 0);
    await vk('rollout', 'status', 'deployment/spread', '--timeout=180s');
    const fresh = (await json<List<Node>>(vk('get', 'nodes', '-o', 'json'))).items;
    assert.ok(fresh.length >= 1);
    for (const node of fresh) assert.deepEqual(stateTaints(node), [], `${node.metadata.name} carries no state taint: its host node is Ready`);

    const applyDs = await applied(kubeconfig, daemonSet('agent'));
    assert.equal(applyDs.code, 0, applyDs.stderr);
    await vk('rollout', 'status', 'ds/agent', '--timeout=180s');
    const before = await assertOnePodPerNode(kubeconfig, 'agent', HOST_NS, 'demo');

    await vk('scale', 'deployment/spread', '--replicas=3');
    await vk('rollout', 'status', 'deployment/spread', '--timeout=180s');
    await eventually(async () => assert.equal((await json<List<Node>>(vk('get', 'nodes', '-o', 'json'))).items.length, 3), { timeoutMs: 120_000 });
    await eventually(async () => {
      const ds = await json<{ status?: { desiredNumberScheduled?: number } }>(vk('get', 'ds', 'agent', '-o', 'json'));
      assert.equal(ds.status?.desiredNumberScheduled, 3);
    }, { timeoutMs: 120_000 });
    await vk('rollout', 'status', 'ds/agent', '--timeout=180s');
    const grown = await eventually(() => assertOnePodPerNode(kubeconfig, 'agent', HOST_NS, 'demo'), { timeoutMs: 120_000 });
    assert.equal(grown.length, 3);
    assert.ok(before.every((n) => grown.includes(n)));

    // Shrinking frees host nodes: their virtual nodes go, and so do the DaemonSet pods there
    // (the virtual pod garbage collector removes pods of vanished nodes, as it would anywhere).
    await vk('scale', 'deployment/spread', '--replicas=1');
    await eventually(async () => {
      const nodes = (await json<List<Node>>(vk('get', 'nodes', '-o', 'json'))).items;
      const used = new Set((await json<List<Pod>>(vk('get', 'pods', '-A', '-o', 'json'))).items
        .filter((p) => p.metadata.labels?.['app'] !== 'agent').map((p) => p.spec.nodeName));
      assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), [...used].filter(Boolean).sort());
      const shrunk = await assertOnePodPerNode(kubeconfig, 'agent', HOST_NS, 'demo');
      assert.ok(shrunk.length < 3);
    }, { timeoutMs: 240_000, intervalMs: 2_000 });
  });

  it('with mirrored nodes, a host node that is really not ready keeps its taint, and the DaemonSet skips it', async () => {
    // A host node no kwok (no kubelet) stands behind: the apiserver taints it not-ready and the host's
    // node-lifecycle controller keeps it tainted (not-ready, later unreachable).
    const lost = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'lost-node', labels: { 'kubernetes.io/hostname': 'lost-node' } } };
    const made = await applied(join(sandbox.hostDir, 'kubeconfig'), lost);
    assert.equal(made.code, 0, made.stderr);
    // Room for pods (the next test binds one there), as a kubelet would have reported before it went.
    const room = { cpu: '4', memory: '8Gi', pods: '10' };
    await hk('patch', 'node', 'lost-node', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { capacity: room, allocatable: room } }));
    const values = join(sandbox.dir, 'mirror.yaml');
    writeFileSync(values, 'sync:\n  fromHost:\n    nodes:\n      enabled: true\n      selector:\n        all: true\n');
    const created = await sandbox.cli('create', 'mirror', '-f', values, '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
    assert.equal(created.code, 0, created.stderr);
    const kubeconfig = join(sandbox.vclustersDir, 'mirror', 'kubeconfig');
    const mk = kubectl(kubeconfig);

    await eventually(async () => {
      const host = await json<List<Node>>(hk('get', 'nodes', '-o', 'json'));
      const virtual = await json<List<Node>>(mk('get', 'nodes', '-o', 'json'));
      assert.deepEqual(virtual.items.map((n) => n.metadata.name).sort(), host.items.map((n) => n.metadata.name).sort());
      for (const node of host.items) {
        const mirrored = virtual.items.find((n) => n.metadata.name === node.metadata.name)!;
        assert.deepEqual(stateTaints(mirrored), stateTaints(node), node.metadata.name);
      }
      const lostTaints = stateTaints(host.items.find((n) => n.metadata.name === 'lost-node')!);
      assert.ok(lostTaints.some((t) => t.endsWith(':NoSchedule')), `lost-node is tainted on the host: ${lostTaints.join(', ')}`);
      for (const node of virtual.items.filter((n) => n.metadata.name !== 'lost-node')) assert.deepEqual(stateTaints(node), [], node.metadata.name);
    }, { timeoutMs: 120_000 });

    assert.equal((await applied(kubeconfig, daemonSet('mirror-agent'))).code, 0);
    await mk('rollout', 'status', 'ds/mirror-agent', '--timeout=180s');
    const ds = await json<{ status?: { desiredNumberScheduled?: number } }>(mk('get', 'ds', 'mirror-agent', '-o', 'json'));
    assert.equal(ds.status?.desiredNumberScheduled, 3, 'the three kwok nodes, not lost-node');
    const nodes = await assertOnePodPerNode(kubeconfig, 'mirror-agent', 'vcluster-mirror', 'mirror');
    assert.ok(!nodes.includes('lost-node'));
  });

  it('with fake nodes, a pod on a host node that is really not ready brings a fake node that says so, and the DaemonSet skips it', async () => {
    // lost-node (the previous test's) has no kubelet: by now the host's node-lifecycle controller
    // has marked it Unknown and tainted it. A pod that tolerates everything is bound there.
    const kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
    const stranded = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stranded', namespace: 'default' },
      spec: { nodeSelector: { 'kubernetes.io/hostname': 'lost-node' }, tolerations: [{ operator: 'Exists' }], containers: [{ name: 'c', image: 'nginx:1.27' }] },
    };
    assert.equal((await applied(kubeconfig, stranded)).code, 0);
    type Conditioned = Node & { status?: { conditions?: { type: string; status: string }[] } };
    await eventually(async () => {
      const host = await json<Conditioned>(hk('get', 'node', 'lost-node', '-o', 'json'));
      const fake = await json<Conditioned & { metadata: { labels?: Record<string, string> } }>(vk('get', 'node', 'lost-node', '-o', 'json'));
      assert.equal(fake.metadata.labels?.['vcluster.loft.sh/fake-node'], 'true');
      assert.ok(stateTaints(host).some((t) => t.endsWith(':NoSchedule')), `lost-node is tainted on the host: ${stateTaints(host).join(', ')}`);
      assert.deepEqual(stateTaints(fake), stateTaints(host));
      const ready = (n: Conditioned): string | undefined => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
      assert.notEqual(ready(fake), 'True');
      assert.equal(ready(fake), ready(host));
    }, { timeoutMs: 180_000 });
    await eventually(async () => {
      const ds = await json<{ status?: { desiredNumberScheduled?: number } }>(vk('get', 'ds', 'agent', '-o', 'json'));
      const nodes = (await json<List<Node>>(vk('get', 'nodes', '-o', 'json'))).items;
      assert.equal(ds.status?.desiredNumberScheduled, nodes.filter((n) => n.metadata.name !== 'lost-node').length);
      const agents = (await json<List<Pod>>(vk('get', 'pods', '-l', 'app=agent', '-o', 'json'))).items;
      assert.ok(!agents.some((p) => p.spec.nodeName === 'lost-node'));
    }, { timeoutMs: 60_000 });
    // No kubelet will ever finish this pod: remove it by force on both sides.
    await vk('delete', 'pod', 'stranded', '--grace-period=0', '--force', '--wait=false');
    await hk('delete', 'pod', 'stranded-x-default-x-demo', '-n', HOST_NS, '--grace-period=0', '--force', '--ignore-not-found');
  });

  it('kubectl describe pod shows the kubelet\'s events for every container, with condition times in order; deletion adds Killing', async () => {
    const kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: 'default' },
      spec: {
        initContainers: [{ name: 'setup', image: 'busybox:1.36' }],
        containers: [{ name: 'web', image: 'nginx:1.27' }, { name: 'sidecar', image: 'busybox:1.37' }],
      },
    };
    const made = await applied(kubeconfig, pod);
    assert.equal(made.code, 0, made.stderr);
    await vk('wait', '--for=condition=Ready', 'pod/probe', '--timeout=180s');

    const expected = [
      ['spec.initContainers{setup}', 'Pulling', 'Pulling image "busybox:1.36"'],
      ['spec.initContainers{setup}', 'Pulled', 'Successfully pulled image "busybox:1.36"'],
      ['spec.initContainers{setup}', 'Created', 'Created container: setup'],
      ['spec.initContainers{setup}', 'Started', 'Started container setup'],
      ['spec.containers{web}', 'Pulling', 'Pulling image "nginx:1.27"'],
      ['spec.containers{web}', 'Pulled', 'Successfully pulled image "nginx:1.27"'],
      ['spec.containers{web}', 'Created', 'Created container: web'],
      ['spec.containers{web}', 'Started', 'Started container web'],
      ['spec.containers{sidecar}', 'Pulling', 'Pulling image "busybox:1.37"'],
      ['spec.containers{sidecar}', 'Created', 'Created container: sidecar'],
      ['spec.containers{sidecar}', 'Started', 'Started container sidecar'],
    ];
    const virtualPod = await json<Pod & { metadata: { uid: string } }>(vk('get', 'pod', 'probe', '-o', 'json'));
    await eventually(async () => {
      const events = (await json<List<Event>>(vk('get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=probe', '-o', 'json'))).items;
      for (const [fieldPath, reason, message] of expected) {
        const found = events.find((e) => e.involvedObject?.fieldPath === fieldPath && e.reason === reason);
        assert.ok(found, `${reason} for ${fieldPath} in ${JSON.stringify(events.map((e) => [e.reason, e.involvedObject?.fieldPath]))}`);
        assert.ok(found.message?.startsWith(message!), `${found.message} starts with ${message}`);
        assert.equal(found.source?.component, 'kubelet');
        assert.equal(found.involvedObject?.uid, virtualPod.metadata.uid, 'about the virtual pod');
      }
      assert.ok(events.some((e) => e.reason === 'Scheduled' && e.message?.includes('default/probe')), 'the host scheduler\'s event, with virtual names');
    }, { timeoutMs: 120_000 });
    const describe = await vk('describe', 'pod', 'probe');
    for (const line of ['Pulling image "nginx:1.27"', 'Created container: sidecar', 'Started container setup']) assert.ok(describe.includes(line), `describe shows ${line}:\n${describe}`);

    const at = (type: string): number => Date.parse(virtualPod.status!.conditions!.find((c) => c.type === type)!.lastTransitionTime!);
    assert.ok(at('PodScheduled') <= at('Initialized'), 'scheduled, then initialized');
    assert.ok(at('Initialized') < at('ContainersReady'), 'initialized, then containers ready (a whole second later at least)');
    assert.ok(at('ContainersReady') <= at('Ready'), 'containers ready, then ready');

    await vk('delete', 'pod', 'probe', '--timeout=120s');
    await eventually(async () => {
      const events = (await json<List<Event>>(vk('get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=probe,reason=Killing', '-o', 'json'))).items;
      assert.deepEqual(events.map((e) => `${e.involvedObject?.fieldPath} ${e.message}`).sort(), [
        'spec.containers{sidecar} Stopping container sidecar', 'spec.containers{web} Stopping container web',
      ]);
    }, { timeoutMs: 60_000 });

    // In a namespace being deleted the API refuses the Killing events: the pods go all the same,
    // on the host (where kwok writes them) and in a virtual cluster (where the events syncer does).
    await hk('create', 'namespace', 'doomed-host');
    await hk('-n', 'doomed-host', 'create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=3');
    await hk('-n', 'doomed-host', 'rollout', 'status', 'deployment/web', '--timeout=180s');
    await hk('delete', 'namespace', 'doomed-host', '--timeout=180s');
    await vk('create', 'namespace', 'doomed');
    await vk('-n', 'doomed', 'create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=3');
    await vk('-n', 'doomed', 'rollout', 'status', 'deployment/web', '--timeout=180s');
    await vk('delete', 'namespace', 'doomed', '--timeout=180s');
    await eventually(async () => {
      const left = (await json<List<Pod>>(hk('get', 'pods', '-n', HOST_NS, '-l', 'vcluster.loft.sh/namespace=doomed', '-o', 'json'))).items;
      assert.deepEqual(left.map((p) => p.metadata.name), []);
    }, { timeoutMs: 120_000 });
  });
});
