import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HostCluster } from '@kubenest/kubenest';
import { eventually, pidAlive, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

interface PodList {
  items: { metadata: { name: string }; spec: { nodeName?: string }; status: { phase?: string; podIP?: string; hostIP?: string } }[];
}

async function pods(host: TestHostCluster, selector: string): Promise<PodList['items']> {
  const result = await host.kubectl('get', 'pods', '-n', 'default', '-l', selector, '-o', 'json');
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as PodList).items;
}

describe('local host cluster', () => {
  const dir = tempDir('kn-it-');
  let host: TestHostCluster;

  before(async () => {
    host = await startHostCluster({ nodes: 2, dataDir: dir.path });
  });
  after(async () => {
    await host?.dispose();
    dir.remove();
  });

  it('serves kubectl with Ready kwok nodes on loopback addresses', async () => {
    const result = await host.kubectl('get', 'nodes', '-o', 'json');
    assert.equal(result.code, 0, result.stderr);
    const nodes = (JSON.parse(result.stdout) as { items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[] } }[] }).items;
    assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), ['kwok-node-0', 'kwok-node-1']);
    for (const node of nodes) {
      assert.ok(node.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'), `${node.metadata.name} is Ready`);
      const internal = node.status.addresses.find((a) => a.type === 'InternalIP')?.address ?? '';
      assert.match(internal, /^127\./, 'node IPs stay on loopback');
    }
    const version = await host.client.get<{ gitVersion: string }>('/version');
    assert.match(version.gitVersion, /^v1\.36\.\d+$/, '/version carries the real release, not v0.0.0-master');
  });

  it('runs a Deployment of 3 replicas to 3 Running pods on kwok nodes, and deletes them', async () => {
    const create = await host.kubectl('create', 'deployment', 'web', '--image=nginx', '--replicas=3');
    assert.equal(create.code, 0, create.stderr);
    const running = await eventually(async () => {
      const list = await pods(host, 'app=web');
      assert.equal(list.filter((p) => p.status.phase === 'Running').length, 3, `3 Running pods (have ${list.map((p) => p.status.phase).join(',')})`);
      return list;
    }, { timeoutMs: 60_000 });
    for (const pod of running) {
      assert.match(pod.spec.nodeName ?? '', /^kwok-node-[01]$/);
      assert.match(pod.status.podIP ?? '', /^127\.244\./, 'pod IPs come from the loopback pod CIDR');
    }
    const scaled = await host.kubectl('scale', 'deployment', 'web', '--replicas=5');
    assert.equal(scaled.code, 0, scaled.stderr);
    await eventually(async () => {
      assert.equal((await pods(host, 'app=web')).filter((p) => p.status.phase === 'Running').length, 5);
    }, { timeoutMs: 60_000 });
    const removed = await host.kubectl('delete', 'deployment', 'web');
    assert.equal(removed.code, 0, removed.stderr);
    await eventually(async () => assert.equal((await pods(host, 'app=web')).length, 0), { timeoutMs: 60_000 });
  });

  it('keeps objects across stop and start on the same data dir, and ends every process on stop', async () => {
    const create = await host.kubectl('create', 'deployment', 'keep', '--image=nginx', '--replicas=3');
    assert.equal(create.code, 0, create.stderr);
    await eventually(async () => {
      assert.equal((await pods(host, 'app=keep')).filter((p) => p.status.phase === 'Running').length, 3);
    }, { timeoutMs: 60_000 });
    const before = host.cluster.supervisor.pids();
    assert.equal(before.length, 5, 'kine, apiserver, controller-manager, scheduler and kwok run');
    await host.stop();
    assert.deepEqual(before.filter(pidAlive), [], 'no component outlives stop()');

    host = await startHostCluster({ nodes: 2, dataDir: dir.path });
    const got = await host.kubectl('get', 'deployment', 'keep', '-o', 'jsonpath={.spec.replicas}');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, '3');
    await eventually(async () => {
      assert.equal((await pods(host, 'app=keep')).filter((p) => p.status.phase === 'Running').length, 3);
    }, { timeoutMs: 90_000 });
  });

  it('refuses a second cluster on a port that is already taken, leaving nothing running', async () => {
    const port = Number(new URL(host.server).port);
    const other = tempDir('kn-port-');
    try {
      await assert.rejects(
        HostCluster.start({ dataDir: other.path, binaries: await testBinaries(), apiserverPort: port }),
        (error: Error) => error.message.includes(`--port ${port} is in use`),
      );
    } finally {
      other.remove();
    }
  });
});
