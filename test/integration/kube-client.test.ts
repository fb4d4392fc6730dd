import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError, CORE, KubeClient, UnknownKindError, loadKubeconfig, type KubeObject, type ResourceClient } from '@kubenest/kube';
import { eventually, startHostCluster, type TestHostCluster } from '@kubenest/testing';

type ConfigMap = KubeObject & { data?: Record<string, string> };

const WIDGET_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.test.kubenest.dev' },
  spec: {
    group: 'test.kubenest.dev',
    names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
    scope: 'Namespaced',
    versions: [{
      name: 'v1', served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    }],
  },
};

async function rejectsWith(promise: Promise<unknown>, code: number, reason: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ApiError, `an ApiError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.reason, reason, error.message);
    return true;
  });
}

describe('kube client against a real apiserver', () => {
  let host: TestHostCluster;
  let kube: KubeClient;
  let configMaps: ResourceClient<ConfigMap>;

  before(async () => {
    host = await startHostCluster();
    kube = new KubeClient(loadKubeconfig(host.kubeconfig));
    configMaps = await kube.resource<ConfigMap>('v1', 'ConfigMap');
    await kube.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'verbs' } });
  });
  after(async () => {
    await kube?.close();
    await host?.dispose();
  });

  it('maps kinds to resources through discovery, namespaced or not', async () => {
    assert.deepEqual(
      { ...(await kube.discovery.resourceFor('apps/v1', 'Deployment')), verbs: undefined },
      { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true, verbs: undefined },
    );
    assert.equal((await kube.discovery.resourceFor('v1', 'Node')).namespaced, false);
    assert.equal((await kube.discovery.resourceFor('rbac.authorization.k8s.io/v1', 'ClusterRole')).resource, 'clusterroles');
    await assert.rejects(kube.discovery.resourceFor('example.com/v1', 'Nope'), UnknownKindError);
  });

  it('create, get, update, status update, delete, with typed errors', async () => {
    const created = await configMaps.create({ metadata: { name: 'a', namespace: 'verbs', labels: { tier: 'one' } }, data: { k: 'v' } });
    assert.equal(created.kind, 'ConfigMap', 'apiVersion and kind are filled in');
    await rejectsWith(configMaps.create({ metadata: { name: 'a', namespace: 'verbs' } }), 409, 'AlreadyExists');
    const got = await configMaps.get('a', { namespace: 'verbs' });
    assert.equal(got.data?.['k'], 'v');
    const updated = await configMaps.update({ ...got, data: { k: 'w' } });
    assert.equal(updated.data?.['k'], 'w');
    await rejectsWith(configMaps.update({ ...got, data: { k: 'stale' } }), 409, 'Conflict');
    await rejectsWith(configMaps.get('missing', { namespace: 'verbs' }), 404, 'NotFound');
    await rejectsWith(configMaps.create({ metadata: { name: 'Not_A_Name', namespace: 'verbs' } }), 422, 'Invalid');
    await configMaps.delete('a', { namespace: 'verbs' });
    await rejectsWith(configMaps.get('a', { namespace: 'verbs' }), 404, 'NotFound');

    const deployments = kube.resourceFor(CORE['deployments']!);
    const deployment = await deployments.create({
      metadata: { name: 'status', namespace: 'verbs' },
      spec: { replicas: 0, selector: { matchLabels: { app: 's' } }, template: { metadata: { labels: { app: 's' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
    });
    // The deployment controller writes the status too; on a conflict, re-read and try again.
    assert.ok(deployment.metadata?.uid);
    const withStatus = await eventually(async () => {
      const fresh = await deployments.get('status', { namespace: 'verbs' });
      return deployments.updateStatus({ ...fresh, status: { ...(fresh['status'] as object), observedGeneration: 7 } });
    }, { timeoutMs: 15_000, intervalMs: 50 });
    assert.equal((withStatus['status'] as { observedGeneration: number }).observedGeneration, 7);
  });

  it('patches with JSON patch, merge patch, strategic merge patch and server-side apply', async () => {
    await configMaps.create({ metadata: { name: 'p', namespace: 'verbs' }, data: { a: '1', b: '2' } });
    let cm = await configMaps.patch('p', 'json', [{ op: 'replace', path: '/data/a', value: 'json' }], { namespace: 'verbs' });
    assert.deepEqual(cm.data, { a: 'json', b: '2' });
    cm = await configMaps.patch('p', 'merge', { data: { b: null, c: 'merge' } }, { namespace: 'verbs' });
    assert.deepEqual(cm.data, { a: 'json', c: 'merge' });
    cm = await configMaps.patch('p', 'strategic', { metadata: { labels: { smp: 'yes' } } }, { namespace: 'verbs' });
    assert.equal(cm.metadata?.labels?.['smp'], 'yes');

    // The patches above made the default manager own .data.a; taking it over needs force.
    await rejectsWith(configMaps.apply({ metadata: { name: 'p', namespace: 'verbs' }, data: { a: 'applied' } }, { fieldManager: 'first' }), 409, 'Conflict');
    const applied = await configMaps.apply({ metadata: { name: 'p', namespace: 'verbs' }, data: { a: 'applied' } }, { fieldManager: 'first', force: true });
    assert.equal(applied.data?.['a'], 'applied');
    await rejectsWith(configMaps.apply({ metadata: { name: 'p', namespace: 'verbs' }, data: { a: 'other' } }, { fieldManager: 'second' }), 409, 'Conflict');
    const forced = await configMaps.apply({ metadata: { name: 'p', namespace: 'verbs' }, data: { a: 'other' } }, { fieldManager: 'second', force: true });
    assert.equal(forced.data?.['a'], 'other');
  });

  it('lists with pagination, label and field selectors, and deletes a collection', async () => {
    for (let i = 0; i < 7; i++) {
      await configMaps.create({ metadata: { name: `page-${i}`, namespace: 'verbs', labels: { set: 'paged', parity: i % 2 ? 'odd' : 'even' } } });
    }
    const firstPage = await configMaps.listPage({ namespace: 'verbs', labelSelector: 'set=paged', limit: 3 });
    assert.equal(firstPage.items.length, 3);
    assert.ok(firstPage.metadata.continue, 'a continue token for the next page');
    const all = await configMaps.list({ namespace: 'verbs', labelSelector: 'set=paged', limit: 3 });
    assert.deepEqual(all.items.map((c) => c.metadata?.name).sort(), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
    assert.ok(all.metadata.resourceVersion);
    // The server sends list items without apiVersion and kind; the client fills them in, so an
    // object read from a list looks the same as from a get or a watch.
    assert.deepEqual(new Set(all.items.map((c) => `${c.apiVersion} ${c.kind}`)), new Set(['v1 ConfigMap']));
    const odd = await configMaps.list({ namespace: 'verbs', labelSelector: 'set=paged,parity=odd' });
    assert.equal(odd.items.length, 3);
    const byName = await configMaps.list({ namespace: 'verbs', fieldSelector: 'metadata.name=page-4' });
    assert.deepEqual(byName.items.map((c) => c.metadata?.name), ['page-4']);
    await configMaps.deleteCollection({ namespace: 'verbs', labelSelector: 'parity=even' });
    assert.equal((await configMaps.list({ namespace: 'verbs', labelSelector: 'set=paged' })).items.length, 3);
  });

  it('turns a Forbidden answer into a typed error', async () => {
    const asNobody = { headers: { 'impersonate-user': 'nobody' } };
    await rejectsWith(kube.rest.request('GET', '/api/v1/namespaces/verbs/configmaps', asNobody), 403, 'Forbidden');
  });

  it('keeps fields it has never heard of through a read-modify-write (CRD)', async () => {
    const crds = kube.resourceFor(CORE['customresourcedefinitions']!);
    await crds.create(WIDGET_CRD);
    // The kind appears once the CRD is established; discovery refreshes on the miss.
    const widgets = await eventually(() => kube.resource('test.kubenest.dev/v1', 'Widget'), { timeoutMs: 30_000 });
    const unknown = { nested: { deep: [1, { x: 'y' }], flag: true }, 'weird-key': null, big: 12345678901234 };
    await eventually(() => widgets.create({ metadata: { name: 'w', namespace: 'verbs' }, spec: unknown, extraTopLevel: 'kept' }), { timeoutMs: 30_000 });
    const read = await widgets.get('w', { namespace: 'verbs' });
    const written = await widgets.update({ ...read, metadata: { ...read.metadata, labels: { touched: 'yes' } } });
    assert.deepEqual(written['spec'], unknown);
    assert.equal(written['extraTopLevel'], 'kept');
    const viaKubectl = await host.kubectl('get', 'widgets.test.kubenest.dev', 'w', '-n', 'verbs', '-o', 'json');
    assert.equal(viaKubectl.code, 0, viaKubectl.stderr);
    const fromKubectl = JSON.parse(viaKubectl.stdout) as Record<string, unknown>;
    assert.deepEqual(fromKubectl['spec'], unknown);
    assert.equal(fromKubectl['extraTopLevel'], 'kept');
  });
});
