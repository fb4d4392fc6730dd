import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';
import { serviceAccountSyncer, type ServiceAccount } from './syncer.ts';

const ctx = { names: new NameTranslator('demo', 'vc-demo'), meta: new MetadataTranslator('demo', 'vc-demo'), vclusterName: 'demo', hostNamespace: 'vc-demo' } as unknown as SyncContext;

describe('service account translation', () => {
  const virtual: ServiceAccount = {
    apiVersion: 'v1', kind: 'ServiceAccount',
    metadata: { name: 'builder', namespace: 'ci', uid: 'u1', annotations: { 'eks.amazonaws.com/role-arn': 'arn:x' } },
    secrets: [{ name: 'builder-token' }], imagePullSecrets: [{ name: 'registry' }], automountServiceAccountToken: true,
  };

  it('drops secrets and pull secrets and turns off token automount on the host copy', async () => {
    const host = await serviceAccountSyncer().toHost(ctx, virtual);
    assert.equal(host.metadata?.name, 'builder-x-ci-x-demo');
    assert.equal(host.metadata?.namespace, 'vc-demo');
    assert.equal(host.metadata?.annotations?.['eks.amazonaws.com/role-arn'], 'arn:x');
    assert.equal(host.secrets, undefined);
    assert.equal(host.imagePullSecrets, undefined);
    assert.equal(host.automountServiceAccountToken, false);
  });

  it('puts the three fields back when the host copy is edited', async () => {
    const syncer = serviceAccountSyncer();
    const synced = await syncer.toHost(ctx, virtual);
    const edited = { ...structuredClone(synced), automountServiceAccountToken: true, imagePullSecrets: [{ name: 'host-registry' }] };
    const result = await syncer.sync(ctx, { virtual, host: edited, virtualOld: virtual, hostOld: synced });
    assert.equal(result.host?.automountServiceAccountToken, false);
    assert.equal(result.host?.imagePullSecrets, undefined);
    assert.equal(result.virtual, undefined);
    assert.deepEqual(await syncer.sync(ctx, { virtual, host: synced, virtualOld: virtual, hostOld: synced }), {});
  });
});
