import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORE, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { readPids } from '@kubenest/kubenest';
import { cliSandbox, eventually, pidAlive, type CliSandbox } from '@kubenest/testing';

const COUNT = 2_000;

describe('crash safety of the ConfigMap sync', () => {
  let sandbox: CliSandbox;
  const cli = (...args: string[]) => sandbox.cli(...args);

  before(async () => {
    sandbox = await cliSandbox('kn-crash-');
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
  });

  it('kill -9 of the syncer during a bulk create of 2,000 ConfigMaps: after a restart the host holds exactly the expected set', async () => {
    const { dir, hostDir, vclustersDir } = sandbox;
    assert.equal((await cli('host', 'up', '--nodes', '1')).code, 0);
    writeFileSync(join(dir, 'all.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: true\n');
    const created = await cli('create', 'demo', '--kubeconfig', join(hostDir, 'kubeconfig'), '-f', join(dir, 'all.yaml'));
    assert.equal(created.code, 0, created.stderr);
    const runDir = join(vclustersDir, 'demo', 'run');
    const supervisor = Number(readFileSync(join(runDir, 'supervisor.pid'), 'utf8'));
    const components = readPids(join(runDir, 'pids.json')).map((p) => p.pid);

    const virtual = new KubeClient(loadKubeconfig(join(vclustersDir, 'demo', 'kubeconfig')), { qps: Infinity });
    const host = new KubeClient(loadKubeconfig(join(hostDir, 'kubeconfig')), { qps: Infinity });
    try {
      const configMaps = virtual.resourceFor<KubeObject>(CORE['configmaps']!);
      await virtual.resourceFor(CORE['namespaces']!).create({ metadata: { name: 'bulk' } });
      let next = 0;
      let killed = false;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < COUNT) {
          const i = next++;
          await configMaps.create({ metadata: { name: `cm-${i}`, namespace: 'bulk' }, data: { i: String(i) } });
          if (i === COUNT / 2 && !killed) {
            killed = true;
            // The syncer runs inside the supervisor: kill it hard, mid-stream. The virtual
            // control plane (its own processes) keeps accepting writes.
            process.kill(supervisor, 'SIGKILL');
          }
        }
      }));
      assert.ok(killed);
      await eventually(() => assert.equal(pidAlive(supervisor), false));

      // Restart: `up` finds the host running and the virtual cluster stopped; it ends the
      // components the killed supervisor left behind and starts everything again.
      const restarted = await cli('up', '--name', 'demo');
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.match(restarted.stderr, /virtual cluster "demo" exists; starting it/);
      assert.deepEqual(components.filter(pidAlive), [], 'the orphaned components were ended');

      const expected = Array.from({ length: COUNT }, (_, i) => `cm-${i}-x-bulk-x-demo`).sort();
      await eventually(async () => {
        const list = await host.resourceFor<KubeObject>(CORE['configmaps']!).list({ namespace: 'vcluster-demo', labelSelector: 'vcluster.loft.sh/namespace=bulk' });
        const names = list.items.map((c) => c.metadata!.name!).sort();
        assert.equal(names.length, COUNT, `${names.length} of ${COUNT} on the host`);
        assert.deepEqual(names, expected);
      }, { timeoutMs: 120_000, intervalMs: 1_000 });
    } finally {
      await virtual.close();
      await host.close();
    }
  });
});
