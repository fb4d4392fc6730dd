import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeClient, type KubeObject } from '@kubenest/kube';
import { endpointsSyncer, serviceSyncer, type Endpoints, type Service } from '@kubenest/kubenest';
import type { SyncController } from '@kubenest/sync';
import { eventually, run, startSyncEnvironment, type SyncEnvironment } from '@kubenest/testing';

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
    const uid = (await virtualService('web')).metadata?.uid;
    const copy = await eventually(() => hostService('web-x-default-x-demo'));
    assert.deepEqual(copy.spec?.selector, { app: 'web', 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'default' });
    assert.deepEqual(copy.spec?.ports?.map((p) => [p.port, p.targetPort]), [[80, 8080]]);
    await eventually(async () => assert.equal((await virtualService('web')).spec?.clusterIP, copy.spec?.clusterIP), { timeoutMs: 30_000 });
    // The ClusterIP changed in place: the same virtual object, the same host Service.
    assert.equal((await virtualService('web')).metadata?.uid, uid);
    assert.equal((await virtualService('web')).spec?.type, 'ClusterIP');
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

  // Issue 12: the virtual Service used to be deleted and recreated with the host's ClusterIP, and
  // the virtual controller manager then deleted the Endpoints applied with it, every time.
  const PAIRS = 200;
  const serviceDoc = (namespace: string, i: number): string =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ext-${i}, namespace: ${namespace}, labels: {tier: external}, annotations: {owner: team-${i}}}\n` +
    `spec: {ports: [{name: pg, port: 5432}]}\n`;
  const backend = (i: number): string => `192.0.2.${i % 250 + 1}`;

  async function applyAll(namespace: string, partner: (i: number) => string): Promise<Map<string, string>> {
    assert.equal((await vkubectl('create', 'namespace', namespace)).code, 0);
    const docs = Array.from({ length: PAIRS }, (_, i) => `${serviceDoc(namespace, i)}---\n${partner(i)}`).join('---\n');
    const applied = await run('kubectl', ['--kubeconfig', env.plane.kubeconfig, 'apply', '-f', '-'], { input: docs, timeoutMs: 300_000 });
    assert.equal(applied.code, 0, applied.stderr);
    const services = await virtualClient.resourceFor<Service>(CORE['services']!).list({ namespace });
    return new Map(services.items.map((s) => [s.metadata?.name ?? '', s.metadata?.uid ?? '']));
  }

  /** Waits until every virtual Service has its host copy's ClusterIP; checks they are the objects first created. */
  async function servicesSettled(namespace: string, uids: Map<string, string>): Promise<void> {
    await eventually(async () => {
      const virtual = await virtualClient.resourceFor<Service>(CORE['services']!).list({ namespace });
      const host = await hostClient.resourceFor<Service>(CORE['services']!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/namespace=' + namespace });
      const hostIps = new Map(host.items.map((s) => [s.metadata?.annotations?.['vcluster.loft.sh/object-name'], s.spec?.clusterIP]));
      assert.equal(virtual.items.length, PAIRS);
      for (const service of virtual.items) {
        assert.equal(service.spec?.clusterIP, hostIps.get(service.metadata?.name), service.metadata?.name);
        assert.equal(service.spec?.type, 'ClusterIP');
        assert.equal(service.metadata?.uid, uids.get(service.metadata?.name ?? ''), 'updated in place, never recreated');
        assert.deepEqual(service.metadata?.labels, { tier: 'external' });
        assert.equal(service.metadata?.annotations?.['owner'], service.metadata?.name?.replace('ext-', 'team-'));
      }
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
  }

  it(`keeps ${PAIRS} Endpoints applied in one file with their Services, on both sides`, async () => {
    const uids = await applyAll('pairs', (i) => `apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext-${i}, namespace: pairs}\n` +
      `subsets: [{addresses: [{ip: ${backend(i)}}], ports: [{name: pg, port: 5432}]}]\n`);
    await servicesSettled('pairs', uids);
    await eventually(async () => {
      const virtual = await virtualClient.resourceFor<Endpoints>(CORE['endpoints']!).list({ namespace: 'pairs' });
      assert.equal(virtual.items.length, PAIRS, 'no virtual Endpoints lost');
      const host = await hostClient.resourceFor<Endpoints>(CORE['endpoints']!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/namespace=pairs' });
      const ours = host.items.filter((e) => e.metadata?.annotations?.['vcluster.loft.sh/object-name']);
      assert.equal(ours.length, PAIRS, 'every host copy made');
      for (const copy of ours) {
        const i = Number(copy.metadata?.annotations?.['vcluster.loft.sh/object-name']?.replace('ext-', ''));
        assert.equal(copy.metadata?.name, `ext-${i}-x-pairs-x-demo`);
        assert.deepEqual(copy.subsets, [{ addresses: [{ ip: backend(i) }], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }]);
      }
    }, { timeoutMs: 120_000, intervalMs: 1_000 });
    await endpoints.drain();
    assert.equal((await virtualClient.resourceFor<Endpoints>(CORE['endpoints']!).list({ namespace: 'pairs' })).items.length, PAIRS, 'still there once the syncers are idle');
  });

  it(`keeps ${PAIRS} EndpointSlices applied in one file with their Services`, async () => {
    const slices = { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', kind: 'EndpointSlice', namespaced: true };
    const uids = await applyAll('slices', (i) => `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n` +
      `metadata: {name: ext-${i}-a, namespace: slices, labels: {kubernetes.io/service-name: ext-${i}}}\n` +
      `addressType: IPv4\nendpoints: [{addresses: ["${backend(i)}"]}]\nports: [{name: pg, port: 5432}]\n`);
    await servicesSettled('slices', uids);
    await controller.drain();
    const listed = await virtualClient.resourceFor<KubeObject & { endpoints?: { addresses: string[] }[] }>(slices).list({ namespace: 'slices', labelSelector: 'endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io' });
    const user = listed.items.filter((s) => s.metadata?.name?.endsWith('-a'));
    assert.equal(user.length, PAIRS, 'no EndpointSlice lost');
    for (const slice of user) {
      const i = Number(slice.metadata?.name?.replace(/^ext-|-a$/g, ''));
      assert.deepEqual(slice.endpoints?.map((e) => e.addresses), [[backend(i)]]);
    }
  });
});
