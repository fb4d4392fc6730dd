import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeClient, type KubeObject } from '@kubenest/kube';
import { configMapSyncer, fromHostConfigMapSyncer, fromHostSecretSyncer, secretSyncer, type ConfigMap, type Secret } from '@kubenest/kubenest';
import { FromHostController } from '@kubenest/sync';
import { eventually, startSyncEnvironment, type SyncEnvironment } from '@kubenest/testing';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

// sync.fromHost.configMaps / secrets with the mappings of vCluster's e2e configuration, checked
// through kubectl on the virtual side. The to-host syncers run too (all: true), to show that
// imported copies are not sent back and that to-host copies are not imported.
describe('ConfigMaps and Secrets from the host (mappings.byName)', () => {
  let env: SyncEnvironment;
  let hostClient: KubeClient;
  let HOST_NS: string;
  let configMaps: FromHostController<ConfigMap>;
  let secrets: FromHostController<Secret>;
  const vkubectl = (...args: string[]) => env.vkubectl(...args);
  const hostConfigMaps = () => hostClient.resourceFor<ConfigMap>(CORE['configmaps']!);
  const hostSecrets = () => hostClient.resourceFor<Secret>(CORE['secrets']!);
  /** A virtual object as kubectl shows it; throws while it does not exist. */
  const virtual = async <T extends KubeObject>(kind: string, namespace: string, name: string): Promise<T> => {
    const result = await vkubectl('get', kind, name, '-n', namespace, '-o', 'json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as T;
  };
  const absent = async (kind: string, namespace: string, name: string): Promise<void> => {
    const result = await vkubectl('get', kind, name, '-n', namespace);
    assert.notEqual(result.code, 0, `${kind} ${namespace}/${name} exists`);
    assert.match(result.stderr, /NotFound/);
  };

  before(async () => {
    env = await startSyncEnvironment('demo');
    ({ hostClient, hostNamespace: HOST_NS } = env);
    for (const name of ['from-host-sync-test', 'from-host-sync-test-2', 'from-host-sync-test-3', 'same-ns']) {
      await hostClient.resourceFor(CORE['namespaces']!).create({ metadata: { name } });
    }
    await env.startSyncer(configMapSyncer({ all: true }));
    await env.startSyncer(secretSyncer({ all: true }));
    configMaps = new FromHostController(env.ctx, fromHostConfigMapSyncer({
      hostNamespace: HOST_NS,
      byName: {
        'from-host-sync-test/*': 'barfoo/*',
        'default/my.cm': 'barfoo/cm-my',
        '': 'my-new-ns',
        '/my-cm-4': 'barfoo/my-cm-4',
        'same-ns/*': 'same-ns/*',
      },
    }));
    secrets = new FromHostController(env.ctx, fromHostSecretSyncer({
      hostNamespace: HOST_NS,
      byName: {
        'from-host-sync-test-2/*': 'barfoo2/*',
        'from-host-sync-test-3/*': 'barfoo2/*',
        'default/my-secret': 'barfoo2/secret-my',
        '/my-secret-in-default-ns': 'barfoo2/secret-from-default-ns',
      },
    }));
    await configMaps.start();
    await secrets.start();
  });
  after(async () => {
    await configMaps?.stop();
    await secrets?.stop();
    await env?.dispose();
  });

  it('copies a namespace wildcard mapping (data, labels, annotations) into a namespace it creates, and follows host updates', async () => {
    await hostConfigMaps().create({
      metadata: { name: 'cm-1', namespace: 'from-host-sync-test', labels: { app: 'shop' }, annotations: { owner: 'team-a' } },
      data: { colour: 'blue' },
    });
    const copy = await eventually(() => virtual<ConfigMap>('configmap', 'barfoo', 'cm-1'));
    assert.deepEqual(copy.data, { colour: 'blue' });
    assert.deepEqual(copy.metadata?.labels, { app: 'shop', 'kubenest.dev/imported-by': 'from-host-configmap' });
    assert.deepEqual(copy.metadata?.annotations, { owner: 'team-a', 'kubenest.dev/imported-from': 'from-host-sync-test/cm-1' });
    assert.equal((await vkubectl('get', 'namespace', 'barfoo', '-o', 'jsonpath={.status.phase}')).stdout, 'Active');

    await hostConfigMaps().patch('cm-1', 'merge', { metadata: { labels: { app: 'shop-2', tier: 'web' }, annotations: { owner: null, reviewed: 'yes' } }, data: { colour: 'red', size: 'L' } }, { namespace: 'from-host-sync-test' });
    await eventually(async () => {
      const updated = await virtual<ConfigMap>('configmap', 'barfoo', 'cm-1');
      assert.deepEqual(updated.data, { colour: 'red', size: 'L' });
      assert.deepEqual(updated.metadata?.labels, { app: 'shop-2', tier: 'web', 'kubenest.dev/imported-by': 'from-host-configmap' });
      assert.deepEqual(updated.metadata?.annotations, { reviewed: 'yes', 'kubenest.dev/imported-from': 'from-host-sync-test/cm-1' });
    });
  });

  it('maps a single name, reverts a virtual edit and re-creates a virtual delete', async () => {
    await hostConfigMaps().create({ metadata: { name: 'my.cm', namespace: 'default' }, data: { key: 'host' } });
    await hostConfigMaps().create({ metadata: { name: 'other', namespace: 'default' }, data: { key: 'unmapped' } });
    const first = await eventually(() => virtual<ConfigMap>('configmap', 'barfoo', 'cm-my'));
    assert.deepEqual(first.data, { key: 'host' });

    assert.equal((await vkubectl('patch', 'configmap', 'cm-my', '-n', 'barfoo', '--type=merge', '-p', '{"data":{"key":"virtual","extra":"x"}}')).code, 0);
    await eventually(async () => assert.deepEqual((await virtual<ConfigMap>('configmap', 'barfoo', 'cm-my')).data, { key: 'host' }));

    assert.equal((await vkubectl('delete', 'configmap', 'cm-my', '-n', 'barfoo')).code, 0);
    const again = await eventually(async () => {
      const copy = await virtual<ConfigMap>('configmap', 'barfoo', 'cm-my');
      assert.notEqual(copy.metadata?.uid, first.metadata?.uid);
      return copy;
    });
    assert.deepEqual(again.data, { key: 'host' });
    await configMaps.drain();
    await absent('configmap', 'barfoo', 'other');
  });

  it('keeps an immutable copy right: metadata put back in place, new host data by a new object', async () => {
    await hostConfigMaps().create({ metadata: { name: 'frozen', namespace: 'from-host-sync-test' }, data: { v: '1' }, immutable: true });
    const first = await eventually(() => virtual<ConfigMap>('configmap', 'barfoo', 'frozen'));
    assert.equal(first.immutable, true);
    assert.equal((await vkubectl('label', 'configmap', 'frozen', '-n', 'barfoo', 'edited=yes')).code, 0);
    await eventually(async () => {
      const copy = await virtual<ConfigMap>('configmap', 'barfoo', 'frozen');
      assert.equal(copy.metadata?.labels?.['edited'], undefined);
      assert.equal(copy.metadata?.uid, first.metadata?.uid);
    });
    // The host object can only be replaced; the virtual copy follows with the new data.
    await hostConfigMaps().delete('frozen', { namespace: 'from-host-sync-test' });
    await hostConfigMaps().create({ metadata: { name: 'frozen', namespace: 'from-host-sync-test' }, data: { v: '2' }, immutable: true });
    await eventually(async () => assert.deepEqual((await virtual<ConfigMap>('configmap', 'barfoo', 'frozen')).data, { v: '2' }));
  });

  it('reads "" and "/name" as the virtual cluster\'s host namespace; never imports to-host copies or sends imports back', async () => {
    await hostConfigMaps().create({ metadata: { name: 'my-cm-4', namespace: HOST_NS }, data: { n: '4' } });
    await hostConfigMaps().create({ metadata: { name: 'plain', namespace: HOST_NS }, data: { n: 'plain' } });
    assert.deepEqual((await eventually(() => virtual<ConfigMap>('configmap', 'barfoo', 'my-cm-4'))).data, { n: '4' });
    assert.deepEqual((await eventually(() => virtual<ConfigMap>('configmap', 'my-new-ns', 'plain'))).data, { n: 'plain' });

    // A virtual ConfigMap goes to the host namespace as mine-x-default-x-demo (to-host, all: true)...
    assert.equal((await vkubectl('create', 'configmap', 'mine', '-n', 'default', '--from-literal=k=v')).code, 0);
    await eventually(() => hostConfigMaps().get('mine-x-default-x-demo', { namespace: HOST_NS }));
    await configMaps.drain();
    // ...and does not come back through the "" mapping.
    await absent('configmap', 'my-new-ns', 'mine-x-default-x-demo');
    // The host's kube-root-ca.crt is not imported: my-new-ns has the virtual cluster's own.
    const rootCa = await eventually(() => virtual<ConfigMap>('configmap', 'my-new-ns', 'kube-root-ca.crt'));
    assert.equal(rootCa.metadata?.labels?.['kubenest.dev/imported-by'], undefined);
    const hostRootCa = await hostConfigMaps().get('kube-root-ca.crt', { namespace: HOST_NS });
    assert.notEqual(rootCa.data?.['ca.crt'], hostRootCa.data?.['ca.crt']);
    // Imported copies stay virtual.
    await assert.rejects(hostConfigMaps().get('cm-1-x-barfoo-x-demo', { namespace: HOST_NS }), /404/);
    await assert.rejects(hostConfigMaps().get('plain-x-my-new-ns-x-demo', { namespace: HOST_NS }), /404/);
  });

  it('never imports host objects carrying the managed-by marker', async () => {
    await hostConfigMaps().create({ metadata: { name: 'synced-by-another', namespace: 'from-host-sync-test', labels: { 'vcluster.loft.sh/managed-by': 'other' } }, data: { a: 'b' } });
    await hostConfigMaps().create({ metadata: { name: 'after-it', namespace: 'from-host-sync-test' }, data: { a: 'b' } });
    await eventually(() => virtual('configmap', 'barfoo', 'after-it'));
    await configMaps.drain();
    await absent('configmap', 'barfoo', 'synced-by-another');
  });

  it('deletes the virtual copy when the host object goes; maps a namespace onto the same name', async () => {
    await hostConfigMaps().create({ metadata: { name: 'to-be-deleted', namespace: 'from-host-sync-test' }, data: { a: 'b' } });
    await hostConfigMaps().create({ metadata: { name: 'mirrored', namespace: 'same-ns' }, data: { same: 'yes' } });
    await eventually(() => virtual('configmap', 'barfoo', 'to-be-deleted'));
    assert.deepEqual((await eventually(() => virtual<ConfigMap>('configmap', 'same-ns', 'mirrored'))).data, { same: 'yes' });
    await hostConfigMaps().delete('to-be-deleted', { namespace: 'from-host-sync-test' });
    await eventually(() => absent('configmap', 'barfoo', 'to-be-deleted'));
  });

  it('imports Secrets the same way: two namespaces into one, single names, the host namespace; updates and deletes follow', async () => {
    await hostSecrets().create({ metadata: { name: 'first', namespace: 'from-host-sync-test-2' }, type: 'Opaque', data: { user: b64('alice') } });
    await hostSecrets().create({ metadata: { name: 'second', namespace: 'from-host-sync-test-3' }, type: 'Opaque', data: { password: b64('s3cret') } });
    await hostSecrets().create({ metadata: { name: 'my-secret', namespace: 'default' }, type: 'Opaque', data: { k: b64('default') } });
    await hostSecrets().create({ metadata: { name: 'my-secret-in-default-ns', namespace: HOST_NS }, type: 'Opaque', data: { k: b64('own') } });

    const first = await eventually(() => virtual<Secret>('secret', 'barfoo2', 'first'));
    assert.equal(first.type, 'Opaque');
    assert.deepEqual(first.data, { user: b64('alice') });
    assert.deepEqual(first.metadata?.labels, { 'kubenest.dev/imported-by': 'from-host-secret' });
    assert.deepEqual((await eventually(() => virtual<Secret>('secret', 'barfoo2', 'second'))).data, { password: b64('s3cret') });
    assert.deepEqual((await eventually(() => virtual<Secret>('secret', 'barfoo2', 'secret-my'))).data, { k: b64('default') });
    assert.deepEqual((await eventually(() => virtual<Secret>('secret', 'barfoo2', 'secret-from-default-ns'))).data, { k: b64('own') });

    await hostSecrets().patch('second', 'merge', { data: { password: b64('changed') } }, { namespace: 'from-host-sync-test-3' });
    await eventually(async () => assert.deepEqual((await virtual<Secret>('secret', 'barfoo2', 'second')).data, { password: b64('changed') }));
    assert.equal((await vkubectl('patch', 'secret', 'first', '-n', 'barfoo2', '--type=merge', '-p', `{"data":{"user":"${b64('mallory')}"}}`)).code, 0);
    await eventually(async () => assert.deepEqual((await virtual<Secret>('secret', 'barfoo2', 'first')).data, { user: b64('alice') }));

    await hostSecrets().delete('first', { namespace: 'from-host-sync-test-2' });
    await eventually(() => absent('secret', 'barfoo2', 'first'));
    await secrets.drain();
    await assert.rejects(hostSecrets().get('second-x-barfoo2-x-demo', { namespace: HOST_NS }), /404/, 'imported Secrets stay virtual');
  });
});
