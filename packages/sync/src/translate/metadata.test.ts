import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONTROLLER_LABEL, HOST_NAME_ANNOTATION, KIND_ANNOTATION, MANAGED_ANNOTATIONS_ANNOTATION, MARKER_LABEL, MetadataTranslator,
  NAME_ANNOTATION, NAMESPACE_LABEL, UID_ANNOTATION, kindString, type Labels,
} from './metadata.ts';

// Expected values follow vCluster's own translate tests (vc name "suffix").
const t = new MetadataTranslator('suffix', 'test');
const RELEASE = 'vcluster.loft.sh/label-suffix-x-a4d451ec23';

describe('label translation', () => {
  it('hashes exactly the four colliding keys (vCluster)', () => {
    assert.equal(t.hostLabelKey('release'), RELEASE);
    assert.equal(t.hostLabelKey(NAMESPACE_LABEL), 'vcluster.loft.sh/label-suffix-x-101dcd4e86');
    assert.equal(t.hostLabelKey(MARKER_LABEL), 'vcluster.loft.sh/label-suffix-x-e5f1b28ab2');
    assert.equal(t.hostLabelKey(CONTROLLER_LABEL), 'vcluster.loft.sh/label-suffix-x-2080cec00f');
  });

  it('virtual labels from host labels (vCluster TestVirtualLabels)', () => {
    assert.deepEqual(t.virtualLabels({ test: 'test', test123: 'test123', [RELEASE]: 'vcluster' }, undefined),
      { test: 'test', test123: 'test123', release: 'vcluster' });
  });

  it('leaves ordinary labels alone and adds markers only for metadata (vCluster TestNotRewritingLabels)', () => {
    const plain = { abc: 'abc', def: 'def', hij: 'hij', app: 'my-app' };
    assert.deepEqual(t.hostLabels(plain, plain, 'test', false), plain);
    assert.deepEqual(t.virtualLabels(plain, plain), plain);
    assert.deepEqual(t.hostLabels(plain, plain, 'test', true), { ...plain, [NAMESPACE_LABEL]: 'test', [MARKER_LABEL]: 'suffix' });
  });

  it('round-trips, keeping a virtual label spelled like a hashed key (vCluster TestLabelsMap)', () => {
    let virtual: Labels = { test: 'test', test123: 'test123', release: 'vcluster', [RELEASE]: 'vcluster123' };
    let host = t.hostLabels(virtual, undefined, 'test', false);
    assert.deepEqual(host, { test: 'test', test123: 'test123', [RELEASE]: 'vcluster', [MARKER_LABEL]: 'suffix', [NAMESPACE_LABEL]: 'test' });
    host = { ...host, other: 'other' };
    virtual = t.virtualLabels(host, virtual);
    assert.deepEqual(virtual, { test: 'test', test123: 'test123', other: 'other', release: 'vcluster', [RELEASE]: 'vcluster123' });
    assert.deepEqual(t.hostLabels(virtual, host, 'test', false),
      { [RELEASE]: 'vcluster', [MARKER_LABEL]: 'suffix', [NAMESPACE_LABEL]: 'test', test: 'test', test123: 'test123', other: 'other' });
  });

  it('survives being applied ten times over and back (vCluster TestRecursiveLabelsMap)', () => {
    let labels: Labels = { [NAMESPACE_LABEL]: 'test' };
    const history: Labels[] = [];
    for (let i = 0; i <= 10; i++) {
      history.push({ ...labels });
      labels = t.hostLabels(labels, undefined, `test-${i}`, false);
    }
    assert.deepEqual(labels, {
      'vcluster.loft.sh/label-suffix-x-101dcd4e86': 'test-9',
      'vcluster.loft.sh/label-suffix-x-e5f1b28ab2': 'suffix',
      [MARKER_LABEL]: 'suffix',
      [NAMESPACE_LABEL]: 'test-10',
    });
    for (let i = 10; i >= 0; i--) {
      labels = t.virtualLabels(labels, history[i]);
      assert.deepEqual(labels, history[i]);
    }
  });

  it('keeps a host-side controlled-by label, and marks cluster-scoped objects with the host namespace', () => {
    assert.equal(t.hostLabels({ a: 'b' }, { [CONTROLLER_LABEL]: 'someone' }, 'ns', true)[CONTROLLER_LABEL], 'someone');
    assert.deepEqual(t.hostLabels({ a: 'b' }, undefined, '', true), { a: 'b', [MARKER_LABEL]: 'test-x-suffix' });
  });

  it('translates selectors without adding markers (vCluster TestLabelSelector)', () => {
    const host = t.hostLabelSelector({ matchLabels: { test: 'test', test123: 'test123', release: 'vcluster' } });
    assert.deepEqual(host, { matchLabels: { test: 'test', test123: 'test123', [RELEASE]: 'vcluster' } });
    const virtual = t.virtualLabelSelector(host);
    assert.deepEqual(virtual, { matchLabels: { test: 'test', test123: 'test123', release: 'vcluster' } });
    assert.deepEqual(t.hostLabelSelector({ matchExpressions: [{ key: 'release', operator: 'In', values: ['a'] }] }),
      { matchExpressions: [{ key: RELEASE, operator: 'In', values: ['a'] }] });
  });
});

