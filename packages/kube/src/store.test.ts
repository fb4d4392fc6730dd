import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient, CORE } from './kube-client.ts';
import type { KubeObject } from './rest-client.ts';
import { Store, objectKey } from './store.ts';

const cm = (namespace: string, name: string, rv: string, labels: Record<string, string> = {}): KubeObject =>
  ({ metadata: { namespace, name, resourceVersion: rv, labels } });

describe('Store', () => {
  it('keys by namespace/name, indexes, and drops index entries with the objects', () => {
    const store = new Store({ byApp: (o) => (o.metadata?.labels?.['app'] ? [o.metadata.labels['app']] : []) });
    store.upsert(cm('a', 'x', '1', { app: 'web' }));
    store.upsert(cm('b', 'y', '1', { app: 'web' }));
    assert.equal(objectKey({ metadata: { name: 'node-1' } }), 'node-1');
    assert.deepEqual(store.byIndex('byApp', 'web').map(objectKey).sort(), ['a/x', 'b/y']);
    assert.deepEqual(store.byIndex('namespace', 'a').map(objectKey), ['a/x']);
    store.upsert(cm('a', 'x', '2', { app: 'db' }));
    assert.deepEqual(store.byIndex('byApp', 'web').map(objectKey), ['b/y'], 'a relabelled object leaves its old index bucket');
    store.remove(cm('b', 'y', '1'));
    assert.deepEqual(store.byIndex('byApp', 'web'), []);
    assert.throws(() => store.byIndex('nope', 'x'), /no index named "nope"/);
  });

  it('reports what a relist changed: added, updated (by resourceVersion), deleted with its last state', () => {
    const store = new Store();
    store.replace([cm('n', 'keep', '1'), cm('n', 'change', '1'), cm('n', 'gone', '7')]);
    const diff = store.replace([cm('n', 'keep', '1'), cm('n', 'change', '2'), cm('n', 'new', '3')]);
    assert.deepEqual(diff.added.map(objectKey), ['n/new']);
    assert.deepEqual(diff.updated.map((u) => [u.old.metadata?.resourceVersion, u.current.metadata?.resourceVersion]), [['1', '2']]);
    assert.deepEqual(diff.deleted.map((o) => [objectKey(o), o.metadata?.resourceVersion]), [['n/gone', '7']]);
    assert.deepEqual(store.keys().sort(), ['n/change', 'n/keep', 'n/new']);
  });
});

describe('KubeClient shared informers', () => {
  it('gives callers of the same resource and selection one informer, and others their own', async () => {
    const client = new KubeClient({ server: 'https://127.0.0.1:1' });
    const a = client.informer(CORE['configmaps']!, { namespace: 'x' });
    assert.equal(client.informer(CORE['configmaps']!, { namespace: 'x' }), a);
    assert.notEqual(client.informer(CORE['configmaps']!, { namespace: 'y' }), a);
    assert.notEqual(client.informer(CORE['configmaps']!, { namespace: 'x', labelSelector: 'app=web' }), a);
    await client.close();
  });
});
