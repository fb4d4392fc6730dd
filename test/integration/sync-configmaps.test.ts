import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeClient, type KubeObject } from '@kubenest/kube';
import { configMapSyncer, secretSyncer, type ConfigMap, type Secret } from '@kubenest/kubenest';
import type { SyncController } from '@kubenest/sync';
import { eventually, startSyncEnvironment, type SyncEnvironment } from '@kubenest/testing';

// The sync framework with the ConfigMap syncer between a real host cluster and a real virtual
// control plane. The CLI that wires this up (`kubenest create`) comes with the rest of issue 4.
describe('ConfigMap and Secret sync (framework + syncers)', () => {
  let env: SyncEnvironment;
  let hostClient: KubeClient;
  let virtualClient: KubeClient;
  let controller: SyncController<ConfigMap>;
  let secrets: SyncController<Secret>;
  let HOST_NS: string;
  const vkubectl = (...args: string[]) => env.vkubectl(...args);
  const hostConfigMap = (name: string): Promise<ConfigMap> => hostClient.resourceFor<ConfigMap>(CORE['configmaps']!).get(name, { namespace: HOST_NS });

  before(async () => {
    env = await startSyncEnvironment('demo');
    ({ hostClient, virtualClient, hostNamespace: HOST_NS } = env);
    controller = await env.startSyncer(configMapSyncer({ all: true }));
    secrets = await env.startSyncer(secretSyncer({ all: false }));
  });
  after(async () => {
    await env?.dispose();
  });

  it('creates the host copy under vCluster\'s name, labels and annotations', async () => {
    const create = await vkubectl('create', 'configmap', 'app-config', '-n', 'default', '--from-literal=a=1');
    assert.equal(create.code, 0, create.stderr);
    assert.equal((await vkubectl('label', 'configmap', 'app-config', '-n', 'default', 'release=mine', 'tier=web')).code, 0);
    const uid = (await vkubectl('get', 'configmap', 'app-config', '-n', 'default', '-o', 'jsonpath={.metadata.uid}')).stdout;
    const copy = await eventually(async () => {
      const cm = await hostConfigMap('app-config-x-default-x-demo');
      assert.equal(cm.metadata?.labels?.['tier'], 'web');
      return cm;
    });
    assert.deepEqual(copy.data, { a: '1' });
    assert.deepEqual(copy.metadata?.labels, {
      tier: 'web', 'vcluster.loft.sh/label-demo-x-a4d451ec23': 'mine',
      'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'default',
    });
    const annotations = copy.metadata?.annotations ?? {};
    assert.equal(annotations['vcluster.loft.sh/object-name'], 'app-config');
    assert.equal(annotations['vcluster.loft.sh/object-namespace'], 'default');
    assert.equal(annotations['vcluster.loft.sh/object-uid'], uid);
    assert.equal(annotations['vcluster.loft.sh/object-kind'], '/v1, Kind=ConfigMap');
  });

  it('carries data changes both ways, key by key', async () => {
    assert.equal((await vkubectl('patch', 'configmap', 'app-config', '-n', 'default', '--type=merge', '-p', '{"data":{"a":"2"}}')).code, 0);
    await eventually(async () => assert.equal((await hostConfigMap('app-config-x-default-x-demo')).data?.['a'], '2'));
    await hostClient.resourceFor(CORE['configmaps']!).patch('app-config-x-default-x-demo', 'merge', { data: { fromHost: 'yes' } }, { namespace: HOST_NS });
    await eventually(async () => {
      const virtual = await virtualClient.resourceFor<ConfigMap>(CORE['configmaps']!).get('app-config', { namespace: 'default' });
      assert.deepEqual(virtual.data, { a: '2', fromHost: 'yes' });
    });
  });

  it('puts back the markers when they are removed on the host, and recreates a host copy deleted out of band', async () => {
    const configMaps = hostClient.resourceFor<ConfigMap>(CORE['configmaps']!);
    await configMaps.patch('app-config-x-default-x-demo', 'json', [{ op: 'remove', path: '/metadata/annotations/vcluster.loft.sh~1object-kind' }], { namespace: HOST_NS });
    await eventually(async () => assert.equal((await hostConfigMap('app-config-x-default-x-demo')).metadata?.annotations?.['vcluster.loft.sh/object-kind'], '/v1, Kind=ConfigMap'));
    await configMaps.delete('app-config-x-default-x-demo', { namespace: HOST_NS });
    await eventually(async () => assert.deepEqual((await hostConfigMap('app-config-x-default-x-demo')).data, { a: '2', fromHost: 'yes' }), { timeoutMs: 30_000 });
  });

  it('deletes the host copy when the virtual ConfigMap goes', async () => {
    assert.equal((await vkubectl('delete', 'configmap', 'app-config', '-n', 'default')).code, 0);
    await eventually(async () => assert.rejects(hostConfigMap('app-config-x-default-x-demo'), /404/));
  });

  it('leaves alone objects marked controlled-by on either side, and kube-root-ca.crt', async () => {
    await virtualClient.resourceFor<KubeObject>(CORE['configmaps']!).create({ metadata: { name: 'theirs', namespace: 'default', labels: { 'vcluster.loft.sh/controlled-by': 'someone' } } });
    await virtualClient.resourceFor<KubeObject>(CORE['configmaps']!).create({ metadata: { name: 'marker', namespace: 'default' } });
    await eventually(() => hostConfigMap('marker-x-default-x-demo'));
    await controller.drain();
    await assert.rejects(hostConfigMap('theirs-x-default-x-demo'), /404/);
    await assert.rejects(hostConfigMap('kube-root-ca.crt-x-default-x-demo'), /404/);
  });

  it('syncs only the Secrets it is told to (all: false), and a service-account token Secret becomes Opaque', async () => {
    const hostSecret = (name: string) => hostClient.resourceFor<Secret>(CORE['secrets']!).get(name, { namespace: HOST_NS });
    assert.equal((await vkubectl('create', 'secret', 'generic', 'unused', '--from-literal=k=v')).code, 0);
    assert.equal((await vkubectl('create', 'secret', 'generic', 'forced', '--from-literal=k=v')).code, 0);
    assert.equal((await vkubectl('annotate', 'secret', 'forced', 'vcluster.loft.sh/force-sync=true')).code, 0);
    const forced = await eventually(() => hostSecret('forced-x-default-x-demo'));
    assert.equal(Buffer.from(forced.data?.['k'] ?? '', 'base64').toString(), 'v');
    await secrets.drain();
    await assert.rejects(hostSecret('unused-x-default-x-demo'), /404/, 'an unused Secret stays virtual');

    await virtualClient.resourceFor<Secret>(CORE['secrets']!).create({
      metadata: { name: 'token', namespace: 'default', annotations: { 'kubernetes.io/service-account.name': 'default', 'vcluster.loft.sh/force-sync': 'true' } },
      type: 'kubernetes.io/service-account-token',
    });
    const token = await eventually(() => hostSecret('token-x-default-x-demo'));
    assert.equal(token.type, 'Opaque');
  });

  it('a restarted syncer writes nothing for host copies already in sync, and copies what changed while it was down', async () => {
    await controller.drain();
    const ours = async (): Promise<Map<string, string>> => new Map((await hostClient.resourceFor<ConfigMap>(CORE['configmaps']!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/managed-by=demo' }))
      .items.map((cm) => [cm.metadata?.name ?? '', cm.metadata?.resourceVersion ?? '']));
    const before = await ours();
    assert.ok(before.has('marker-x-default-x-demo'), 'a host copy exists before the restart');
    await controller.stop();
    assert.equal((await vkubectl('create', 'configmap', 'while-down', '--from-literal=k=v')).code, 0);

    // The new syncer reads the virtual side from a list, not a watch: the copies it makes and
    // keeps must be the same as those made from watch events.
    controller = await env.startSyncer(configMapSyncer({ all: true }));
    const created = await eventually(() => hostConfigMap('while-down-x-default-x-demo'));
    assert.equal(created.metadata?.annotations?.['vcluster.loft.sh/object-kind'], '/v1, Kind=ConfigMap');
    await controller.drain();
    assert.equal(controller.stats.updated, 0, 'no host or virtual object was rewritten');
    assert.equal(controller.stats.created, 1);
    const after = await ours();
    for (const [name, resourceVersion] of before) assert.equal(after.get(name), resourceVersion, `${name} is untouched`);
  });
});
