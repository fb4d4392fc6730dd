import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '@kubenest/kube';
import { MetadataTranslator, NameTranslator, hostCopy, type SyncContext } from '@kubenest/sync';
import { copyContent, decideCopy } from './syncers.ts';

const ctx = {
  vclusterName: 'demo', hostNamespace: 'vcluster-demo',
  names: new NameTranslator('demo', 'vcluster-demo'), meta: new MetadataTranslator('demo', 'vcluster-demo'),
} as unknown as SyncContext;

describe('copyToHost decisions', () => {
  it('a namespaced Car gets vCluster\'s host name and markers; a cluster-scoped object the cluster name and marker', () => {
    const car: KubeObject = { apiVersion: 'example.loft.sh/v1', kind: 'Car', metadata: { name: 'test', namespace: 'kube-system', uid: 'u1', labels: { a: 'b' } }, spec: { type: 'Audi', seats: 4 }, status: { x: 1 } };
    const host = hostCopy(ctx, car);
    assert.equal(host.metadata?.name, 'test-x-kube-system-x-demo');
    assert.equal(host.metadata?.namespace, 'vcluster-demo');
    assert.deepEqual(host.metadata?.labels, { a: 'b', 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'kube-system' });
    assert.equal(host.metadata?.annotations?.['vcluster.loft.sh/object-name'], 'test');
    assert.equal(host.metadata?.annotations?.['vcluster.loft.sh/object-kind'], 'example.loft.sh/v1, Kind=Car');
    assert.deepEqual(host['spec'], { type: 'Audi', seats: 4 });
    assert.equal(host['status'], undefined);
    const cluster = hostCopy<KubeObject>(ctx, { apiVersion: 'example.loft.sh/v1', kind: 'Garage', metadata: { name: 'g', uid: 'u2' }, spec: {} });
    assert.equal(cluster.metadata?.name, 'vcluster-g-x-vcluster-demo-x-demo');
    assert.equal(cluster.metadata?.namespace, undefined);
    assert.equal(cluster.metadata?.labels?.['vcluster.loft.sh/managed-by'], 'vcluster-demo-x-demo');
  });

  it('content follows the virtual object (changed, added, removed fields); status and metadata are not content', () => {
    const host: Record<string, unknown> = { metadata: { name: 'h' }, spec: { seats: 4 }, extra: 1, status: { ok: true } };
    assert.equal(copyContent({ metadata: { name: 'v' }, spec: { seats: 5 }, other: 'x' }, host), true);
    assert.deepEqual(host, { metadata: { name: 'h' }, spec: { seats: 5 }, other: 'x', status: { ok: true } });
    assert.equal(copyContent({ metadata: {}, spec: { seats: 5 }, other: 'x' }, host), false);
  });

  it('decideCopy writes the host only when something differs', () => {
    const virtual = { apiVersion: 'example.loft.sh/v1', kind: 'Car', metadata: { name: 'test', namespace: 'kube-system', uid: 'u1' }, spec: { seats: 4 } };
    const host = hostCopy(ctx, virtual);
    assert.deepEqual(decideCopy(ctx, { virtual, host, virtualOld: virtual, hostOld: host }), {});
    const changed = decideCopy(ctx, { virtual: { ...virtual, spec: { seats: 2 } }, host, virtualOld: virtual, hostOld: host });
    assert.deepEqual(changed.host?.['spec'], { seats: 2 });
    assert.equal(changed.virtual, undefined);
  });
});
