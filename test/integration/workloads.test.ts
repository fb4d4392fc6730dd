import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORE, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { cliSandbox, createThroughOutage, eventually, killProcess, pidAlive, readPidFile, run, type CliSandbox, type CommandResult } from '@kubenest/testing';

type Pod = KubeObject & {
  spec?: {
    nodeName?: string; containers: { name?: string; image?: string; env?: { name: string; value?: string; valueFrom?: unknown }[]; envFrom?: unknown[] }[];
    volumes?: Record<string, unknown>[]; serviceAccountName?: string; dnsConfig?: { nameservers?: string[] }; imagePullSecrets?: { name: string }[];
  };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
};

const HOST_NS = 'vcluster-demo';

/**
 * Workloads in a virtual cluster started by the CLI on a local host with two kwok nodes:
 * Deployments, references, tokens, the host-access policy and crash safety, seen through kubectl
 * on both sides.
 */
describe('workloads in a virtual cluster', () => {
  let sandbox: CliSandbox;
  let virtual: KubeClient;
  let host: KubeClient;
  const vk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), ...args]);
  const hk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), ...args]);
  const ok = async (result: Promise<CommandResult>): Promise<string> => {
    const done = await result;
    assert.equal(done.code, 0, done.stderr);
    return done.stdout;
  };
  const hostPods = async (namespace: string): Promise<Pod[]> =>
    (await host.resourceFor<Pod>(CORE['pods']!).list({ namespace: HOST_NS, labelSelector: `vcluster.loft.sh/namespace=${namespace}` })).items;
  const virtualPods = async (namespace: string): Promise<Pod[]> => (await virtual.resourceFor<Pod>(CORE['pods']!).list({ namespace })).items;

  before(async () => {
    sandbox = await cliSandbox('kn-workloads-');
    assert.equal((await sandbox.cli('host', 'up', '--nodes', '2')).code, 0);
    const created = await sandbox.cli('create', 'demo', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
    assert.equal(created.code, 0, created.stderr);
    virtual = new KubeClient(loadKubeconfig(join(sandbox.vclustersDir, 'demo', 'kubeconfig')), { qps: Infinity });
    host = new KubeClient(loadKubeconfig(join(sandbox.hostDir, 'kubeconfig')), { qps: Infinity });
  });
  after(async () => {
    await virtual?.close();
    await host?.close();
    await sandbox?.dispose(['demo']);
  });

  it('a Deployment runs on the host: Running virtual pods on virtual nodes, host pods with exact names and markers; scale, rollout, namespace delete', async () => {
    await ok(vk('create', 'namespace', 'apps'));
    await ok(vk('-n', 'apps', 'create', 'deployment', 'web', '--image=nginx:1.26', '--replicas=3'));
    await ok(vk('-n', 'apps', 'rollout', 'status', 'deployment/web', '--timeout=120s'));
    const pods = await virtualPods('apps');
    assert.equal(pods.length, 3);
    const nodes = JSON.parse(await ok(vk('get', 'nodes', '-o', 'json'))) as { items: KubeObject[] };
    const nodeNames = new Set(nodes.items.map((n) => n.metadata!.name));
    for (const pod of pods) {
      assert.equal(pod.status?.phase, 'Running');
      assert.ok(pod.spec?.nodeName && nodeNames.has(pod.spec.nodeName), `${pod.metadata?.name} is bound to a virtual node (${pod.spec?.nodeName})`);
    }
    for (const node of nodes.items) assert.equal(node.metadata?.labels?.['vcluster.loft.sh/fake-node'], 'true');

    const onHost = await hostPods('apps');
    assert.deepEqual(onHost.map((p) => p.metadata!.name).sort(), pods.map((p) => `${p.metadata!.name}-x-apps-x-demo`).sort());
    for (const hostPod of onHost) {
      const original = pods.find((p) => `${p.metadata!.name}-x-apps-x-demo` === hostPod.metadata!.name)!;
      assert.equal(hostPod.metadata?.labels?.['vcluster.loft.sh/managed-by'], 'demo');
      assert.equal(hostPod.metadata?.labels?.['app'], 'web');
      assert.equal(hostPod.metadata?.annotations?.['vcluster.loft.sh/object-name'], original.metadata!.name);
      assert.equal(hostPod.metadata?.annotations?.['vcluster.loft.sh/object-namespace'], 'apps');
      assert.equal(hostPod.metadata?.annotations?.['vcluster.loft.sh/object-uid'], original.metadata!.uid);
      assert.equal(hostPod.metadata?.annotations?.['vcluster.loft.sh/owner-set-kind'], 'ReplicaSet');
      assert.equal(hostPod.spec?.serviceAccountName, 'vc-workload-demo');
      assert.equal(hostPod.spec?.nodeName, original.spec?.nodeName, 'the virtual pod is bound where the host scheduled it');
    }

    await ok(vk('-n', 'apps', 'scale', 'deployment/web', '--replicas=5'));
    await ok(vk('-n', 'apps', 'rollout', 'status', 'deployment/web', '--timeout=120s'));
    await eventually(async () => assert.equal((await hostPods('apps')).filter((p) => p.status?.phase === 'Running').length, 5));

    await ok(vk('-n', 'apps', 'set', 'image', 'deployment/web', 'nginx=nginx:1.27'));
    await ok(vk('-n', 'apps', 'rollout', 'status', 'deployment/web', '--timeout=120s'));
    await eventually(async () => {
      const images = (await hostPods('apps')).map((p) => p.spec!.containers[0]!.image);
      assert.deepEqual(images, Array(5).fill('nginx:1.27'));
    }, { timeoutMs: 90_000 });

    await ok(vk('-n', 'apps', 'scale', 'deployment/web', '--replicas=0'));
    await eventually(async () => {
      assert.equal((await virtualPods('apps')).length, 0);
      assert.equal((await hostPods('apps')).length, 0);
      // Fake nodes stay only where a pod of this virtual cluster (CoreDNS) still runs.
      const all = (await virtual.resourceFor<Pod>(CORE['pods']!).list()).items;
      const used = [...new Set(all.map((p) => p.spec?.nodeName).filter(Boolean))].sort();
      const shown = JSON.parse(await ok(vk('get', 'nodes', '-o', 'json'))) as { items: KubeObject[] };
      assert.deepEqual(shown.items.map((n) => n.metadata!.name).sort(), used);
    }, { timeoutMs: 90_000 });

    await ok(vk('-n', 'apps', 'scale', 'deployment/web', '--replicas=2'));
    await ok(vk('-n', 'apps', 'rollout', 'status', 'deployment/web', '--timeout=120s'));
    await ok(vk('delete', 'namespace', 'apps', '--timeout=120s'));
    await eventually(async () => {
      const left = await host.resourceFor(CORE['pods']!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/namespace=apps' });
      const leftConfigMaps = await host.resourceFor(CORE['configmaps']!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/namespace=apps' });
      assert.deepEqual([...left.items, ...leftConfigMaps.items].map((o) => o.metadata?.name), []);
    }, { timeoutMs: 90_000 });
  });

  it('references name only this virtual cluster\'s objects; tokens come from the virtual API; DNS and services as kubelet would give them', async () => {
    await ok(vk('create', 'namespace', 'refs'));
    await ok(vk('-n', 'refs', 'create', 'configmap', 'settings', '--from-literal=mode=fast'));
    await ok(vk('-n', 'refs', 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret'));
    await ok(vk('-n', 'refs', 'create', 'service', 'clusterip', 'backend', '--tcp=8080:80'));
    const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'refs' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
    const claimed = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(claim) });
    assert.equal(claimed.code, 0, claimed.stderr);
    // A Secret that exists only on the host, under the very name the pod asks for.
    await ok(hk('-n', HOST_NS, 'create', 'secret', 'generic', 'host-only', '--from-literal=x=y'));
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reader', namespace: 'refs' },
      spec: {
        containers: [{
          name: 'app', image: 'busybox',
          env: [{ name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } }, { name: 'MY_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          envFrom: [{ secretRef: { name: 'creds' } }],
        }],
        volumes: [
          { name: 'config', configMap: { name: 'settings' } },
          { name: 'secret', secret: { secretName: 'creds' } },
          { name: 'sneaky', secret: { secretName: 'host-only', optional: true } },
          { name: 'other-vcluster', secret: { secretName: 'creds-x-refs-x-other', optional: true } },
          { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
        ],
      },
    };
    const created = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(pod) });
    assert.equal(created.code, 0, created.stderr);
    await eventually(async () => assert.equal((await virtualPods('refs'))[0]?.status?.phase, 'Running'), { timeoutMs: 60_000 });

    const hostPod = await host.resourceFor<Pod>(CORE['pods']!).get('reader-x-refs-x-demo', { namespace: HOST_NS });
    const volumes = Object.fromEntries((hostPod.spec?.volumes ?? []).map((v) => [v['name'] as string, v]));
    assert.deepEqual(volumes['config']?.['configMap'], { name: 'settings-x-refs-x-demo', defaultMode: 420 });
    assert.equal((volumes['secret']?.['secret'] as { secretName: string }).secretName, 'creds-x-refs-x-demo');
    assert.equal((volumes['sneaky']?.['secret'] as { secretName: string }).secretName, 'host-only-x-refs-x-demo', 'a host-only Secret cannot be named');
    assert.equal((volumes['other-vcluster']?.['secret'] as { secretName: string }).secretName, 'creds-x-refs-x-other-x-refs-x-demo', 'another virtual cluster\'s Secret cannot be named');
    assert.deepEqual(volumes['data']?.['persistentVolumeClaim'], { claimName: 'data-x-refs-x-demo' });
    // The claim itself went to the host, was bound there, and the virtual claim shows it.
    await eventually(async () => {
      assert.equal(await ok(hk('-n', HOST_NS, 'get', 'pvc', 'data-x-refs-x-demo', '-o', 'jsonpath={.status.phase}')), 'Bound');
      assert.equal(await ok(vk('-n', 'refs', 'get', 'pvc', 'data', '-o', 'jsonpath={.status.phase}')), 'Bound');
    }, { timeoutMs: 60_000 });
    const env = hostPod.spec!.containers[0]!.env!;
    assert.deepEqual(env.find((e) => e.name === 'MODE')?.valueFrom, { configMapKeyRef: { name: 'settings-x-refs-x-demo', key: 'mode' } });
    assert.deepEqual(env.find((e) => e.name === 'MY_NAME')?.valueFrom, { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['vcluster.loft.sh/name']" } });
    assert.deepEqual(hostPod.spec!.containers[0]!.envFrom, [{ secretRef: { name: 'creds-x-refs-x-demo' } }]);

    // Service environment and DNS point at the virtual cluster's objects on the host.
    const backendIp = await ok(vk('-n', 'refs', 'get', 'service', 'backend', '-o', 'jsonpath={.spec.clusterIP}'));
    assert.equal(env.find((e) => e.name === 'BACKEND_SERVICE_HOST')?.value, backendIp);
    const kubeIp = await ok(hk('-n', HOST_NS, 'get', 'service', 'demo', '-o', 'jsonpath={.spec.clusterIP}'));
    assert.equal(env.find((e) => e.name === 'KUBERNETES_SERVICE_HOST')?.value, kubeIp);
    assert.equal(await ok(vk('get', 'service', 'kubernetes', '-o', 'jsonpath={.spec.clusterIP}')), kubeIp, 'virtual default/kubernetes has the host Service\'s IP');
    const dnsIp = await ok(hk('-n', HOST_NS, 'get', 'service', 'kube-dns-x-kube-system-x-demo', '-o', 'jsonpath={.spec.clusterIP}'));
    assert.deepEqual(hostPod.spec?.dnsConfig?.nameservers, [dnsIp]);

    // The referenced ConfigMap and Secret (and only those) reached the host.
    await eventually(async () => {
      assert.equal(await ok(hk('-n', HOST_NS, 'get', 'configmap', 'settings-x-refs-x-demo', '-o', 'jsonpath={.data.mode}')), 'fast');
      assert.equal(await ok(hk('-n', HOST_NS, 'get', 'secret', 'creds-x-refs-x-demo', '-o', 'jsonpath={.data.password}')), Buffer.from('s3cret').toString('base64'));
    });

    // The projected token is the virtual API's, bound to the virtual pod: the virtual API accepts it, the host's does not.
    const tokenAnnotation = Object.entries(hostPod.metadata?.annotations ?? {}).find(([key]) => key.startsWith('vcluster.loft.sh/token-'));
    assert.ok(tokenAnnotation, 'the host pod carries its token in an annotation');
    const review = (client: KubeClient) => client.rest.request<{ status?: { authenticated?: boolean; user?: { username?: string } } }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tokenAnnotation[1] } },
    });
    const virtualReview = await review(virtual);
    assert.equal(virtualReview.status?.authenticated, true);
    assert.equal(virtualReview.status?.user?.username, 'system:serviceaccount:refs:default');
    assert.notEqual((await review(host)).status?.authenticated, true);
    const tokenVolume = (hostPod.spec?.volumes ?? []).find((v) => String(v['name']).startsWith('kube-api-access-'));
    assert.match(JSON.stringify(tokenVolume), new RegExp(`metadata.annotations\\['${tokenAnnotation[0]}'\\]`));

    // A pod deleted on the host is deleted in the virtual cluster (it is not started twice).
    await ok(hk('-n', HOST_NS, 'delete', 'pod', 'reader-x-refs-x-demo', '--wait=false'));
    await eventually(async () => assert.deepEqual((await virtualPods('refs')).map((p) => p.metadata?.name), []), { timeoutMs: 60_000 });
    assert.deepEqual((await hostPods('refs')).map((p) => p.metadata?.name), []);
  });

  it('a StatefulSet pod keeps its virtual FQDN: on the host an init container rewrites /etc/hosts, which the virtual pod never shows', async () => {
    await ok(vk('create', 'namespace', 'data'));
    const manifests = {
      apiVersion: 'v1', kind: 'List', items: [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'data' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] } },
        {
          apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'data' },
          spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'pg', image: 'postgres' }] } } },
        },
      ],
    };
    const applied = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'apply', '-f', '-'], { input: JSON.stringify(manifests) });
    assert.equal(applied.code, 0, applied.stderr);
    await ok(vk('-n', 'data', 'rollout', 'status', 'statefulset/db', '--timeout=120s'));

    type FullPod = Pod & { spec: { hostname?: string; subdomain?: string; initContainers?: { name: string; args?: string[] }[]; containers: { volumeMounts?: unknown[] }[] }; status: { qosClass?: string; initContainerStatuses?: unknown[] } };
    const hostPod = (await host.resourceFor<FullPod>(CORE['pods']!).get('db-0-x-data-x-demo', { namespace: HOST_NS }));
    assert.equal(hostPod.spec.hostname, 'db-0');
    assert.equal(hostPod.spec.subdomain, undefined);
    assert.deepEqual(hostPod.spec.initContainers?.map((c) => c.name), ['vcluster-rewrite-hosts']);
    assert.match(hostPod.spec.initContainers[0]!.args![1]!, /db-0\$\/\\1 db-0\.db\.data\.svc\.cluster\.local db-0\//);
    assert.deepEqual(hostPod.spec.containers[0]!.volumeMounts?.at(-1), { mountPath: '/etc/hosts', name: 'vcluster-rewrite-hosts', subPath: 'hosts' });
    assert.equal(hostPod.metadata?.annotations?.['vcluster.loft.sh/hosts-rewritten'], 'true');

    const virtualPod = await virtual.resourceFor<FullPod>(CORE['pods']!).get('db-0', { namespace: 'data' });
    assert.equal(virtualPod.status.phase, 'Running');
    assert.equal(virtualPod.spec.subdomain, 'db');
    assert.equal(virtualPod.spec.initContainers, undefined);
    assert.equal(virtualPod.status.initContainerStatuses, undefined, 'the host-only init container does not show');
    assert.equal(virtualPod.status.qosClass, 'BestEffort', 'the host pod is Burstable because of the init container; the virtual one keeps its class');
    assert.equal(virtualPod.metadata?.annotations?.['vcluster.loft.sh/hosts-rewritten'], undefined);
    await ok(vk('delete', 'namespace', 'data', '--timeout=120s'));
  });

  it('a pod with a scheduling gate waits on the host too, and runs once the gate is removed in the virtual cluster', async () => {
    const gated = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'gated', namespace: 'default' }, spec: { schedulingGates: [{ name: 'example.com/quota' }], containers: [{ name: 'app', image: 'nginx' }] } };
    const created = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(gated) });
    assert.equal(created.code, 0, created.stderr);
    type GatedPod = Pod & { spec: { schedulingGates?: { name: string }[] } };
    const hostGated = (): Promise<GatedPod> => host.resourceFor<GatedPod>(CORE['pods']!).get('gated-x-default-x-demo', { namespace: HOST_NS });
    await eventually(async () => assert.deepEqual((await hostGated()).spec.schedulingGates, [{ name: 'example.com/quota' }]));
    assert.equal((await hostGated()).spec.nodeName, undefined, 'the host does not schedule a gated pod');
    await ok(vk('patch', 'pod', 'gated', '--type=json', '-p', '[{"op":"remove","path":"/spec/schedulingGates"}]'));
    await eventually(async () => assert.equal((await virtual.resourceFor<Pod>(CORE['pods']!).get('gated', { namespace: 'default' })).status?.phase, 'Running'), { timeoutMs: 60_000 });
    assert.equal((await hostGated()).spec.schedulingGates, undefined);
    await ok(vk('delete', 'pod', 'gated', '--timeout=60s'));
  });

  it('kubectl debug adds an ephemeral container to the host pod; a privileged one is refused with an event', async () => {
    await ok(vk('run', 'debuggee', '--image=nginx'));
    await eventually(async () => assert.equal((await virtual.resourceFor<Pod>(CORE['pods']!).get('debuggee', { namespace: 'default' })).status?.phase, 'Running'), { timeoutMs: 60_000 });
    await ok(vk('debug', 'debuggee', '--image=busybox:1.36', '-c', 'dbg', '--target=debuggee'));
    type Debugged = Pod & { spec: { ephemeralContainers?: { name: string; image?: string; targetContainerName?: string; env?: { name: string }[]; securityContext?: { privileged?: boolean } }[] } };
    const hostDebugged = (): Promise<Debugged> => host.resourceFor<Debugged>(CORE['pods']!).get('debuggee-x-default-x-demo', { namespace: HOST_NS });
    const added = await eventually(async () => {
      const dbg = (await hostDebugged()).spec.ephemeralContainers?.find((c) => c.name === 'dbg');
      assert.ok(dbg, 'the host pod has the debug container');
      return dbg;
    });
    assert.equal(added.image, 'busybox:1.36');
    assert.equal(added.targetContainerName, 'debuggee');
    assert.ok(added.env?.some((e) => e.name === 'KUBERNETES_SERVICE_HOST'), 'it gets the virtual cluster\'s service environment');

    await ok(vk('debug', 'debuggee', '--image=busybox:1.36', '-c', 'root', '--profile=sysadmin'));
    await eventually(async () => {
      const events = await ok(vk('get', 'events', '--field-selector', 'involvedObject.name=debuggee,reason=HostAccessRefused', '-o', 'jsonpath={.items[*].message}'));
      assert.match(events, /privileged ephemeral container root/);
    });
    assert.deepEqual((await hostDebugged()).spec.ephemeralContainers?.map((c) => c.name), ['dbg'], 'the privileged one never reached the host');
    await ok(vk('delete', 'pod', 'debuggee', '--timeout=60s'));
  });

  it('an in-place resize of a virtual pod resizes the host pod', async () => {
    const sized = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'sized', namespace: 'default' },
      spec: { containers: [{ name: 'app', image: 'nginx', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } } }] },
    };
    const created = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(sized) });
    assert.equal(created.code, 0, created.stderr);
    await eventually(async () => assert.equal((await virtual.resourceFor<Pod>(CORE['pods']!).get('sized', { namespace: 'default' })).status?.phase, 'Running'), { timeoutMs: 60_000 });
    type Sized = Pod & { spec: { containers: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[] }; status: { containerStatuses?: { resources?: unknown }[] } };
    // The API allows a resize only once a kubelet has reported container resources; kwok does
    // not, so the test reports them on the host pod as a 1.36 kubelet would. They come back.
    const hostPods = host.resourceFor<Sized>(CORE['pods']!);
    const running = await hostPods.get('sized-x-default-x-demo', { namespace: HOST_NS });
    running.status.containerStatuses![0]!.resources = running.spec.containers[0]!.resources;
    await hostPods.updateStatus(running);
    await eventually(async () => assert.ok((await virtual.resourceFor<Sized>(CORE['pods']!).get('sized', { namespace: 'default' })).status.containerStatuses?.[0]?.resources));

    await virtual.resourceFor<Pod>(CORE['pods']!).patch('sized', 'strategic', { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '150m' } } }] } }, { namespace: 'default', subresource: 'resize' });
    await eventually(async () => {
      const hostPod = await host.resourceFor<Sized>(CORE['pods']!).get('sized-x-default-x-demo', { namespace: HOST_NS });
      assert.deepEqual(hostPod.spec.containers[0]!.resources, { requests: { cpu: '150m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } });
    });
    await ok(vk('delete', 'pod', 'sized', '--timeout=60s'));
  });

  it('a pod asking for hostPath or privileged is refused with a reason visible in the virtual cluster', async () => {
    await ok(vk('create', 'namespace', 'sec'));
    const privileged = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root', namespace: 'sec' },
      spec: {
        containers: [{ name: 'app', image: 'busybox', securityContext: { privileged: true } }],
        volumes: [{ name: 'disk', hostPath: { path: '/' } }],
      },
    };
    const created = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(privileged) });
    assert.equal(created.code, 0, created.stderr);
    await eventually(async () => {
      const pod = (await virtualPods('sec'))[0]!;
      const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
      assert.equal(scheduled?.reason, 'HostAccessRefused');
      assert.match(scheduled?.message ?? '', /volume disk: hostPath/);
      assert.match(scheduled?.message ?? '', /containers app: privileged/);
    });
    const events = await ok(vk('-n', 'sec', 'get', 'events', '--field-selector', 'involvedObject.name=root', '-o', 'jsonpath={.items[*].reason}'));
    assert.match(events, /HostAccessRefused/);
    assert.deepEqual((await hostPods('sec')).map((p) => p.metadata?.name), [], 'nothing reached the host');
    await ok(vk('-n', 'sec', 'delete', 'pod', 'root', '--timeout=60s'));
  });

  it('kill -9 of the syncer while 200 pods are created and deleted: once it is back by itself, both sides agree exactly', async () => {
    await ok(vk('create', 'namespace', 'churn'));
    const runDir = join(sandbox.vclustersDir, 'demo', 'run');
    const supervisor = readPidFile(join(runDir, 'supervisor.pid')) ?? assert.fail(`no supervisor.pid in ${runDir}`);
    const pods = virtual.resourceFor<Pod>(CORE['pods']!);
    let next = 0;
    let killed = false;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < 200) {
        const i = next++;
        // The virtual API goes down with its supervisor until the keeper has replaced both (ADR 16).
        await createThroughOutage(() => pods.create({ metadata: { name: `p-${i}`, namespace: 'churn' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }));
        // Every third pod is deleted again soon after, some before the syncer saw it.
        if (i % 3 === 0) await pods.delete(`p-${i - (i >= 3 ? 3 : 0)}`, { namespace: 'churn' }).catch(() => {});
        if (i === 100 && !killed) {
          killed = true;
          killProcess(supervisor, 'SIGKILL');
        }
      }
    }));
    assert.ok(killed);
    await eventually(() => assert.equal(pidAlive(supervisor), false));
    await eventually(async () => {
      const rows = JSON.parse((await sandbox.cli('list', '--json')).stdout) as { name: string; status: string; supervisorRestarts: number }[];
      assert.deepEqual(rows.map((r) => [r.name, r.status, r.supervisorRestarts]), [['demo', 'running', 1]]);
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
    await virtual.close();
    virtual = new KubeClient(loadKubeconfig(join(sandbox.vclustersDir, 'demo', 'kubeconfig')), { qps: Infinity });

    await eventually(async () => {
      const live = (await virtualPods('churn')).filter((p) => !p.metadata?.deletionTimestamp);
      const expected = live.map((p) => `${p.metadata!.name}-x-churn-x-demo`).sort();
      const actual = (await hostPods('churn')).filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!).sort();
      assert.equal((await virtualPods('churn')).length, live.length, 'no virtual pod is stuck terminating');
      assert.deepEqual(actual, expected);
      assert.ok(live.every((p) => p.status?.phase === 'Running'), 'every remaining virtual pod is Running');
    }, { timeoutMs: 180_000, intervalMs: 2_000 });
  });
});
