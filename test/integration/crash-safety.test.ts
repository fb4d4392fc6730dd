import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORE, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { readPids } from '@kubenest/kubenest';
import { cliSandbox, createThroughOutage, eventually, killProcess, pidAlive, readPidFile, watchStatus, type CliSandbox } from '@kubenest/testing';

const CONFIGMAPS = 2_000;
const PODS = 200;

/**
 * A supervisor killed with SIGKILL (as the OOM killer does it) comes back by itself, replaces its
 * components, and its syncers finish the job exactly (ADR 16): for the virtual cluster's
 * supervisor and for the host cluster's, during a bulk create of ConfigMaps and of pods.
 */
describe('crash safety: a supervisor killed with SIGKILL comes back by itself', () => {
  let sandbox: CliSandbox;
  let virtual: KubeClient;
  let host: KubeClient;
  const cli = (...args: string[]) => sandbox.cli(...args);
  const runDir = (which: 'host' | 'demo'): string => which === 'host' ? join(sandbox.hostDir, 'run') : join(sandbox.vclustersDir, 'demo', 'run');
  const supervisorOf = (which: 'host' | 'demo'): number => readPidFile(join(runDir(which), 'supervisor.pid')) ?? assert.fail(`no supervisor.pid in ${runDir(which)}`);
  const keeperOf = (which: 'host' | 'demo'): number => (JSON.parse(readFileSync(join(runDir(which), 'keeper.json'), 'utf8')) as { pid: number }).pid;
  const componentsOf = (which: 'host' | 'demo'): number[] => readPids(join(runDir(which), 'pids.json')).map((p) => p.pid);

  /** `kubenest list` / `host status`, as JSON: the status and the supervisor's restarts. */
  const statusOf = async (which: 'host' | 'demo'): Promise<{ status: string; supervisorRestarts: number; detail?: string }> => {
    if (which === 'host') return JSON.parse((await cli('host', 'status', '--json')).stdout) as { status: string; supervisorRestarts: number };
    const rows = JSON.parse((await cli('list', '--json')).stdout) as { name: string; status: string; supervisorRestarts: number }[];
    return rows.find((r) => r.name === 'demo')!;
  };

  before(async () => {
    sandbox = await cliSandbox('kn-crash-');
    // 400 pods in all: kwok nodes take 110 each.
    const up = await cli('host', 'up', '--nodes', '4');
    assert.equal(up.code, 0, up.stderr);
    writeFileSync(join(sandbox.dir, 'all.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: true\n');
    const created = await cli('create', 'demo', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-f', join(sandbox.dir, 'all.yaml'));
    assert.equal(created.code, 0, created.stderr);
    virtual = new KubeClient(loadKubeconfig(join(sandbox.vclustersDir, 'demo', 'kubeconfig')), { qps: Infinity });
    host = new KubeClient(loadKubeconfig(join(sandbox.hostDir, 'kubeconfig')), { qps: Infinity });
  });
  after(async () => {
    await virtual?.close();
    await host?.close();
    await sandbox?.dispose(['demo']);
  });

  /**
   * Creates `count` objects with 16 writers, killing `victim`'s supervisor with SIGKILL half way.
   * A create that fails because the virtual API is being replaced is retried, as a user's client
   * would; one that already landed (AlreadyExists on the retry) is not written twice.
   */
  async function createKillingHalfWay(count: number, victim: 'host' | 'demo', make: (i: number) => Promise<unknown>): Promise<void> {
    let next = 0;
    let killed = false;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        await createThroughOutage(() => make(i));
        if (i === count / 2 && !killed) {
          killed = true;
          killProcess(supervisorOf(victim), 'SIGKILL');
        }
      }
    }));
    assert.ok(killed);
  }

  /** Kills `victim`'s supervisor during `work`, then checks it came back by itself, cleanly. */
  async function killDuring(victim: 'host' | 'demo', work: () => Promise<void>): Promise<void> {
    const supervisor = supervisorOf(victim);
    const keeper = keeperOf(victim);
    const components = componentsOf(victim);
    const restartsBefore = (await statusOf(victim)).supervisorRestarts;
    const statuses = watchStatus(async () => (await statusOf(victim)).status);
    await work();
    await eventually(() => assert.equal(pidAlive(supervisor), false));
    await eventually(async () => {
      const now = await statusOf(victim);
      assert.equal(now.status, 'running', JSON.stringify(now));
      assert.equal(now.supervisorRestarts, restartsBefore + 1);
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
    const seen = await statuses.stop();
    assert.ok(seen.includes('recovering'), `statuses seen: ${seen.join(' -> ')}`);
    assert.equal(seen.at(-1), 'running');
    assert.ok(!seen.includes('stopped'), `never "stopped" while it recovers: ${seen.join(' -> ')}`);
    assert.notEqual(supervisorOf(victim), supervisor, 'a new supervisor');
    assert.equal(keeperOf(victim), keeper, 'started by the same keeper');
    await eventually(() => assert.deepEqual(components.filter(pidAlive), [], 'no component of the killed supervisor is left'));
    assert.deepEqual(componentsOf(victim).filter((pid) => !pidAlive(pid)), [], 'the new components run');
  }

  async function hostNames(resource: 'configmaps' | 'pods', namespace: string): Promise<string[]> {
    const list = await host.resourceFor<KubeObject>(CORE[resource]!).list({ namespace: 'vcluster-demo', labelSelector: `vcluster.loft.sh/namespace=${namespace}` });
    return list.items.map((o) => o.metadata!.name!).sort();
  }

  async function configMapsKillingHalfWay(victim: 'host' | 'demo', namespace: string): Promise<void> {
    const configMaps = virtual.resourceFor<KubeObject>(CORE['configmaps']!);
    await virtual.resourceFor(CORE['namespaces']!).create({ metadata: { name: namespace } });
    await killDuring(victim, () => createKillingHalfWay(CONFIGMAPS, victim,
      (i) => configMaps.create({ metadata: { name: `cm-${i}`, namespace }, data: { i: String(i) } })));
    const expected = Array.from({ length: CONFIGMAPS }, (_, i) => `cm-${i}-x-${namespace}-x-demo`).sort();
    await eventually(async () => {
      const names = await hostNames('configmaps', namespace);
      assert.equal(names.length, CONFIGMAPS, `${names.length} of ${CONFIGMAPS} on the host`);
      assert.deepEqual(names, expected);
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    const copies = await host.resourceFor<KubeObject>(CORE['configmaps']!).list({ namespace: 'vcluster-demo', labelSelector: `vcluster.loft.sh/namespace=${namespace}` });
    for (const copy of copies.items) {
      assert.equal(`cm-${(copy['data'] as { i: string }).i}-x-${namespace}-x-demo`, copy.metadata!.name, 'each copy holds its own object\'s data');
    }
  }

  async function podsKillingHalfWay(victim: 'host' | 'demo', namespace: string): Promise<void> {
    const pods = virtual.resourceFor<KubeObject>(CORE['pods']!);
    await virtual.resourceFor(CORE['namespaces']!).create({ metadata: { name: namespace } });
    // Pods are refused until the namespace's default ServiceAccount exists.
    await eventually(() => virtual.resourceFor(CORE['serviceaccounts']!).get('default', { namespace }));
    await killDuring(victim, () => createKillingHalfWay(PODS, victim,
      (i) => pods.create({ metadata: { name: `p-${i}`, namespace }, spec: { containers: [{ name: 'c', image: 'nginx' }] } })));
    const expected = Array.from({ length: PODS }, (_, i) => `p-${i}-x-${namespace}-x-demo`).sort();
    await eventually(async () => {
      const names = await hostNames('pods', namespace);
      assert.equal(names.length, PODS, `${names.length} of ${PODS} on the host`);
      assert.deepEqual(names, expected);
      const running = (await pods.list({ namespace })).items.filter((p) => (p['status'] as { phase?: string } | undefined)?.phase === 'Running');
      assert.equal(running.length, PODS, `${running.length} of ${PODS} virtual pods Running`);
    }, { timeoutMs: 240_000, intervalMs: 2_000 });
  }

  it('the virtual cluster\'s supervisor, during a bulk create of 2,000 ConfigMaps', async () => {
    await configMapsKillingHalfWay('demo', 'bulk-vc');
  });

  it('the host cluster\'s supervisor, during a bulk create of 2,000 ConfigMaps', async () => {
    await configMapsKillingHalfWay('host', 'bulk-host');
    assert.equal((await hostNames('configmaps', 'bulk-vc')).length, CONFIGMAPS, 'what was synced before is still there');
  });

  it('the virtual cluster\'s supervisor, during 200 pod creates', async () => {
    await podsKillingHalfWay('demo', 'pods-vc');
  });

  it('the host cluster\'s supervisor, during 200 pod creates', async () => {
    await podsKillingHalfWay('host', 'pods-host');
  });
});
