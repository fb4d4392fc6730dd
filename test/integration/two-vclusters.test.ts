import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, kubenest, run, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

describe('two virtual clusters on one host', () => {
  const dir = tempDir('kn-two-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 180_000 });
  const vkubectl = (name: string, ...args: string[]) => run('kubectl', ['--kubeconfig', join(dir.path, 'vclusters', name, 'kubeconfig'), ...args]);
  const hostNames = async (namespace: string, label: string): Promise<string[]> => {
    const got = await host.kubectl('get', 'configmaps', '-n', namespace, '-l', label, '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}');
    return got.stdout.trim().split('\n').filter(Boolean).sort();
  };

  before(async () => {
    host = await startHostCluster({ nodes: 0 });
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    writeFileSync(join(dir.path, 'all.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: true\n');
  });
  after(async () => {
    await cli('delete', 'a');
    await cli('delete', 'b');
    await host?.dispose();
    dir.remove();
  });

  it('keep same-named objects apart, even in one host namespace, and neither touches the other\'s', async () => {
    for (const name of ['a', 'b']) {
      const created = await cli('create', name, '-n', 'shared', '-f', join(dir.path, 'all.yaml'));
      assert.equal(created.code, 0, created.stderr);
      assert.equal((await vkubectl(name, 'create', 'configmap', 'same', `--from-literal=owner=${name}`)).code, 0);
    }
    await eventually(async () => {
      assert.deepEqual(await hostNames('shared', 'vcluster.loft.sh/managed-by=a,vcluster.loft.sh/namespace=default'), ['same-x-default-x-a']);
      assert.deepEqual(await hostNames('shared', 'vcluster.loft.sh/managed-by=b,vcluster.loft.sh/namespace=default'), ['same-x-default-x-b']);
    });
    const owner = await host.kubectl('get', 'configmap', 'same-x-default-x-b', '-n', 'shared', '-o', 'jsonpath={.data.owner}');
    assert.equal(owner.stdout, 'b');
    // Neither virtual cluster sees the other's objects.
    const inA = await vkubectl('a', 'get', 'configmaps', '-A', '-o', 'jsonpath={range .items[*]}{.data.owner}{end}');
    assert.equal(inA.stdout, 'a');
  });

  it('deleting one removes only its objects and keeps the shared namespace the other still uses', async () => {
    const deleted = await cli('delete', 'a');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stderr, /host namespace shared kept: other virtual clusters use it/);
    assert.deepEqual(await hostNames('shared', 'vcluster.loft.sh/managed-by=a'), []);
    assert.deepEqual(await hostNames('shared', 'vcluster.loft.sh/managed-by=b,vcluster.loft.sh/namespace=default'), ['same-x-default-x-b']);
    // b keeps syncing.
    assert.equal((await vkubectl('b', 'create', 'configmap', 'after')).code, 0);
    await eventually(async () => assert.ok((await hostNames('shared', 'vcluster.loft.sh/managed-by=b')).includes('after-x-default-x-b')));
  });
});
