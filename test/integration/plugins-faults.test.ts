import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, killProcess, kubenest, pidAlive, REPO_ROOT, run, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

const FAKE_PLUGIN = join(REPO_ROOT, 'packages/kubenest/src/plugins/testdata/fake-plugin.ts');
const COUNT = 2000;

/**
 * Issue 9 "Bad input and faults": a plugin killed with SIGKILL during a bulk sync of 2,000
 * ConfigMaps it hooks. Its policy is Fail, so while it is down every write it hooks is refused
 * and retried; the host must end with exactly the expected set, every object hooked.
 */
describe('a hooking plugin killed during a bulk sync', () => {
  const dir = tempDir('kn-plugf-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 300_000 });
  const vKubeconfig = (): string => join(dir.path, 'vclusters', 'bulk', 'kubeconfig');
  const pluginPid = async (): Promise<{ pid?: number; restarts: number; state: string }> => {
    const out = await cli('plugins', 'bulk', '--json');
    assert.equal(out.code, 0, out.stderr);
    return (JSON.parse(out.stdout) as { pid?: number; restarts: number; state: string }[])[0]!;
  };

  before(async () => {
    host = await startHostCluster({ nodes: 1 });
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    writeFileSync(join(dir.path, 'values.yaml'), [
      'sync:', '  toHost:', '    configMaps:', '      all: true',
      'plugins:', '  bulk:', `    path: ${FAKE_PLUGIN}`, '    config:', '      label: bulk',
    ].join('\n') + '\n');
  });
  after(async () => {
    await cli('delete', 'bulk');
    await host?.dispose();
    dir.remove();
  });

  it(`the host ends with exactly the ${COUNT} ConfigMaps, every one hooked`, async () => {
    const created = await cli('create', 'bulk', '-f', join(dir.path, 'values.yaml'));
    assert.equal(created.code, 0, `${created.stdout}\n${created.stderr}`);
    assert.equal((await run('kubectl', ['--kubeconfig', vKubeconfig(), 'create', 'namespace', 'bulk'])).code, 0);
    const first = await pluginPid();
    assert.equal(first.state, 'running');
    const items = Array.from({ length: COUNT }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'bulk', labels: { mine: 'kept' } }, data: { i: String(i) } }));
    const hostCount = async (): Promise<string[]> => {
      const got = await host.kubectl('get', 'configmaps', '-n', 'vcluster-bulk', '-l', 'vcluster.loft.sh/namespace=bulk',
        '-o', 'jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.hooked-by-bulk} {.metadata.labels.mine}{"\\n"}{end}');
      assert.equal(got.code, 0, got.stderr);
      return got.stdout.split('\n').filter(Boolean);
    };
    // Killed while the syncer is writing them: as soon as the first copies are on the host, with
    // the virtual creates still going (the syncer keeps up with them, so waiting for the create to
    // return could find them all synced already).
    const applying = run('kubectl', ['--kubeconfig', vKubeconfig(), 'create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), timeoutMs: 300_000 });
    const atKill = await eventually(async () => {
      const now = (await hostCount()).length;
      assert.ok(now >= 50, `${now} on the host`);
      return now;
    }, { timeoutMs: 300_000, intervalMs: 100 });
    killProcess(first.pid, 'SIGKILL');
    process.stderr.write(`plugin killed with ${atKill} of ${COUNT} ConfigMaps on the host\n`);
    assert.ok(atKill < COUNT, 'the plugin was killed during the sync, not after it');
    const applied = await applying;
    assert.equal(applied.code, 0, applied.stderr);
    const lines = await eventually(async () => {
      const now = await hostCount();
      assert.equal(now.length, COUNT, `${now.length} of ${COUNT} on the host`);
      return now;
    }, { timeoutMs: 600_000, intervalMs: 2000 });
    const unhooked = lines.filter((line) => !/ yes kept$/.test(line));
    assert.deepEqual(unhooked, [], 'every host ConfigMap passed the hook (and kept its own label)');
    const names = new Set(lines.map((line) => line.split(' ')[0]));
    for (let i = 0; i < COUNT; i++) assert.ok(names.has(`cm-${i}-x-bulk-x-bulk`), `cm-${i} is missing on the host`);
    const after = await pluginPid();
    assert.equal(after.state, 'running');
    assert.ok(after.restarts >= 1);
    assert.equal(pidAlive(first.pid!), false);
  });

  it('a refused write is not performed, and a Warning event on the virtual object names the plugin and its message', async () => {
    assert.equal((await run('kubectl', ['--kubeconfig', vKubeconfig(), 'create', 'configmap', 'refuse-me', '-n', 'bulk', '--from-literal=a=b'])).code, 0);
    await eventually(async () => {
      const events = await run('kubectl', ['--kubeconfig', vKubeconfig(), 'get', 'events', '-n', 'bulk', '--field-selector', 'involvedObject.name=refuse-me,reason=PluginRefused',
        '-o', 'jsonpath={range .items[*]}{.type} {.involvedObject.kind} {.message}{"\\n"}{end}']);
      assert.match(events.stdout, /Warning ConfigMap plugin "bulk" refused CreatePhysical v1\/ConfigMap vcluster-bulk\/refuse-me-x-bulk-x-bulk: error mutating object: refused by fake/, events.stderr);
    }, { timeoutMs: 60_000 });
    const onHost = await host.kubectl('get', 'configmap', 'refuse-me-x-bulk-x-bulk', '-n', 'vcluster-bulk');
    assert.notEqual(onHost.code, 0, 'the refused ConfigMap must not reach the host');
    assert.match(onHost.stderr, /NotFound|not found/);
  });
});
