import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';
import { hostClaim, syncClaim, type PersistentVolumeClaim } from './syncer.ts';

// Only translation is exercised here: the clients and writer are never touched.
const ctx = {
  vclusterName: 'demo', hostNamespace: 'vc-demo',
  names: new NameTranslator('demo', 'vc-demo'), meta: new MetadataTranslator('demo', 'vc-demo'),
} as unknown as SyncContext;

function virtualClaim(extra: Partial<PersistentVolumeClaim> = {}): PersistentVolumeClaim {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'apps', uid: 'v-uid', labels: { app: 'db' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, selector: { matchLabels: { release: 'x' } } },
    ...extra,
  };
}

describe('PersistentVolumeClaim translation', () => {
  it('keeps the spec, translates PVC data sources and leaves the selector as it is (fake volume mode)', () => {
    const virtual = virtualClaim();
    virtual.spec!.dataSource = { kind: 'PersistentVolumeClaim', name: 'origin' };
    virtual.spec!.dataSourceRef = { kind: 'PersistentVolumeClaim', name: 'origin', namespace: 'other' };
    const host = hostClaim(ctx, virtual);
    assert.equal(host.metadata?.name, 'data-x-apps-x-demo');
    assert.equal(host.metadata?.namespace, 'vc-demo');
    assert.deepEqual(host.spec?.dataSource, { kind: 'PersistentVolumeClaim', name: 'origin-x-apps-x-demo' });
    assert.deepEqual(host.spec?.dataSourceRef, { kind: 'PersistentVolumeClaim', name: 'origin-x-other-x-demo', namespace: 'other' });
    assert.deepEqual(host.spec?.selector, { matchLabels: { release: 'x' } });
    assert.equal(host.status, undefined);
  });

  it('leaves data sources of other kinds, and everything under skip-translate', () => {
    const snapshot = virtualClaim();
    snapshot.spec!.dataSource = { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' };
    assert.deepEqual(hostClaim(ctx, snapshot).spec?.dataSource, { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' });
    const skipped = virtualClaim();
    skipped.metadata!.annotations = { 'vcluster.loft.sh/skip-translate': 'true' };
    skipped.spec!.dataSource = { kind: 'PersistentVolumeClaim', name: 'origin' };
    assert.deepEqual(hostClaim(ctx, skipped).spec?.dataSource, { kind: 'PersistentVolumeClaim', name: 'origin' });
  });
});

describe('PersistentVolumeClaim sync', () => {
  const bound = (virtual: PersistentVolumeClaim): PersistentVolumeClaim => {
    const host = hostClaim(ctx, virtual);
    host.metadata!.uid = 'h-uid';
    host.metadata!.annotations = { ...host.metadata!.annotations, 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' };
    host.spec = { ...host.spec, volumeName: 'pvc-h-uid', storageClassName: 'standard' };
    host.status = { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] };
    return host;
  };

  it('takes the volume name, status and binding annotations from the host', () => {
    const virtual = virtualClaim();
    const host = bound(virtual);
    const result = syncClaim(ctx, { virtual, host, virtualOld: undefined, hostOld: undefined });
    assert.equal(result.virtual?.spec?.volumeName, 'pvc-h-uid');
    assert.equal(result.virtual?.metadata?.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(result.virtual?.metadata?.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    assert.deepEqual(result.virtualStatus?.status, host.status);
    // The host's binding annotations stay the host's own: not listed as copied from virtual.
    assert.equal(result.host, undefined);
  });

  it('sends a larger request to the host', () => {
    const virtual = virtualClaim();
    const host = bound(virtual);
    virtual.spec = { ...virtual.spec, volumeName: 'pvc-h-uid', resources: { requests: { storage: '2Gi' } } };
    virtual.status = structuredClone(host.status);
    virtual.metadata!.annotations = { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' };
    const result = syncClaim(ctx, { virtual, host, virtualOld: virtual, hostOld: host });
    assert.deepEqual(result.host?.spec?.resources?.requests, { storage: '2Gi' });
    assert.equal(result.host?.spec?.storageClassName, 'standard');
    assert.equal(result.virtual, undefined);
    assert.equal(result.virtualStatus, undefined);
  });

  it('recreates the virtual claim when the host bound another volume, after dropping its finalizers', () => {
    const virtual = virtualClaim();
    const host = bound(virtual);
    virtual.spec = { ...virtual.spec, volumeName: 'elsewhere' };
    virtual.metadata!.finalizers = ['kubernetes.io/pvc-protection'];
    const first = syncClaim(ctx, { virtual, host, virtualOld: undefined, hostOld: undefined });
    assert.deepEqual(first.virtual?.metadata?.finalizers, []);
    assert.equal(first.recreateVirtual, undefined);
    virtual.metadata!.finalizers = [];
    const second = syncClaim(ctx, { virtual, host, virtualOld: undefined, hostOld: undefined });
    assert.equal(second.recreateVirtual?.spec?.volumeName, 'pvc-h-uid');
  });

  it('deletes the virtual claim when the host claim is being deleted', () => {
    const virtual = virtualClaim();
    const host = bound(virtual);
    host.metadata!.deletionTimestamp = '2026-01-01T00:00:00Z';
    assert.deepEqual(syncClaim(ctx, { virtual, host, virtualOld: undefined, hostOld: undefined }), { deleteVirtual: { gracePeriodSeconds: 30 } });
  });
});
