import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakePersistentVolume } from './controller.ts';

describe('fake PersistentVolumes', () => {
  it('takes size, access modes, class and volume mode from the claim and points back at it', () => {
    const volume = fakePersistentVolume('pvc-123', {
      metadata: { name: 'data', namespace: 'apps', uid: 'u1', resourceVersion: '7' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeMode: 'Filesystem' },
    });
    assert.deepEqual(volume, {
      apiVersion: 'v1', kind: 'PersistentVolume',
      metadata: {
        name: 'pvc-123',
        labels: { 'vcluster.loft.sh/fake-pv': 'true' },
        annotations: {
          'kubernetes.io/createdby': 'fake-pv-provisioner', 'pv.kubernetes.io/bound-by-controller': 'true',
          'pv.kubernetes.io/provisioned-by': 'fake-pv-provisioner',
        },
      },
      spec: {
        flexVolume: { driver: 'fake' },
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'apps', name: 'data', uid: 'u1', resourceVersion: '7' },
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: 'standard',
        volumeMode: 'Filesystem',
      },
    });
  });

  it('uses the empty class for a claim without one', () => {
    const volume = fakePersistentVolume('v', { metadata: { name: 'x', namespace: 'y' }, spec: { resources: { requests: { storage: '1Mi' } } } });
    assert.equal(volume.spec?.['storageClassName'], '');
    assert.equal(volume.spec?.['volumeMode'], undefined);
  });
});
