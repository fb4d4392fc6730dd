import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORE, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { cliSandbox, eventually, run, tempDir, testHelm, type CliSandbox, type CommandResult } from '@kubenest/testing';

type ContainerStatus = { name: string; restartCount?: number; state?: { terminated?: { exitCode: number; reason?: string } }; lastState?: { terminated?: { exitCode: number } } };
type Pod = KubeObject & {
  spec?: { restartPolicy?: string };
  status?: { phase?: string; containerStatuses?: ContainerStatus[]; conditions?: { type: string; status: string; reason?: string }[] };
};
type Job = KubeObject & {
  status?: { succeeded?: number; failed?: number; active?: number; conditions?: { type: string; status: string; reason?: string }[] };
};

const HOST_NS = 'vcluster-demo';
const RUN_TO_COMPLETION = 'kubenest.dev/run-to-completion';
const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';

/**
 * Workloads that run to completion in a virtual cluster on the local host (issue 13): Jobs,
 * CronJobs, one-shot pods and Helm's hooks end as kwok ends the host's own Job pods, fail where
 * the host is told to fail them, and their status reaches the virtual controllers. Real clients:
 * kubectl and the helm CLI.
 */
describe('workloads that run to completion', () => {
  let sandbox: CliSandbox;
  let virtual: KubeClient;
  let host: KubeClient;
  let vkubeconfig: string;
  const vk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', vkubeconfig, ...args], { timeoutMs: 300_000 });
  const ok = async (result: Promise<CommandResult>): Promise<string> => {
    const done = await result;
    assert.equal(done.code, 0, `exit ${done.code}: ${done.stderr}${done.stdout}`);
    return done.stdout;
  };
  const virtualPods = async (namespace: string, labelSelector: string): Promise<Pod[]> =>
    (await virtual.resourceFor<Pod>(CORE['pods']!).list({ namespace, labelSelector })).items;
  const hostPod = async (namespace: string, name: string): Promise<Pod> =>
    host.resourceFor<Pod>(CORE['pods']!).get(`${name}-x-${namespace}-x-demo`, { namespace: HOST_NS });
  const job = async (namespace: string, name: string): Promise<Job> => JSON.parse(await ok(vk('-n', namespace, 'get', 'job', name, '-o', 'json'))) as Job;
  const apply = (manifest: object): Promise<string> => ok(run('kubectl', ['--kubeconfig', vkubeconfig, 'apply', '-f', '-'], { input: JSON.stringify(manifest) }));

  before(async () => {
    sandbox = await cliSandbox('kn-jobs-');
    const up = await sandbox.cli('host', 'up', '--nodes', '1');
    assert.equal(up.code, 0, up.stderr);
    const created = await sandbox.cli('create', 'demo', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
    assert.equal(created.code, 0, created.stderr);
    vkubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
    virtual = new KubeClient(loadKubeconfig(vkubeconfig), { qps: Infinity });
    host = new KubeClient(loadKubeconfig(join(sandbox.hostDir, 'kubeconfig')), { qps: Infinity });
  });
  after(async () => {
    await virtual?.close();
    await host?.close();
    await sandbox?.dispose(['demo']);
  });

  it('kubectl create job, then kubectl wait --for=condition=complete; the pod\'s end reaches the virtual cluster', async () => {
    await ok(vk('create', 'job', 'j1', '--image=busybox', '--', 'echo', 'hi'));
    await ok(vk('wait', '--for=condition=complete', 'job/j1', '--timeout=240s'));
    assert.equal((await job('default', 'j1')).status?.succeeded, 1);

    const [pod] = await virtualPods('default', 'job-name=j1');
    assert.ok(pod, 'the Job\'s pod is still there');
    assert.equal(pod.status?.phase, 'Succeeded');
    const [status] = pod.status?.containerStatuses ?? [];
    assert.equal(status?.state?.terminated?.exitCode, 0);
    assert.equal(status?.state?.terminated?.reason, 'Completed');

    const onHost = await hostPod('default', pod.metadata!.name!);
    assert.equal(onHost.metadata?.annotations?.[RUN_TO_COMPLETION], 'Job', 'decided from the virtual owner: the host pod has none');
    assert.equal(onHost.metadata?.ownerReferences, undefined);
    assert.equal(onHost.status?.phase, 'Succeeded');
  });

  it('a Job with completions: 5, parallelism: 2 counts five completions', async () => {
    await ok(vk('create', 'namespace', 'batch'));
    await apply({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'five', namespace: 'batch' },
      spec: {
        completions: 5, parallelism: 2, backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'busybox', command: ['sh', '-c', 'echo work'] }] } },
      },
    });
    await ok(vk('-n', 'batch', 'wait', '--for=condition=complete', 'job/five', '--timeout=300s'));
    const done = await job('batch', 'five');
    assert.equal(done.status?.succeeded, 5);
    assert.equal(done.status?.failed ?? 0, 0);
    const pods = await virtualPods('batch', 'job-name=five');
    assert.equal(pods.length, 5, pods.map((p) => `${p.metadata?.name} ${p.status?.phase}`).join(', '));
    for (const pod of pods) assert.equal(pod.status?.phase, 'Succeeded', pod.metadata?.name);
  });

  it('a CronJob\'s first run completes', async () => {
    await ok(vk('create', 'cronjob', 'tick', '--image=busybox', '--schedule=* * * * *', '--', 'date'));
    // The controller starts the first run at the next whole minute.
    const first = await eventually(async () => {
      const jobs = JSON.parse(await ok(vk('get', 'jobs', '-o', 'json'))) as { items: Job[] };
      const owned = jobs.items.find((j) => (j.metadata?.ownerReferences as { kind?: string; name?: string }[] | undefined)?.some((o) => o.kind === 'CronJob' && o.name === 'tick'));
      assert.ok(owned, 'the CronJob has not started a Job yet');
      return owned.metadata!.name!;
    }, { timeoutMs: 150_000, intervalMs: 1_000 });
    await ok(vk('wait', '--for=condition=complete', `job/${first}`, '--timeout=240s'));
    const lastSuccess = await eventually(async () => {
      const cron = JSON.parse(await ok(vk('get', 'cronjob', 'tick', '-o', 'json'))) as KubeObject & { status?: { lastSuccessfulTime?: string } };
      assert.ok(cron.status?.lastSuccessfulTime, 'the CronJob records its successful run');
      return cron.status.lastSuccessfulTime;
    }, { timeoutMs: 60_000 });
    assert.ok(lastSuccess);
    await ok(vk('delete', 'cronjob', 'tick'));
  });

  it('fails where the host fails it: kwok\'s failure label ends a Never pod Failed with its exit code, and restarts an OnFailure one until the Job gives up', async () => {
    await apply({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'broken', namespace: 'batch' },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { [FAIL_LABEL]: 'true' }, annotations: { [`${FAIL_LABEL}/exit-code`]: '3' } },
          spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'busybox', command: ['false'] }] },
        },
      },
    });
    await ok(vk('-n', 'batch', 'wait', '--for=condition=failed', 'job/broken', '--timeout=240s'));
    const broken = await job('batch', 'broken');
    assert.equal(broken.status?.succeeded ?? 0, 0);
    assert.equal(broken.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'BackoffLimitExceeded');
    const [pod] = await virtualPods('batch', 'job-name=broken');
    assert.ok(pod);
    assert.equal(pod.status?.phase, 'Failed');
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);

    await apply({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'flaky', namespace: 'batch' },
      spec: {
        backoffLimit: 2,
        template: {
          metadata: { labels: { [FAIL_LABEL]: 'true' } },
          spec: { restartPolicy: 'OnFailure', containers: [{ name: 'work', image: 'busybox', command: ['false'] }] },
        },
      },
    });
    // kubelet restarts OnFailure containers in place and the pod stays Running; the Job counts the
    // restarts against backoffLimit, so BackoffLimitExceeded can only come from restarts.
    await ok(vk('-n', 'batch', 'wait', '--for=condition=failed', 'job/flaky', '--timeout=240s'));
    const flaky = await job('batch', 'flaky');
    assert.equal(flaky.status?.succeeded ?? 0, 0);
    assert.equal(flaky.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'BackoffLimitExceeded');

    // A standalone OnFailure pod restarts in place until deleted; the restarts reach the virtual pod.
    await apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crashing', namespace: 'batch', labels: { [FAIL_LABEL]: 'true' } },
      spec: { restartPolicy: 'OnFailure', containers: [{ name: 'work', image: 'busybox', command: ['false'] }] },
    });
    await eventually(async () => {
      const crashing = await virtual.resourceFor<Pod>(CORE['pods']!).get('crashing', { namespace: 'batch' });
      const status = crashing?.status?.containerStatuses?.[0];
      assert.equal(crashing?.status?.phase, 'Running');
      assert.ok((status?.restartCount ?? 0) >= 2, `restartCount ${status?.restartCount}`);
      assert.equal(status?.lastState?.terminated?.exitCode, 1);
    }, { timeoutMs: 120_000, intervalMs: 500 });
    // The marker is kept current: a host pod without it (made by an older kubenest) gets it back.
    const hk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), ...args]);
    await ok(hk('-n', HOST_NS, 'annotate', 'pod', 'crashing-x-batch-x-demo', `${RUN_TO_COMPLETION}-`));
    await eventually(async () => assert.equal((await hostPod('batch', 'crashing')).metadata?.annotations?.[RUN_TO_COMPLETION], 'Pod'), { timeoutMs: 60_000 });
    await ok(vk('-n', 'batch', 'delete', 'pod', 'crashing', '--wait=true', '--timeout=120s'));
  });

  it('a one-shot pod completes and a pod with restartPolicy Always keeps running', async () => {
    await ok(vk('run', 'forever', '--image=nginx', '--restart=Always'));
    await ok(vk('run', 'once', '--image=busybox', '--restart=Never', '--', 'echo', 'once'));
    await ok(vk('wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/once', '--timeout=240s'));
    await ok(vk('wait', '--for=jsonpath={.status.phase}=Running', 'pod/forever', '--timeout=240s'));
    const forever = await hostPod('default', 'forever');
    assert.equal(forever.metadata?.annotations?.[RUN_TO_COMPLETION], undefined);
    assert.equal((await hostPod('default', 'once')).metadata?.annotations?.[RUN_TO_COMPLETION], 'Pod');
    // `once` has ended; `forever`, created first and unmarked, is still Running.
    assert.equal((await hostPod('default', 'forever')).status?.phase, 'Running');
    await ok(vk('delete', 'pod', 'forever', 'once', '--wait=true', '--timeout=120s'));
  });

  it('helm: create, install --wait, test, uninstall leaves nothing on the host', async () => {
    const helm = await testHelm();
    const dir = tempDir('kn-helm-');
    const env = {
      ...process.env, KUBECONFIG: vkubeconfig,
      HELM_CACHE_HOME: join(dir.path, 'cache'), HELM_CONFIG_HOME: join(dir.path, 'config'), HELM_DATA_HOME: join(dir.path, 'data'),
    };
    const h = (...args: string[]): Promise<string> => ok(run(helm, args, { env, timeoutMs: 360_000 }));
    try {
      await ok(vk('create', 'namespace', 'charts'));
      await h('create', join(dir.path, 'demo'));
      await h('install', 'demo', join(dir.path, 'demo'), '-n', 'charts', '--wait', '--timeout', '5m');
      const tested = await h('test', 'demo', '-n', 'charts', '--timeout', '5m');
      assert.match(tested, /Phase:\s+Succeeded/, tested);
      const onHost = await host.resourceFor<Pod>(CORE['pods']!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/namespace=charts' });
      const testPod = onHost.items.find((p) => p.metadata?.annotations?.['vcluster.loft.sh/name'] === 'demo-test-connection');
      assert.equal(testPod?.metadata?.annotations?.[RUN_TO_COMPLETION], 'Pod', 'the test hook pod has no controller and restartPolicy Never');
      const app = onHost.items.find((p) => p.metadata?.labels?.['app.kubernetes.io/name'] === 'demo' && p !== testPod);
      assert.equal(app?.status?.phase, 'Running', 'the chart\'s Deployment pod keeps running');

      await h('uninstall', 'demo', '-n', 'charts', '--wait', '--timeout', '5m');
      const leftOnHost = async (): Promise<string[]> => {
        const left: string[] = [];
        for (const resource of ['pods', 'services', 'configmaps', 'secrets', 'serviceaccounts', 'persistentvolumeclaims']) {
          const list = await host.resourceFor<KubeObject>(CORE[resource]!).list({ namespace: HOST_NS, labelSelector: 'vcluster.loft.sh/namespace=charts' });
          // kube-root-ca.crt is the namespace's own ConfigMap, not the release's.
          left.push(...list.items.filter((o) => o.metadata?.annotations?.['vcluster.loft.sh/object-name'] !== 'kube-root-ca.crt').map((o) => `${resource}/${o.metadata?.name}`));
        }
        return left.sort();
      };
      // Helm never deletes hook resources on uninstall (on any cluster): the chart's test pod has
      // no hook-delete-policy, so it stays in the virtual cluster, and its host copy with it.
      await eventually(async () => {
        const virtualLeft = JSON.parse(await ok(vk('-n', 'charts', 'get', 'all,configmaps,secrets,serviceaccounts', '-o', 'json'))) as { items: KubeObject[] };
        assert.deepEqual(virtualLeft.items.map((o) => `${o.kind}/${o.metadata?.name}`).filter((n) => !['ConfigMap/kube-root-ca.crt', 'ServiceAccount/default'].includes(n)),
          ['Pod/demo-test-connection'], 'what helm uninstall left in the virtual cluster');
      }, { timeoutMs: 120_000, intervalMs: 500 });
      await eventually(async () => assert.deepEqual(await leftOnHost(), ['pods/demo-test-connection-x-charts-x-demo']), { timeoutMs: 120_000, intervalMs: 500 });
      await ok(vk('-n', 'charts', 'delete', 'pod', 'demo-test-connection', '--wait=true', '--timeout=120s'));
      await eventually(async () => assert.deepEqual(await leftOnHost(), []), { timeoutMs: 120_000, intervalMs: 500 });
    } finally {
      dir.remove();
    }
  });
});
