import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';
import { hostPriorityClass, hostPriorityValue, priorityClassSyncer, type PriorityClass } from './syncer.ts';

const ctx = { names: new NameTranslator('demo', 'vc-demo'), meta: new MetadataTranslator('demo', 'vc-demo'), vclusterName: 'demo', hostNamespace: 'vc-demo' } as unknown as SyncContext;

describe('priority class translation', () => {
  const virtual: PriorityClass = {
    apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass',
    metadata: { name: 'high', uid: 'u1', labels: { tier: 'gold' } },
    value: 2_000_000_000, globalDefault: true, description: 'important', preemptionPolicy: 'Never',
  };

  it('caps the value at 1,000,000,000', () => {
    assert.equal(hostPriorityValue(5), 5);
    assert.equal(hostPriorityValue(1_000_000_000), 1_000_000_000);
    assert.equal(hostPriorityValue(2_000_001_000), 1_000_000_000);
  });

  it('names the host copy by hostNameCluster, with the cluster marker, never the global default', () => {
    const host = hostPriorityClass(ctx, virtual);
    assert.deepEqual(host.metadata?.labels, { tier: 'gold', 'vcluster.loft.sh/managed-by': 'vc-demo-x-demo' });
    assert.equal(host.metadata?.name, 'vcluster-high-x-vc-demo-x-demo');
    assert.equal(host.metadata?.namespace, undefined);
    const annotations = host.metadata?.annotations ?? {};
    assert.equal(annotations['vcluster.loft.sh/object-name'], 'high');
    assert.equal(annotations['vcluster.loft.sh/object-namespace'], undefined);
    assert.equal(annotations['vcluster.loft.sh/object-kind'], 'scheduling.k8s.io/v1, Kind=PriorityClass');
    assert.equal(annotations['vcluster.loft.sh/object-host-name'], 'vcluster-high-x-vc-demo-x-demo');
    assert.equal(host.value, 1_000_000_000);
    assert.equal(host.globalDefault, false);
    assert.equal(host.description, 'important');
    assert.equal(host.preemptionPolicy, 'Never');
  });

  it('carries the description both ways', async () => {
    const syncer = priorityClassSyncer();
    const synced = hostPriorityClass(ctx, virtual);
    const fromHost = await syncer.sync(ctx, { virtual, host: { ...synced, description: 'set on host' }, virtualOld: virtual, hostOld: synced });
    assert.equal(fromHost.virtual?.description, 'set on host');
    assert.equal(fromHost.host, undefined);
    const fromVirtual = await syncer.sync(ctx, { virtual: { ...virtual, description: 'set in virtual' }, host: synced, virtualOld: virtual, hostOld: synced });
    assert.equal(fromVirtual.host?.description, 'set in virtual');
    assert.equal(fromVirtual.virtual, undefined);
  });

  it('writes nothing when the host copy is as read back (globalDefault false is omitted by the API server)', async () => {
    const readBack = hostPriorityClass(ctx, virtual);
    delete readBack.globalDefault;
    assert.deepEqual(await priorityClassSyncer().sync(ctx, { virtual, host: readBack, virtualOld: virtual, hostOld: readBack }), {});
  });
});
