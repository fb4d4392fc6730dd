import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeClient } from '@kubenest/kube';
import { endpointsSyncer, serviceSyncer, type Endpoints, type Service } from '@kubenest/kubenest';
import type { SyncController } from '@kubenest/sync';
import { eventually, startSyncEnvironment, type SyncEnvironment } from '@kubenest/testing';

describe('Service sync', () => {
  let env: SyncEnvironment;
  let hostClient: KubeClient;
  let virtualClient: KubeClient;
  let controller: SyncController<Service>;
  let endpoints: SyncController<Endpoints>;
  let HOST_NS: string;
  const vkubectl = (...args: string[]) => env.vkubectl(...args);
  const hostService = (name: string) => hostClient.resourceFor<Service>(CORE['services']!).get(name, { namespace: HOST_NS });
  const virtualService = (name: string) => virtualClient.resourceFor<Service>(CORE['services']!).get(name, { namespace: 'default' });

  before(async () => {
    env = await startSyncEnvironment('demo');
    ({ hostClient, virtualClient, hostNamespace: HOST_NS } = env);
    controller = await env.startSyncer(serviceSyncer());
    endpoints = await env.startSyncer(endpointsSyncer());
  });
  after(async () => {
    await env?.dispose();
  });

  it('creates the host Service with a scoped selector, and gives the virtual Service the host\'s ClusterIP', async () => {
    assert.equal((await vkubectl('create', 'service', 'clusterip', 'web', '--tcp=80:8080')).code, 0);
    const copy = await eventually(() => hostService('web-x-default-x-demo'));
    assert.deepEqual(copy.spec?.selector, { app: 'web', 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'default' });
    assert.deepEqual(copy.spec?.ports?.map((p) => [p.port, p.targetPort]), [[80, 8080]]);
    await eventually(async () => assert.equal((await virtualService('web')).spec?.clusterIP, copy.spec?.clusterIP), { timeoutMs: 30_000 });
    // Recreating the virtual Service (new uid) kept the same host Service.
    assert.equal((await hostService('web-x-default-x-demo')).metadata?.uid, copy.metadata?.uid);
    assert.equal(controller.stats.errors, 0);
  });

  it('syncs port changes both ways and deletes the host Service with the virtual one', async () => {
    assert.equal((await vkubectl('patch', 'service', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":81}]')).code, 0);
    await eventually(async () => assert.equal((await hostService('web-x-default-x-demo')).spec?.ports?.[0]?.port, 81));
    await hostClient.resourceFor(CORE['services']!).patch('web-x-default-x-demo', 'json', [{ op: 'replace', path: '/spec/ports/0/targetPort', value: 9090 }], { namespace: HOST_NS });
    await eventually(async () => assert.equal((await virtualService('web')).spec?.ports?.[0]?.targetPort, 9090));
    assert.equal((await vkubectl('delete', 'service', 'web')).code, 0);
    await eventually(async () => assert.rejects(hostService('web-x-default-x-demo'), /404/));
  });

  it('leaves default/kubernetes alone', async () => {
    await controller.drain();
    await assert.rejects(hostService('kubernetes-x-default-x-demo'), /404/);
  });

  it('syncs the Endpoints of a Service without a selector, translating pod references, and leaves selector Services to the host', async () => {
    await virtualClient.resourceFor(CORE['services']!).create({ metadata: { name: 'external', namespace: 'default' }, spec: { ports: [{ port: 5432 }] } });
    // Until Service creation goes through kubenest's proxy (as in vCluster), the virtual Service is
    // recreated with the host's ClusterIP, and the virtual controller manager deletes the Endpoints
    // of a deleted Service: create them once the swap is done.
    const hostIp = (await eventually(() => hostService('external-x-default-x-demo'))).spec?.clusterIP;
    await eventually(async () => assert.equal((await virtualService('external')).spec?.clusterIP, hostIp), { timeoutMs: 30_000 });
    await virtualClient.resourceFor<Endpoints>(CORE['endpoints']!).create({
      metadata: { name: 'external', namespace: 'default' },
      subsets: [{ addresses: [{ ip: '10.1.2.3', targetRef: { kind: 'Pod', name: 'db-0', namespace: 'default', uid: 'virtual-uid' } }], ports: [{ port: 5432 }] }],
    });
    const hostEndpoints = () => hostClient.resourceFor<Endpoints>(CORE['endpoints']!).get('external-x-default-x-demo', { namespace: HOST_NS });
    const copy = await eventually(hostEndpoints, { timeoutMs: 30_000 });
    assert.deepEqual(copy.subsets?.[0]?.addresses, [{ ip: '10.1.2.3', targetRef: { kind: 'Pod', name: 'db-0-x-default-x-demo', namespace: HOST_NS } }]);

    assert.equal((await vkubectl('create', 'service', 'clusterip', 'selected', '--tcp=80:80')).code, 0);
    await eventually(() => hostService('selected-x-default-x-demo'));
    await endpoints.drain();
    const written = await hostClient.resourceFor<Endpoints>(CORE['endpoints']!).list({ namespace: HOST_NS });
    // The host's endpoints controller copies the Service's labels, markers included; only what
    // kubenest writes carries the object-name annotation.
    const ours = written.items.filter((e) => e.metadata?.annotations?.['vcluster.loft.sh/object-name']).map((e) => e.metadata?.name);
    assert.deepEqual(ours, ['external-x-default-x-demo'], 'Endpoints of selector Services are the host\'s to make');
  });
});
