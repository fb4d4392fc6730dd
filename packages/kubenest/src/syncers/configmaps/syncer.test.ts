import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';
import { secretSyncer } from '../secrets/syncer.ts';
import { configMapSyncer } from './syncer.ts';

// wants() reads only the object; the context is never touched.
const ctx = { names: new NameTranslator('demo', 'vc-demo'), meta: new MetadataTranslator('demo', 'vc-demo') } as unknown as SyncContext;

describe('to-host ConfigMap and Secret syncers', () => {
  it('leave objects imported from the host where they are, even with all: true or force-sync', async () => {
    const imported = { metadata: { name: 'shared', namespace: 'team', labels: { 'kubenest.dev/imported-by': 'from-host-configmap' }, annotations: { 'vcluster.loft.sh/force-sync': 'true' } } };
    assert.equal(await configMapSyncer({ all: true }).wants!(ctx, imported), false);
    assert.equal(await secretSyncer({ all: true }).wants!(ctx, imported), false);
  });

  it('still take every other object with all: true', async () => {
    const own = { metadata: { name: 'mine', namespace: 'team', labels: { app: 'x' } } };
    assert.equal(await configMapSyncer({ all: true }).wants!(ctx, own), true);
    assert.equal(await secretSyncer({ all: true }).wants!(ctx, own), true);
  });
});
