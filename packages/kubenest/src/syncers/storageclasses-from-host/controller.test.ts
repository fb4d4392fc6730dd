import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideStorageClass, labelsMatch, virtualStorageClass, type StorageClass } from './controller.ts';

const hostClass = (labels: Record<string, string> = {}, extra: Partial<StorageClass> = {}): StorageClass => ({
  apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
  metadata: { name: 'fast', uid: 'h', resourceVersion: '5', labels, annotations: { note: 'host' } },
  provisioner: 'example.com/csi', reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate', allowVolumeExpansion: true, ...extra,
});

describe('label selectors', () => {
  it('matches matchLabels and every expression operator', () => {
    assert.equal(labelsMatch({ a: '1' }, undefined), true);
    assert.equal(labelsMatch({ a: '1' }, {}), true);
    assert.equal(labelsMatch({ a: '1' }, { matchLabels: { a: '1' } }), true);
    assert.equal(labelsMatch({ a: '2' }, { matchLabels: { a: '1' } }), false);
    assert.equal(labelsMatch({ a: '1' }, { matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }), true);
    assert.equal(labelsMatch({}, { matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }), false);
    assert.equal(labelsMatch({}, { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }), true);
    assert.equal(labelsMatch({ a: '1' }, { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }), false);
    assert.equal(labelsMatch({ a: '' }, { matchExpressions: [{ key: 'a', operator: 'Exists' }] }), true);
    assert.equal(labelsMatch({ a: '' }, { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }), false);
    assert.equal(labelsMatch({ a: '1' }, { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['0'] }] }), false);
  });
});

describe('StorageClasses from host', () => {
  it('mirrors a host class under its own name, marked as this syncer\'s', () => {
    const action = decideStorageClass(hostClass(), undefined, undefined);
    assert.equal(action.kind, 'create');
    const object = (action as { object: StorageClass }).object;
    assert.deepEqual(object.metadata, {
      name: 'fast', labels: {}, annotations: { note: 'host', 'vcluster.loft.sh/controlled-by': 'host-storageclass' },
    });
    assert.equal(object.provisioner, 'example.com/csi');
    assert.equal(object.allowVolumeExpansion, true);
  });

  it('updates mutable fields in place and replaces the class when an immutable one changed', () => {
    const virtual = { ...virtualStorageClass(hostClass()), metadata: { ...virtualStorageClass(hostClass()).metadata, uid: 'v', resourceVersion: '9' } };
    assert.equal(decideStorageClass(hostClass(), virtual, undefined).kind, 'none');
    const expanded = decideStorageClass(hostClass({}, { allowVolumeExpansion: false }), virtual, undefined);
    assert.equal(expanded.kind, 'update');
    assert.equal((expanded as { object: StorageClass }).object.metadata?.resourceVersion, '9');
    assert.equal(decideStorageClass(hostClass({}, { parameters: { type: 'ssd' } }), virtual, undefined).kind, 'replace');
  });

  it('skips non-matching host classes and deletes only copies it made', () => {
    const selector = { matchLabels: { value: 'one' } };
    assert.equal(decideStorageClass(hostClass({ value: 'two' }), undefined, selector).kind, 'none');
    const ours = { ...virtualStorageClass(hostClass()), metadata: { ...virtualStorageClass(hostClass()).metadata, uid: 'v' } };
    assert.deepEqual(decideStorageClass(hostClass({ value: 'two' }), ours, selector), { kind: 'delete', uid: 'v' });
    assert.deepEqual(decideStorageClass(undefined, ours, selector), { kind: 'delete', uid: 'v' });
    const tenant: StorageClass = { metadata: { name: 'fast', uid: 't' }, provisioner: 'tenant' };
    assert.equal(decideStorageClass(undefined, tenant, selector).kind, 'none');
    assert.equal(decideStorageClass(hostClass({ value: 'one' }), tenant, selector).kind, 'replace');
  });
});
