import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeObject } from '@kubenest/kube';
import { FAKE_NODE_LABEL, NodeSyncer } from '@kubenest/kubenest';
import { eventually, startSyncEnvironment, type SyncEnvironment } from '@kubenest/testing';

/**
 * Virtual nodes: fake ones that follow where this virtual cluster's host pods run, and real host
 * nodes mirrored by label selector with `sync.fromHost.nodes`. The host nodes here are plain Node
 * objects (no kwok behind them), so nothing else changes them during the test.
 */
describe('node syncer', () => {
  let env: SyncEnvironment;
  const syncers: NodeSyncer[] = [];
  const virtualNodeNames = async (): Promise<string[]> =>
    (await env.virtualClient.resourceFor(CORE['nodes']!).list()).items.map((n) => n.metadata!.name!).sort();

  before(async () => {
    env = await startSyncEnvironment('nodes');
    for (const [name, zone] of [['host-a', 'a'], ['host-b', 'b']] as const) {
      await env.hostClient.resourceFor(CORE['nodes']!).create({ metadata: { name, labels: { zone, 'kubernetes.io/hostname': name } } });
    }
  });
  after(async () => {
    for (const syncer of syncers) await syncer.stop();
    await env?.dispose();
  });

  it('a fake node appears for a host node running one of our pods and goes when the pod goes', async () => {
    const syncer = new NodeSyncer(env.ctx, { fromHost: false, kubeletVersion: 'v1.36.3', kubeletEndpoint: { address: '127.0.0.1', port: 10250 } });
    syncers.push(syncer);
    await syncer.start();
    const pods = env.hostClient.resourceFor<KubeObject>(CORE['pods']!);
    await pods.create({
      metadata: { name: 'p-x-default-x-nodes', namespace: env.hostNamespace, labels: { 'vcluster.loft.sh/managed-by': 'nodes' } },
      spec: { nodeName: 'host-a', containers: [{ name: 'c', image: 'nginx' }] },
    });
    // A pod of someone else on host-b does not make a node appear.
    await pods.create({ metadata: { name: 'theirs', namespace: env.hostNamespace }, spec: { nodeName: 'host-b', containers: [{ name: 'c', image: 'nginx' }] } });
    await eventually(async () => assert.deepEqual(await virtualNodeNames(), ['host-a']));
    // The node is created first and its status written after it, so the status is awaited too.
    // host-a has no kubelet: the host's node-lifecycle controller lifts the apiserver's not-ready
    // taint while it has no conditions, and after a minute marks it Unknown and unreachable. The
    // fake node shows the same state taints, and the host's Ready condition once there is one
    // (vCluster's Ready before); never the not-ready taint the virtual apiserver put on it.
    type StatefulNode = KubeObject & { spec?: { taints?: { key: string; effect: string }[] }; status?: { conditions?: { type: string; status: string }[] } };
    const stateTaints = (n: StatefulNode): string[] => (n.spec?.taints ?? []).filter((t) => t.key.startsWith('node.kubernetes.io/')).map((t) => `${t.key}:${t.effect}`).sort();
    const node = await eventually(async () => {
      const fake = await env.virtualClient.resourceFor<StatefulNode>(CORE['nodes']!).get('host-a');
      const host = await env.hostClient.resourceFor<StatefulNode>(CORE['nodes']!).get('host-a');
      const hostReady = host.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'True';
      assert.equal(fake.status?.conditions?.find((c) => c.type === 'Ready')?.status, hostReady);
      assert.deepEqual(stateTaints(fake), stateTaints(host));
      return fake;
    });
    assert.equal(node.metadata?.labels?.[FAKE_NODE_LABEL], 'true');
    await pods.delete('p-x-default-x-nodes', { namespace: env.hostNamespace, gracePeriodSeconds: 0 });
    await eventually(async () => assert.deepEqual(await virtualNodeNames(), []));
    await syncer.stop();
    syncers.pop();
    await pods.delete('theirs', { namespace: env.hostNamespace, gracePeriodSeconds: 0 });
  });

  it('with fromHost.nodes and a label selector, only matching host nodes are mirrored, with their labels', async () => {
    const syncer = new NodeSyncer(env.ctx, { fromHost: true, selectLabels: { zone: 'b' }, kubeletVersion: 'v1.36.3', kubeletEndpoint: { address: '127.0.0.1', port: 10250 } });
    syncers.push(syncer);
    await syncer.start();
    await eventually(async () => assert.deepEqual(await virtualNodeNames(), ['host-b']));
    const node = await env.virtualClient.resourceFor(CORE['nodes']!).get('host-b');
    assert.deepEqual(node.metadata?.labels, { zone: 'b', 'kubernetes.io/hostname': 'host-b', 'vcluster.loft.sh/managed-by': 'nodes' });
    // A taint added in the virtual cluster stays; one the host adds shows, and goes when the host lifts it.
    const virtualNodes = env.virtualClient.resourceFor<KubeObject & { spec?: { taints?: { key: string; value?: string; effect: string }[] } }>(CORE['nodes']!);
    const hostNodes = env.hostClient.resourceFor<KubeObject & { spec?: { taints?: { key: string; value?: string; effect: string }[] } }>(CORE['nodes']!);
    const keys = async (): Promise<string[]> => ((await virtualNodes.get('host-b')).spec?.taints ?? []).map((t) => t.key).filter((k) => !k.startsWith('node.kubernetes.io/')).sort();
    assert.equal((await env.vkubectl('taint', 'node', 'host-b', 'team=blue:PreferNoSchedule')).code, 0);
    await hostNodes.patch('host-b', 'merge', { spec: { taints: [...((await hostNodes.get('host-b')).spec?.taints ?? []), { key: 'gpu', value: 'true', effect: 'NoSchedule' }] } });
    await eventually(async () => assert.deepEqual(await keys(), ['gpu', 'team']));
    const hostB = await hostNodes.get('host-b');
    await hostNodes.update({ ...hostB, spec: { ...hostB.spec, taints: (hostB.spec?.taints ?? []).filter((t) => t.key !== 'gpu') } });
    await eventually(async () => assert.deepEqual(await keys(), ['team']));
    // A label change on the host follows; a node that stops matching goes.
    await env.hostClient.resourceFor(CORE['nodes']!).patch('host-b', 'merge', { metadata: { labels: { tier: 'gold' } } });
    await eventually(async () => assert.equal((await env.virtualClient.resourceFor(CORE['nodes']!).get('host-b')).metadata?.labels?.['tier'], 'gold'));
    await env.hostClient.resourceFor(CORE['nodes']!).patch('host-b', 'merge', { metadata: { labels: { zone: 'c' } } });
    await eventually(async () => assert.deepEqual(await virtualNodeNames(), []));
    await syncer.stop();
    syncers.pop();
  });

  it('with selector.all every host node is mirrored', async () => {
    const syncer = new NodeSyncer(env.ctx, { fromHost: true, selectAll: true, kubeletVersion: 'v1.36.3', kubeletEndpoint: { address: '127.0.0.1', port: 10250 } });
    syncers.push(syncer);
    await syncer.start();
    await eventually(async () => assert.deepEqual(await virtualNodeNames(), ['host-a', 'host-b']));
  });
});
