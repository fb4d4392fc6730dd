import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';
import { BLOCK_DELETION_ANNOTATION, CLUSTER_IP_PASSAGE_NAME, SPEC_BEFORE_PASSAGE_ANNOTATION, clusterIpPassage, serviceAwaitsVirtual, serviceSyncer, type Service } from './syncer.ts';

// Translation only: no client is touched.
const ctx = { names: new NameTranslator('demo', 'vc-demo'), meta: new MetadataTranslator('demo', 'vc-demo'), vclusterName: 'demo', hostNamespace: 'vc-demo' } as unknown as SyncContext;

const nodePortService: Service = {
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'web', namespace: 'default', uid: 'u1', resourceVersion: '7', labels: { app: 'web' }, annotations: { team: 'a' } },
  spec: {
    type: 'NodePort', clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50'], ipFamilies: ['IPv4'], selector: { app: 'web' },
    ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }], externalTrafficPolicy: 'Local', sessionAffinity: 'ClientIP',
  },
};

describe('clusterIpPassage', () => {
  it('passes through ExternalName and arrives with the host\'s ClusterIP, everything else as it was', () => {
    const [passing, arrived, ...rest] = clusterIpPassage(nodePortService, '10.96.7.7', ['10.96.7.7']);
    assert.equal(rest.length, 0);
    assert.deepEqual(passing!.spec, { type: 'ExternalName', externalName: CLUSTER_IP_PASSAGE_NAME, selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] });
    assert.deepEqual(JSON.parse(passing!.metadata!.annotations![SPEC_BEFORE_PASSAGE_ANNOTATION]!), nodePortService.spec);
    assert.equal(passing!.metadata?.uid, 'u1', 'the same object, updated in place');
    assert.deepEqual(arrived!.spec, { ...nodePortService.spec, clusterIP: '10.96.7.7', clusterIPs: ['10.96.7.7'] });
    assert.deepEqual(arrived!.metadata?.annotations, { team: 'a' }, 'the stash is removed, the user\'s annotations stay');
    assert.deepEqual(arrived!.metadata?.labels, { app: 'web' });
  });

  it('finishes a passage found half-way from the stashed spec, in one step', () => {
    const [passing] = clusterIpPassage(nodePortService, '10.96.7.7', undefined);
    const steps = clusterIpPassage(passing!, '10.96.7.8', ['10.96.7.8']);
    assert.equal(steps.length, 1);
    assert.deepEqual(steps[0]!.spec, { ...nodePortService.spec, clusterIP: '10.96.7.8', clusterIPs: ['10.96.7.8'] });
    assert.equal(steps[0]!.metadata?.annotations?.[SPEC_BEFORE_PASSAGE_ANNOTATION], undefined);
  });

  it('is what sync asks for when the ClusterIPs differ, built from the stored Service, not the hooked view', async () => {
    const host: Service = { metadata: { name: 'web-x-default-x-demo', namespace: 'vc-demo' }, spec: { clusterIP: '10.96.7.7', clusterIPs: ['10.96.7.7'] } };
    // What a plugin's GetVirtual hook showed the syncer: a port the stored Service does not have.
    const hooked: Service = { ...nodePortService, spec: { ...nodePortService.spec, ports: [...nodePortService.spec!.ports!, { name: 'plugin', port: 19000 }] } };
    const stored = { unhooked: { resourceFor: () => ({ get: () => Promise.resolve(nodePortService) }) } };
    const withClients = { ...ctx, virtual: stored } as unknown as SyncContext;
    const result = await serviceSyncer().sync(withClients, { virtual: hooked, host, virtualOld: undefined, hostOld: undefined });
    assert.deepEqual(Object.keys(result), ['virtualSteps']);
    assert.equal(result.virtualSteps?.length, 2);
    assert.equal(result.virtualSteps?.[1]?.spec?.clusterIP, '10.96.7.7');
    assert.deepEqual(result.virtualSteps?.[1]?.spec?.ports, nodePortService.spec?.ports, 'the hook\'s port is not written back');
  });

  it('builds the host copy from the stashed spec when the host copy is made mid-passage', async () => {
    const [passing] = clusterIpPassage(nodePortService, '10.96.7.7', undefined);
    const host = await serviceSyncer().toHost(ctx, passing!);
    assert.equal(host.spec?.type, 'NodePort');
    assert.equal(host.spec?.clusterIP, undefined, 'the host allocates its own');
    assert.equal(host.metadata?.annotations?.[SPEC_BEFORE_PASSAGE_ANNOTATION], undefined);
    assert.deepEqual(host.spec?.ports, [{ port: 80, targetPort: 8080, nodePort: undefined }]);
  });
});

describe('a host Service the front door made ahead of its virtual one', () => {
  const marked = (createdAt: string): Service => ({
    metadata: { name: 'web-x-default-x-demo', namespace: 'vc-demo', creationTimestamp: createdAt, annotations: { [BLOCK_DELETION_ANNOTATION]: 'true' } },
    spec: { clusterIP: '10.96.7.7' },
  });

  it('waits up to two minutes from its creation for the virtual Service; unmarked, it does not wait', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    assert.equal(serviceAwaitsVirtual(marked('2026-11-30T11:59:30Z'), now), 90_000);
    assert.ok(serviceAwaitsVirtual(marked('2026-11-30T11:57:00Z'), now) <= 0);
    assert.equal(serviceAwaitsVirtual({ ...marked('2026-11-30T11:59:30Z'), metadata: { creationTimestamp: '2026-11-30T11:59:30Z' } }, now), 0);
  });

  it('loses the mark at the first sync with its virtual Service, which already has its ClusterIP', async () => {
    const host = { ...marked('2026-11-30T11:59:30Z'), spec: { ...hostCopySpec(), clusterIP: '10.96.7.7' } };
    const virtual: Service = { ...nodePortService, spec: { ...nodePortService.spec, clusterIP: '10.96.7.7', clusterIPs: ['10.96.7.7'] } };
    const result = await serviceSyncer().sync(ctx, { virtual, host, virtualOld: undefined, hostOld: undefined });
    assert.equal(result.virtualSteps, undefined, 'no passage');
    assert.ok(result.host);
    assert.equal(result.host.metadata?.annotations?.[BLOCK_DELETION_ANNOTATION], undefined);
    assert.deepEqual(result.host.spec?.ports, host.spec.ports, 'the host copy keeps its own ports (a host hook\'s port 19000), as if the syncer had made it');
    assert.equal(result.virtual, undefined, 'the virtual Service is left as created');
  });
});

function hostCopySpec(): NonNullable<Service['spec']> {
  return { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, nodePort: 31111 }, { name: 'plugin', port: 19000 }], externalTrafficPolicy: 'Local', sessionAffinity: 'ClientIP' };
}
