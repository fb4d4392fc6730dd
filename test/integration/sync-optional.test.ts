import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CORE, type KubeClient, type KubeObject } from '@kubenest/kube';
import {
  ingressSyncer, networkPolicySyncer, podDisruptionBudgetSyncer, priorityClassSyncer, serviceAccountSyncer,
  type Ingress, type NetworkPolicy, type PodDisruptionBudget, type PriorityClass, type ServiceAccount,
} from '@kubenest/kubenest';
import type { SyncController } from '@kubenest/sync';
import { eventually, startSyncEnvironment, tempDir, type SyncEnvironment } from '@kubenest/testing';
// Internal: what `kubenest delete` runs against the host.
import { deleteHostObjects } from '../../packages/kubenest/src/controlplane/virtual-cluster.ts';

// The optional to-host syncers (sync.toHost.<kind>.enabled) between a real host cluster and a
// real virtual control plane, driven with kubectl on the virtual side.
describe('optional to-host syncers: ingresses, network policies, PDBs, service accounts, priority classes', () => {
  let env: SyncEnvironment;
  let hostClient: KubeClient;
  let virtualClient: KubeClient;
  let HOST_NS: string;
  const controllers: SyncController[] = [];
  const files = tempDir('kn-optional-');
  const vkubectl = async (...args: string[]): Promise<string> => {
    const result = await env.vkubectl(...args);
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  /** `kubectl create -f` (not apply: apply would add its last-applied annotation to what we compare). */
  const vcreate = async (name: string, manifest: object): Promise<void> => {
    const file = join(files.path, `${name}.json`);
    writeFileSync(file, JSON.stringify(manifest));
    await vkubectl('create', '-f', file);
  };
  const hostGet = <T extends KubeObject>(resource: string, name: string): Promise<T> =>
    hostClient.resourceFor<T>(CORE[resource]!).get(name, CORE[resource]!.namespaced ? { namespace: HOST_NS } : {});
  const virtualGet = <T extends KubeObject>(resource: string, name: string, namespace = 'default'): Promise<T> =>
    virtualClient.resourceFor<T>(CORE[resource]!).get(name, CORE[resource]!.namespaced ? { namespace } : {});
  const uidOf = async (kind: string, name: string, namespace = 'default'): Promise<string> =>
    vkubectl('get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'jsonpath={.metadata.uid}');
  /** The marker annotations every namespaced host copy carries. */
  const markers = (kind: string, name: string, uid: string, hostName: string, namespace = 'default'): Record<string, string> => ({
    'vcluster.loft.sh/object-name': name, 'vcluster.loft.sh/object-namespace': namespace, 'vcluster.loft.sh/object-uid': uid,
    'vcluster.loft.sh/object-kind': kind, 'vcluster.loft.sh/object-host-name': hostName, 'vcluster.loft.sh/object-host-namespace': HOST_NS,
  });
  const scope = (namespace = 'default') => ({ 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': namespace });

  before(async () => {
    env = await startSyncEnvironment('demo');
    ({ hostClient, virtualClient, hostNamespace: HOST_NS } = env);
    controllers.push(
      await env.startSyncer(ingressSyncer()),
      await env.startSyncer(networkPolicySyncer()),
      await env.startSyncer(podDisruptionBudgetSyncer()),
      await env.startSyncer(serviceAccountSyncer()),
      await env.startSyncer(priorityClassSyncer()),
    );
  });
  after(async () => {
    await env?.dispose();
    files.remove();
  });

  describe('Ingress', () => {
    const HOST = 'site-x-default-x-demo';

    it('creates the host copy with backends, TLS and nginx Secret annotations translated', async () => {
      await vcreate('ingress', {
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
        metadata: {
          name: 'site', namespace: 'default', labels: { app: 'site' },
          annotations: { 'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth', 'nginx.ingress.kubernetes.io/auth-tls-secret': 'certs/ca' },
        },
        spec: {
          ingressClassName: 'nginx',
          defaultBackend: { service: { name: 'fallback', port: { number: 80 } } },
          rules: [{ host: 'site.example', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { name: 'http' } } } }] } }],
          tls: [{ hosts: ['site.example'], secretName: 'site-tls' }],
        },
      });
      const uid = await uidOf('ingress', 'site');
      const host = await eventually(() => hostGet<Ingress>('ingresses', HOST));
      assert.deepEqual(host.spec, {
        ingressClassName: 'nginx',
        defaultBackend: { service: { name: 'fallback-x-default-x-demo', port: { number: 80 } } },
        rules: [{ host: 'site.example', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'api-x-default-x-demo', port: { name: 'http' } } } }] } }],
        tls: [{ hosts: ['site.example'], secretName: 'site-tls-x-default-x-demo' }],
      });
      assert.deepEqual(host.metadata?.labels, { app: 'site', ...scope() });
      assert.deepEqual(host.metadata?.annotations, {
        'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth-x-default-x-demo',
        'nginx.ingress.kubernetes.io/auth-tls-secret': `${HOST_NS}/ca-x-certs-x-demo`,
        'vcluster.loft.sh/managed-annotations': 'nginx.ingress.kubernetes.io/auth-secret\nnginx.ingress.kubernetes.io/auth-tls-secret',
        ...markers('networking.k8s.io/v1, Kind=Ingress', 'site', uid, HOST),
      });
    });

    it('carries a virtual update to the host', async () => {
      await vkubectl('patch', 'ingress', 'site', '--type=json', '-p',
        '[{"op":"replace","path":"/spec/rules/0/http/paths/0/backend/service/name","value":"api-v2"}]');
      await vkubectl('annotate', 'ingress', 'site', '--overwrite', 'nginx.ingress.kubernetes.io/auth-secret=other-auth');
      await eventually(async () => {
        const host = await hostGet<Ingress>('ingresses', HOST);
        assert.equal(host.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service?.name, 'api-v2-x-default-x-demo');
        assert.equal(host.metadata?.annotations?.['nginx.ingress.kubernetes.io/auth-secret'], 'other-auth-x-default-x-demo');
      });
    });

    it('puts back a host edit of the spec, takes ingressClassName and the status from the host', async () => {
      const ingresses = hostClient.resourceFor<Ingress>(CORE['ingresses']!);
      await ingresses.patch(HOST, 'json', [{ op: 'replace', path: '/spec/defaultBackend/service/name', value: 'someone-elses' }], { namespace: HOST_NS });
      await eventually(async () => assert.equal((await hostGet<Ingress>('ingresses', HOST)).spec?.defaultBackend?.service?.name, 'fallback-x-default-x-demo'));

      await ingresses.patch(HOST, 'merge', { spec: { ingressClassName: 'traefik' } }, { namespace: HOST_NS });
      await eventually(async () => assert.equal((await virtualGet<Ingress>('ingresses', 'site')).spec?.ingressClassName, 'traefik'));

      await ingresses.patch(HOST, 'merge', { status: { loadBalancer: { ingress: [{ ip: '127.0.0.42' }] } } }, { namespace: HOST_NS, subresource: 'status' });
      await eventually(async () => assert.deepEqual((await virtualGet<Ingress>('ingresses', 'site')).status, { loadBalancer: { ingress: [{ ip: '127.0.0.42' }] } }));
      // The virtual backend stayed the virtual name.
      assert.equal((await virtualGet<Ingress>('ingresses', 'site')).spec?.defaultBackend?.service?.name, 'fallback');
    });

    it('deletes the host copy with the virtual Ingress', async () => {
      await vkubectl('delete', 'ingress', 'site');
      await eventually(() => assert.rejects(hostGet('ingresses', HOST), /404/));
    });
  });

  describe('NetworkPolicy', () => {
    const HOST = 'web-policy-x-default-x-demo';
    const nsLabel = (key: string): string => env.ctx.meta.hostNamespaceLabelKey(key);

    it('an empty podSelector with both policy types lands as <name>-x-default-x-<vc> (vCluster e2e)', async () => {
      await vcreate('np-all', {
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
        metadata: { name: 'deny-all', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      });
      const host = await eventually(() => hostGet<NetworkPolicy>('networkpolicies', 'deny-all-x-default-x-demo'));
      assert.deepEqual(host.spec, { podSelector: { matchLabels: scope() }, policyTypes: ['Ingress', 'Egress'] });
    });

    it('translates the podSelector and peers: namespaceSelector into ns-label keys, ipBlock kept', async () => {
      await vcreate('np', {
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
        metadata: { name: 'web-policy', namespace: 'default' },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{
            from: [
              { podSelector: { matchLabels: { role: 'frontend' } }, namespaceSelector: { matchLabels: { team: 'blue' } } },
              { podSelector: { matchLabels: { role: 'monitor' } } },
              { ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.8/30'] } },
            ],
            ports: [{ protocol: 'TCP', port: 8080 }],
          }],
          egress: [{ to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }] }],
        },
      });
      const uid = await uidOf('networkpolicy', 'web-policy');
      const host = await eventually(() => hostGet<NetworkPolicy>('networkpolicies', HOST));
      assert.deepEqual(host.spec, {
        podSelector: { matchLabels: { app: 'web', ...scope() } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{
          from: [
            { podSelector: { matchLabels: { role: 'frontend', [nsLabel('team')]: 'blue', 'vcluster.loft.sh/managed-by': 'demo' } } },
            { podSelector: { matchLabels: { role: 'monitor', ...scope() } } },
            { ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.8/30'] } },
          ],
          ports: [{ protocol: 'TCP', port: 8080 }],
        }],
        egress: [{ to: [{ podSelector: { matchLabels: { 'vcluster.loft.sh/managed-by': 'demo' } } }], ports: [{ protocol: 'UDP', port: 53 }] }],
      });
      assert.equal(nsLabel('team'), 'vcluster.loft.sh/ns-label-demo-x-ca8b22d0db');
      assert.deepEqual(host.metadata?.labels, scope());
      assert.deepEqual(host.metadata?.annotations, markers('networking.k8s.io/v1, Kind=NetworkPolicy', 'web-policy', uid, HOST));
    });

    it('carries a virtual update, and puts back a host edit', async () => {
      await vkubectl('patch', 'networkpolicy', 'web-policy', '--type=merge', '-p', '{"spec":{"podSelector":{"matchLabels":{"app":"web2"}}}}');
      await eventually(async () => assert.deepEqual((await hostGet<NetworkPolicy>('networkpolicies', HOST)).spec?.podSelector, { matchLabels: { app: 'web2', ...scope() } }));
      await hostClient.resourceFor(CORE['networkpolicies']!).patch(HOST, 'merge', { spec: { podSelector: { matchLabels: { 'vcluster.loft.sh/namespace': null } } } }, { namespace: HOST_NS });
      await eventually(async () => assert.deepEqual((await hostGet<NetworkPolicy>('networkpolicies', HOST)).spec?.podSelector, { matchLabels: { app: 'web2', ...scope() } }));
    });

    it('deletes the host copy with the virtual NetworkPolicy', async () => {
      await vkubectl('delete', 'networkpolicy', 'web-policy', 'deny-all');
      await eventually(() => assert.rejects(hostGet('networkpolicies', HOST), /404/));
      await eventually(() => assert.rejects(hostGet('networkpolicies', 'deny-all-x-default-x-demo'), /404/));
    });
  });

  describe('PodDisruptionBudget', () => {
    const HOST = 'web-pdb-x-default-x-demo';

    it('creates the host copy with the selector keys translated and nothing added', async () => {
      await vkubectl('create', 'poddisruptionbudget', 'web-pdb', '--selector=app=web,release=r1', '--min-available=2');
      const uid = await uidOf('poddisruptionbudget', 'web-pdb');
      const host = await eventually(() => hostGet<PodDisruptionBudget>('poddisruptionbudgets', HOST));
      assert.deepEqual(host.spec?.selector, { matchLabels: { app: 'web', 'vcluster.loft.sh/label-demo-x-a4d451ec23': 'r1' } });
      assert.equal(host.spec?.minAvailable, 2);
      assert.equal(host.spec?.maxUnavailable, undefined);
      assert.deepEqual(host.metadata?.labels, scope());
      assert.deepEqual(host.metadata?.annotations, markers('policy/v1, Kind=PodDisruptionBudget', 'web-pdb', uid, HOST));
    });

    it('carries a virtual update, and puts back a host edit', async () => {
      await vkubectl('patch', 'poddisruptionbudget', 'web-pdb', '--type=merge', '-p', '{"spec":{"minAvailable":null,"maxUnavailable":"30%"}}');
      await eventually(async () => {
        const host = await hostGet<PodDisruptionBudget>('poddisruptionbudgets', HOST);
        assert.equal(host.spec?.maxUnavailable, '30%');
        assert.equal(host.spec?.minAvailable, undefined);
      });
      await hostClient.resourceFor(CORE['poddisruptionbudgets']!).patch(HOST, 'merge', { spec: { maxUnavailable: 5 } }, { namespace: HOST_NS });
      await eventually(async () => assert.equal((await hostGet<PodDisruptionBudget>('poddisruptionbudgets', HOST)).spec?.maxUnavailable, '30%'));
    });

    it('deletes the host copy with the virtual PDB', async () => {
      await vkubectl('delete', 'poddisruptionbudget', 'web-pdb');
      await eventually(() => assert.rejects(hostGet('poddisruptionbudgets', HOST), /404/));
    });
  });

  describe('ServiceAccount', () => {
    const HOST = 'builder-x-default-x-demo';

    it('creates an inert host copy: no secrets, no pull secrets, no token automount', async () => {
      await vcreate('sa', {
        apiVersion: 'v1', kind: 'ServiceAccount',
        metadata: { name: 'builder', namespace: 'default', annotations: { 'example.com/role': 'builder' } },
        secrets: [{ name: 'builder-token' }], imagePullSecrets: [{ name: 'registry' }], automountServiceAccountToken: true,
      });
      const uid = await uidOf('serviceaccount', 'builder');
      const host = await eventually(() => hostGet<ServiceAccount>('serviceaccounts', HOST));
      assert.equal(host.secrets, undefined);
      assert.equal(host.imagePullSecrets, undefined);
      assert.equal(host.automountServiceAccountToken, false);
      assert.deepEqual(host.metadata?.labels, scope());
      assert.deepEqual(host.metadata?.annotations, {
        'example.com/role': 'builder', 'vcluster.loft.sh/managed-annotations': 'example.com/role',
        ...markers('/v1, Kind=ServiceAccount', 'builder', uid, HOST),
      });
    });

    it('carries a virtual label to the host, and puts back a host edit of the token fields', async () => {
      await vkubectl('label', 'serviceaccount', 'builder', 'team=ci');
      await eventually(async () => assert.equal((await hostGet<ServiceAccount>('serviceaccounts', HOST)).metadata?.labels?.['team'], 'ci'));
      await hostClient.resourceFor(CORE['serviceaccounts']!).patch(HOST, 'merge', { automountServiceAccountToken: true, imagePullSecrets: [{ name: 'host-registry' }] }, { namespace: HOST_NS });
      await eventually(async () => {
        const host = await hostGet<ServiceAccount>('serviceaccounts', HOST);
        assert.equal(host.automountServiceAccountToken, false);
        assert.equal(host.imagePullSecrets, undefined);
      });
      assert.deepEqual((await virtualGet<ServiceAccount>('serviceaccounts', 'builder')).imagePullSecrets, [{ name: 'registry' }]);
    });

    it('deletes the host copy with the virtual ServiceAccount', async () => {
      await vkubectl('delete', 'serviceaccount', 'builder');
      await eventually(() => assert.rejects(hostGet('serviceaccounts', HOST), /404/));
    });
  });

  describe('PriorityClass (cluster-scoped)', () => {
    const HOST = `vcluster-high-x-${'vc-demo'}-x-demo`;
    const CLUSTER_MARKER = { 'vcluster.loft.sh/managed-by': 'vc-demo-x-demo' };
    const clusterMarkers = (name: string, uid: string, hostName: string): Record<string, string> => ({
      'vcluster.loft.sh/object-name': name, 'vcluster.loft.sh/object-uid': uid,
      'vcluster.loft.sh/object-kind': 'scheduling.k8s.io/v1, Kind=PriorityClass', 'vcluster.loft.sh/object-host-name': hostName,
    });

    it('creates the host copy by hostNameCluster, with the cluster marker and never the global default', async () => {
      assert.equal(HOST_NS, 'vc-demo');
      await vkubectl('create', 'priorityclass', 'high', '--value=1000', '--global-default=true', '--description=important', '--preemption-policy=Never');
      const uid = await uidOf('priorityclass', 'high', '');
      const host = await eventually(() => hostGet<PriorityClass>('priorityclasses', HOST));
      assert.equal(host.value, 1000);
      assert.equal(host.globalDefault ?? false, false, 'the API server omits false');
      assert.equal(host.description, 'important');
      assert.equal(host.preemptionPolicy, 'Never');
      assert.deepEqual(host.metadata?.labels, CLUSTER_MARKER);
      assert.deepEqual(host.metadata?.annotations, clusterMarkers('high', uid, HOST));
    });

    it('caps the value of the virtual system classes at 1,000,000,000', async () => {
      const name = 'vcluster-system-node-critical-x-vc-demo-x-demo';
      const host = await eventually(() => hostGet<PriorityClass>('priorityclasses', name));
      assert.equal((await virtualGet<PriorityClass>('priorityclasses', 'system-node-critical')).value, 2_000_001_000);
      assert.equal(host.value, 1_000_000_000);
      assert.deepEqual(host.metadata?.labels, CLUSTER_MARKER);
    });

    it('carries the description both ways and puts back a removed marker', async () => {
      await vkubectl('patch', 'priorityclass', 'high', '--type=merge', '-p', '{"description":"from virtual"}');
      await eventually(async () => assert.equal((await hostGet<PriorityClass>('priorityclasses', HOST)).description, 'from virtual'));
      const classes = hostClient.resourceFor<PriorityClass>(CORE['priorityclasses']!);
      await classes.patch(HOST, 'merge', { description: 'from host' });
      await eventually(async () => assert.equal((await virtualGet<PriorityClass>('priorityclasses', 'high')).description, 'from host'));
      await classes.patch(HOST, 'json', [{ op: 'remove', path: '/metadata/annotations/vcluster.loft.sh~1object-kind' }]);
      await eventually(async () => assert.equal((await hostGet<PriorityClass>('priorityclasses', HOST)).metadata?.annotations?.['vcluster.loft.sh/object-kind'], 'scheduling.k8s.io/v1, Kind=PriorityClass'));
    });

    it('recreates a host copy deleted out of band, and deletes it with the virtual class', async () => {
      const classes = hostClient.resourceFor<PriorityClass>(CORE['priorityclasses']!);
      const before = await hostGet<PriorityClass>('priorityclasses', HOST);
      await classes.delete(HOST);
      await eventually(async () => assert.notEqual((await hostGet<PriorityClass>('priorityclasses', HOST)).metadata?.uid, before.metadata?.uid));
      await vkubectl('delete', 'priorityclass', 'high');
      await eventually(() => assert.rejects(hostGet('priorityclasses', HOST), /404/));
    });
  });
  it('settles once both sides agree, and kubenest delete removes every host copy (priority classes by the cluster marker)', async () => {
    await vcreate('last-ingress', { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'last', namespace: 'default' }, spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } } });
    await vcreate('last-np', { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'last', namespace: 'default' }, spec: { podSelector: {} } });
    await vkubectl('create', 'poddisruptionbudget', 'last', '--selector=app=web', '--max-unavailable=1');
    await vkubectl('create', 'serviceaccount', 'last');
    await vkubectl('create', 'priorityclass', 'last', '--value=10');
    const namespaced = ['ingresses', 'networkpolicies', 'poddisruptionbudgets', 'serviceaccounts'];
    for (const resource of namespaced) await eventually(() => hostGet(resource, 'last-x-default-x-demo'));
    await eventually(() => hostGet('priorityclasses', 'vcluster-last-x-vc-demo-x-demo'));

    // A syncer that fights itself (say, over a field the API server normalises) keeps writing.
    const writes = (): number => controllers.reduce((sum, c) => sum + c.stats.created + c.stats.updated + c.stats.deleted, 0);
    await Promise.all(controllers.map((c) => c.drain()));
    const settled = writes();
    await sleep(3_000);
    await Promise.all(controllers.map((c) => c.drain()));
    assert.equal(writes(), settled, 'no writes once both sides agree');

    // Stopped first, as `kubenest delete` stops the virtual cluster before cleaning up.
    for (const controller of controllers) await controller.stop();
    const hostPriorityClasses = async (): Promise<string[]> =>
      (await hostClient.resourceFor(CORE['priorityclasses']!).list({ labelSelector: 'vcluster.loft.sh/managed-by=vc-demo-x-demo' })).items.map((pc) => pc.metadata?.name ?? '').sort();
    assert.deepEqual(await hostPriorityClasses(), [
      'vcluster-last-x-vc-demo-x-demo', 'vcluster-system-cluster-critical-x-vc-demo-x-demo', 'vcluster-system-node-critical-x-vc-demo-x-demo',
    ]);
    await deleteHostObjects(hostClient, {
      name: 'demo', hostNamespace: HOST_NS, hostKubeconfig: env.host.kubeconfig, createdNamespace: false, serviceCidr: '', values: {}, createdAt: '',
    });
    for (const resource of namespaced) {
      const left = await hostClient.resourceFor(CORE[resource]!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/managed-by=demo' });
      assert.deepEqual(left.items.map((o) => o.metadata?.name), [], resource);
    }
    assert.deepEqual(await hostPriorityClasses(), []);
    // The host's own classes are untouched.
    assert.equal((await hostGet<PriorityClass>('priorityclasses', 'system-node-critical')).value, 2_000_001_000);
  });
});
