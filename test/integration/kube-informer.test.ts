import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CORE, Informer, KubeClient, loadKubeconfig, type KubeObject, type ResourceClient } from '@kubenest/kube';
import { FaultProxy, eventually, startHostCluster, type TestHostCluster } from '@kubenest/testing';

type ConfigMap = KubeObject & { data?: Record<string, string> };

/** name -> resourceVersion, for comparing a cache with the server. */
function versions(items: ConfigMap[]): Record<string, string> {
  const pairs: [string, string][] = items.map((c) => [c.metadata!.name!, c.metadata!.resourceVersion!]);
  return Object.fromEntries(pairs.sort(([a], [b]) => a.localeCompare(b)));
}

describe('informers against a real apiserver, with faults', () => {
  let host: TestHostCluster;
  let kube: KubeClient;
  let configMaps: ResourceClient<ConfigMap>;
  const informers: Informer<ConfigMap>[] = [];
  const proxies: FaultProxy[] = [];
  const quickBackoff = { initialMs: 50, maxMs: 500 };

  before(async () => {
    host = await startHostCluster();
    kube = new KubeClient(loadKubeconfig(host.kubeconfig), { qps: Infinity });
    configMaps = kube.resourceFor<ConfigMap>(CORE['configmaps']!);
    for (const ns of ['events', 'chaos', 'gone', 'quiet']) await kube.resourceFor(CORE['namespaces']!).create({ metadata: { name: ns } });
  });
  after(async () => {
    for (const informer of informers) await informer.stop();
    for (const proxy of proxies) await proxy.close();
    await kube?.close();
    await host?.dispose();
  });

  it('delivers adds, updates and deletes (with the final state) and indexes by namespace', async () => {
    const informer = new Informer(configMaps, { namespace: 'events', backoff: quickBackoff });
    informers.push(informer);
    const seen: string[] = [];
    informer.addHandlers({
      onAdd: (o) => seen.push(`add ${o.metadata?.name}`),
      onUpdate: (_old, o) => seen.push(`update ${o.metadata?.name} ${o.data?.['v']}`),
      onDelete: (o) => seen.push(`delete ${o.metadata?.name} ${o.data?.['v']}`),
    });
    await configMaps.create({ metadata: { name: 'before', namespace: 'events' } });
    informer.start();
    await informer.waitForSync();
    assert.ok(informer.hasSynced());
    await configMaps.create({ metadata: { name: 'x', namespace: 'events' }, data: { v: '1' } });
    await configMaps.patch('x', 'merge', { data: { v: '2' } }, { namespace: 'events' });
    await configMaps.delete('x', { namespace: 'events' });
    await eventually(() => assert.deepEqual(seen.filter((s) => !s.startsWith('add kube-root')), ['add before', 'add x', 'update x 2', 'delete x 2']));
    const indexed = informer.store.byIndex('namespace', 'events').map((o) => o.metadata?.name);
    assert.ok(indexed.includes('before') && !indexed.includes('x'), `namespace index: ${indexed.join(', ')}`);
  });

  it('converges to exactly the server state after the apiserver is killed and restarted while objects change', async () => {
    const informer = new Informer(configMaps, { namespace: 'chaos', backoff: quickBackoff });
    informers.push(informer);
    informer.start();
    await informer.waitForSync();
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const name = `cm-${i % 40}`;
        try {
          if (i % 3 === 0) await configMaps.create({ metadata: { name, namespace: 'chaos' }, data: { i: String(i) } });
          else if (i % 3 === 1) await configMaps.patch(name, 'merge', { data: { i: String(i) } }, { namespace: 'chaos' });
          else await configMaps.delete(name, { namespace: 'chaos' });
          writes += 1;
        } catch {
          await sleep(20); // the apiserver is down, or the object does not exist: keep going
        }
      }
    })();
    await eventually(() => assert.ok(writes > 50), { timeoutMs: 30_000 });
    await host.cluster.supervisor.restartComponent('kube-apiserver');
    await sleep(500);
    await host.cluster.supervisor.restartComponent('kube-apiserver');
    const afterRestarts = writes;
    await eventually(() => assert.ok(writes > afterRestarts + 50), { timeoutMs: 60_000 });
    writing = false;
    await writer;
    await eventually(async () => {
      const server = await configMaps.list({ namespace: 'chaos' });
      assert.deepEqual(versions(informer.store.list()), versions(server.items));
    }, { timeoutMs: 60_000 });
    assert.ok(informer.stats.reconnects + informer.stats.relistsAfterGone >= 1, 'the informer noticed the outage');
  });

  it('relists on a real 410 Gone and delivers what changed meanwhile', async () => {
    const proxy = await FaultProxy.start(loadKubeconfig(host.kubeconfig));
    proxies.push(proxy);
    const viaProxy = new KubeClient(proxy.clientConfig(), { qps: Infinity });
    const informer = new Informer(viaProxy.resourceFor<ConfigMap>(CORE['configmaps']!), { namespace: 'gone', backoff: quickBackoff });
    informers.push(informer);
    const added: string[] = [];
    informer.addHandlers({ onAdd: (o) => added.push(o.metadata!.name!) });
    await configMaps.create({ metadata: { name: 'old', namespace: 'gone' } });
    informer.start();
    await informer.waitForSync();
    await eventually(() => assert.equal(proxy.watchRequests, 1));

    // The next watch asks for resourceVersion 1, which the server has long compacted away.
    proxy.rewriteNextWatchVersion('1');
    await configMaps.delete('old', { namespace: 'gone' });
    proxy.dropConnections();
    await configMaps.create({ metadata: { name: 'new', namespace: 'gone' } });
    await eventually(async () => {
      assert.ok(informer.stats.relistsAfterGone >= 1, `relisted after 410 (stats ${JSON.stringify(informer.stats)})`);
      assert.deepEqual(versions(informer.store.list()), versions((await configMaps.list({ namespace: 'gone' })).items));
    }, { timeoutMs: 30_000 });
    assert.ok(added.includes('new'), 'an object created during the gap arrives as an add');
    assert.equal(informer.store.get('gone/old'), undefined, 'an object deleted during the gap is gone from the cache');
    await viaProxy.close();
  });

  it('reconnects a watch that goes silent past the inactivity timeout', async () => {
    const proxy = await FaultProxy.start(loadKubeconfig(host.kubeconfig));
    proxies.push(proxy);
    const viaProxy = new KubeClient(proxy.clientConfig(), { qps: Infinity });
    const informer = new Informer(viaProxy.resourceFor<ConfigMap>(CORE['configmaps']!), { namespace: 'quiet', inactivityMs: 1_000, backoff: quickBackoff });
    informers.push(informer);
    informer.start();
    await informer.waitForSync();
    proxy.setSilent(true);
    await configMaps.create({ metadata: { name: 'during-silence', namespace: 'quiet' } });
    await eventually(() => assert.ok(informer.stats.inactivityTimeouts >= 1), { timeoutMs: 15_000 });
    assert.equal(informer.store.get('quiet/during-silence'), undefined, 'nothing arrived while silent');
    proxy.setSilent(false);
    await eventually(() => assert.ok(informer.store.get('quiet/during-silence')), { timeoutMs: 15_000 });
    await viaProxy.close();
  });
});
