import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORE, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { HOST_SERVICE_CIDR, startVirtualCluster, type VirtualClusterSpec } from '@kubenest/kubenest';
import { HOOK_TYPES, type HookType, type ObjectHooks } from '@kubenest/sync';
import { eventually, run, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

interface Call { type: HookType; apiVersion: string; kind: string; name: string; namespace: string }

/**
 * Stands in for a plugin that hooks everything for a few kinds: records each call, labels the
 * host copies it writes, and refuses one ConfigMap.
 */
class RecordingHooks implements ObjectHooks {
  readonly calls: Call[] = [];
  private readonly kinds = new Set(['v1/Pod', 'v1/Service', 'v1/ConfigMap', 'apps/v1/Deployment']);

  wants(apiVersion: string, kind: string): boolean {
    return this.kinds.has(`${apiVersion}/${kind}`);
  }

  mutate<T extends KubeObject>(type: HookType, object: T): Promise<T> {
    const name = object.metadata?.name ?? '';
    this.calls.push({ type, apiVersion: object.apiVersion ?? '', kind: object.kind ?? '', name, namespace: object.metadata?.namespace ?? '' });
    if (type === 'CreatePhysical' && object.kind === 'ConfigMap' && object.metadata?.annotations?.['vcluster.loft.sh/object-name'] === 'refused') {
      return Promise.reject(new Error('plugin "recorder": ConfigMaps named refused may not reach the host'));
    }
    // As the Go SDK's hooks example does: on create and update, or the next sync takes it off again.
    if (type === 'CreatePhysical' || type === 'UpdatePhysical') {
      return Promise.resolve({ ...object, metadata: { ...object.metadata, labels: { ...object.metadata?.labels, 'hooked-by': 'recorder' } } });
    }
    return Promise.resolve(object);
  }

  typesFor(kind: string, virtualName?: string): Set<HookType> {
    return new Set(this.calls.filter((c) => c.kind === kind && (virtualName === undefined || c.name === virtualName || c.name.startsWith(`${virtualName}-x-`))).map((c) => c.type));
  }
}

/**
 * The hook point (issue 9, section 1): every read and write the syncers make passes the hooks of
 * its side, with the object's apiVersion and kind. Runs a whole virtual cluster in this process
 * with an in-process chain standing for the plugins.
 */
describe('the hook point: every syncer read and write passes the hooks', () => {
  let host: TestHostCluster;
  let stop: (() => Promise<void>) | undefined;
  let virtual: KubeClient;
  let dir: { path: string; remove: () => void };
  const hooks = new RecordingHooks();
  const vk = (...args: string[]) => run('kubectl', ['--kubeconfig', join(dir.path, 'demo', 'kubeconfig'), ...args]);
  const hk = (...args: string[]) => host.kubectl('-n', 'vcluster-demo', ...args);

  before(async () => {
    host = await startHostCluster({ nodes: 1 });
    dir = tempDir('kn-hooks-');
    const hostClient = new KubeClient(loadKubeconfig(host.kubeconfig));
    await hostClient.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'vcluster-demo' } });
    await hostClient.resourceFor(CORE['configmaps']!).create({ metadata: { name: 'shared', namespace: 'vcluster-demo' }, data: { v: '1' } });
    await hostClient.close();
    const spec: VirtualClusterSpec = {
      name: 'demo', hostNamespace: 'vcluster-demo', hostKubeconfig: host.kubeconfig, createdNamespace: true, serviceCidr: HOST_SERVICE_CIDR,
      createdAt: new Date().toISOString(),
      values: { sync: { toHost: { configMaps: { all: true } }, fromHost: { configMaps: { enabled: true, mappings: { byName: { '/shared': 'default/imported' } } } } } },
    };
    const started = await startVirtualCluster(spec, join(dir.path, 'demo'), await testBinaries(), () => {}, hooks);
    const plane = started.plane;
    virtual = new KubeClient(loadKubeconfig(plane.kubeconfig));
    stop = async () => { await started.stop(); await plane.stop(); };
  });
  after(async () => {
    await virtual?.close();
    await stop?.();
    await host?.dispose();
    dir?.remove();
  });

  it('runs ConfigMap hooks on both sides, applies their changes and honours a refusal', async () => {
    assert.equal((await vk('create', 'configmap', 'app', '--from-literal=v=1')).code, 0);
    assert.equal((await vk('create', 'configmap', 'refused', '--from-literal=v=1')).code, 0);
    await eventually(async () => assert.equal((await hk('get', 'configmap', 'app-x-default-x-demo', '-o', 'jsonpath={.metadata.labels.hooked-by}')).stdout, 'recorder'));
    assert.equal((await vk('patch', 'configmap', 'app', '-p', '{"data":{"v":"2"}}')).code, 0);
    await eventually(async () => assert.equal((await hk('get', 'configmap', 'app-x-default-x-demo', '-o', 'jsonpath={.data.v}')).stdout, '2'));
    assert.equal((await vk('delete', 'configmap', 'app')).code, 0);
    await eventually(async () => assert.match((await hk('get', 'configmap', 'app-x-default-x-demo')).stderr, /NotFound/));
    // Imported from the host, then changed and removed there.
    await eventually(async () => assert.equal((await vk('get', 'configmap', 'imported', '-o', 'jsonpath={.data.v}')).stdout, '1'));
    assert.equal((await hk('patch', 'configmap', 'shared', '-p', '{"data":{"v":"2"}}')).code, 0);
    await eventually(async () => assert.equal((await vk('get', 'configmap', 'imported', '-o', 'jsonpath={.data.v}')).stdout, '2'));
    assert.equal((await hk('delete', 'configmap', 'shared')).code, 0);
    await eventually(async () => assert.match((await vk('get', 'configmap', 'imported')).stderr, /NotFound/));

    const seen = hooks.typesFor('ConfigMap');
    for (const type of ['GetVirtual', 'GetPhysical', 'CreatePhysical', 'UpdatePhysical', 'DeletePhysical', 'CreateVirtual', 'UpdateVirtual', 'DeleteVirtual', 'ApplyVirtual'] as const) {
      assert.ok(seen.has(type), `ConfigMap ${type} (seen: ${[...seen].join(', ')})`);
    }
    // Refused: never created on the host, and tried again.
    assert.match((await hk('get', 'configmap', 'refused-x-default-x-demo')).stderr, /NotFound/);
    assert.ok(hooks.calls.filter((c) => c.type === 'CreatePhysical' && c.name === 'refused-x-default-x-demo').length >= 2, 'the refused write is retried');
  });

  it('runs Service hooks, including the host Service applied for the virtual API and the ClusterIP passage', async () => {
    assert.equal((await vk('create', 'service', 'clusterip', 'web', '--tcp=80:8080')).code, 0);
    await eventually(async () => assert.equal((await hk('get', 'service', 'web-x-default-x-demo', '-o', 'jsonpath={.metadata.labels.hooked-by}')).stdout, 'recorder'));
    await eventually(async () => {
      const virtualIp = (await vk('get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}')).stdout;
      assert.equal(virtualIp, (await hk('get', 'service', 'web-x-default-x-demo', '-o', 'jsonpath={.spec.clusterIP}')).stdout);
    });
    const seen = hooks.typesFor('Service');
    for (const type of ['GetVirtual', 'GetPhysical', 'CreatePhysical', 'UpdateVirtual', 'ApplyPhysical', 'ApplyVirtual', 'CreateVirtual'] as const) {
      assert.ok(seen.has(type), `Service ${type} (seen: ${[...seen].join(', ')})`);
    }
    const applied = hooks.calls.find((c) => c.type === 'ApplyPhysical' && c.kind === 'Service');
    assert.deepEqual(applied, { type: 'ApplyPhysical', apiVersion: 'v1', kind: 'Service', name: 'demo', namespace: 'vcluster-demo' });
    const dns = hooks.calls.find((c) => c.type === 'ApplyVirtual' && c.kind === 'Deployment');
    assert.deepEqual(dns, { type: 'ApplyVirtual', apiVersion: 'apps/v1', kind: 'Deployment', name: 'coredns', namespace: 'kube-system' });
  });

  it('runs Pod hooks through a pod\'s whole life, and every one of the 10 types was seen', async () => {
    assert.equal((await vk('run', 'one', '--image=busybox', '--labels=app=one')).code, 0);
    await eventually(async () => assert.equal((await vk('get', 'pod', 'one', '-o', 'jsonpath={.status.phase}')).stdout, 'Running'), { timeoutMs: 60_000 });
    assert.equal((await hk('get', 'pod', 'one-x-default-x-demo', '-o', 'jsonpath={.metadata.labels.hooked-by}')).stdout, 'recorder');
    assert.equal((await vk('label', 'pod', 'one', 'tier=web')).code, 0);
    await eventually(async () => assert.match((await hk('get', 'pod', 'one-x-default-x-demo', '-o', 'jsonpath={.metadata.labels}')).stdout, /tier/));
    assert.equal((await vk('delete', 'pod', 'one', '--wait=true', '--timeout=60s')).code, 0);
    await eventually(async () => assert.match((await hk('get', 'pod', 'one-x-default-x-demo')).stderr, /NotFound/), { timeoutMs: 60_000 });

    const seen = hooks.typesFor('Pod', 'one');
    for (const type of ['GetVirtual', 'GetPhysical', 'CreatePhysical', 'UpdatePhysical', 'UpdateVirtual', 'DeletePhysical'] as const) {
      assert.ok(seen.has(type), `Pod ${type} (seen: ${[...seen].join(', ')})`);
    }
    for (const call of hooks.calls.filter((c) => c.kind === 'Pod')) assert.equal(call.apiVersion, 'v1');
    const all = new Set(hooks.calls.map((c) => c.type));
    assert.deepEqual(HOOK_TYPES.filter((type) => !all.has(type)), [], 'every hook type was called');
  });
});