describe('annotation translation (vCluster TestAnnotations)', () => {
  const secret = (annotations: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { annotations } });

  it('adds the markers and tracks which annotations it copied', () => {
    const virtual = secret({ test: 'test' });
    const host = secret({ test: 'test' });
    host.metadata.annotations = t.hostAnnotations(virtual, host);
    assert.deepEqual(host.metadata.annotations, {
      test: 'test', [MANAGED_ANNOTATIONS_ANNOTATION]: 'test', [KIND_ANNOTATION]: '/v1, Kind=Secret',
      [NAME_ANNOTATION]: '', [UID_ANNOTATION]: '', [HOST_NAME_ANNOTATION]: '',
    });

    host.metadata.annotations = { ...host.metadata.annotations, other: 'other' };
    virtual.metadata.annotations = t.virtualAnnotations(host, virtual);
    assert.deepEqual(virtual.metadata.annotations, { other: 'other', test: 'test' });

    host.metadata.annotations = t.hostAnnotations(virtual, host);
    assert.deepEqual(host.metadata.annotations, {
      test: 'test', other: 'other', [MANAGED_ANNOTATIONS_ANNOTATION]: 'other\ntest', [KIND_ANNOTATION]: '/v1, Kind=Secret',
      [NAME_ANNOTATION]: '', [UID_ANNOTATION]: '', [HOST_NAME_ANNOTATION]: '',
    });
  });

  it('removes from the host an annotation removed on the virtual side, but keeps ones host controllers set', () => {
    const host = secret(t.hostAnnotations(secret({ a: '1', b: '2' }), undefined));
    host.metadata.annotations['set-by-host'] = 'x';
    const next = t.hostAnnotations(secret({ a: '1' }), host);
    assert.equal(next['b'], undefined);
    assert.equal(next['set-by-host'], 'x');
    assert.equal(next[MANAGED_ANNOTATIONS_ANNOTATION], 'a');
  });

  it('honours excluded keys both ways (vCluster TestAnnotationsSync, creation)', () => {
    const excluded = ['storageclass.kubernetes.io/is-default-class'];
    const storageClass = (annotations: Record<string, string>) => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { annotations } });
    const both = { 'storageclass.kubernetes.io/is-default-class': 'my-default', 'not-excluded': 'true' };
    assert.deepEqual(t.virtualAnnotations(storageClass(both), storageClass({ 'not-excluded': 'true' }), excluded), { 'not-excluded': 'true' });
    assert.deepEqual(t.hostAnnotations(storageClass(both), storageClass({ 'not-excluded': 'true' }), excluded), {
      'not-excluded': 'true', [MANAGED_ANNOTATIONS_ANNOTATION]: 'not-excluded', [NAME_ANNOTATION]: '', [UID_ANNOTATION]: '',
      [KIND_ANNOTATION]: 'storage.k8s.io/v1, Kind=StorageClass', [HOST_NAME_ANNOTATION]: '',
    });
    assert.equal(kindString('apps/v1', 'Deployment'), 'apps/v1, Kind=Deployment');
  });
});

describe('namespace label keys (vCluster HostLabelNamespace)', () => {
  it('hashes the key like the translated label keys, under the ns-label prefix', () => {
    // Same sha256 prefix as `release` → `vcluster.loft.sh/label-suffix-x-a4d451ec23` above.
    assert.equal(t.hostNamespaceLabelKey('release'), 'vcluster.loft.sh/ns-label-suffix-x-a4d451ec23');
    assert.equal(t.hostNamespaceLabelKey('kubernetes.io/metadata.name'), 'vcluster.loft.sh/ns-label-suffix-x-cf1227b7b2');
  });

  it('are dropped on the way back to the virtual side', () => {
    assert.deepEqual(t.virtualLabels({ app: 'a', [t.hostNamespaceLabelKey('team')]: 'blue' }, undefined), { app: 'a' });
  });
});
