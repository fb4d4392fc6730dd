import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultStorageClass, quantityValue, volumeFor } from './host-provisioner.ts';

describe('local volume provisioner', () => {
  it('reads resource quantities', () => {
    assert.equal(quantityValue('1Gi'), 2 ** 30);
    assert.equal(quantityValue('500M'), 5e8);
    assert.equal(quantityValue('1e3'), 1000);
    assert.equal(quantityValue('1.5Ki'), 1536);
    assert.ok(quantityValue('2Gi') > quantityValue('1500Mi'));
    assert.ok(Number.isNaN(quantityValue('lots')));
    assert.ok(Number.isNaN(quantityValue(undefined)));
  });

  it('makes a volume pre-bound to the claim, under the volumes dir', () => {
    const volume = volumeFor({
      metadata: { name: 'data', namespace: 'ns', uid: 'abc' },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '3Gi' } }, volumeMode: 'Block' },
    }, defaultStorageClass(), '/data/volumes');
    assert.equal(volume.metadata?.name, 'pvc-abc');
    assert.equal(volume.metadata?.annotations?.['pv.kubernetes.io/provisioned-by'], 'kubenest.dev/local');
    assert.deepEqual(volume.spec, {
      capacity: { storage: '3Gi' }, accessModes: ['ReadWriteMany'], persistentVolumeReclaimPolicy: 'Delete', storageClassName: 'standard',
      volumeMode: 'Block', claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'ns', name: 'data', uid: 'abc' },
      hostPath: { path: '/data/volumes/pvc-abc' },
    });
  });

  it('declares the default class the local host starts with', () => {
    const standard = defaultStorageClass();
    assert.equal(standard.metadata?.name, 'standard');
    assert.equal(standard.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
    assert.equal(standard.provisioner, 'kubenest.dev/local');
    assert.equal(standard.volumeBindingMode, 'Immediate');
    assert.equal(standard.reclaimPolicy, 'Delete');
  });
});
