import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPids } from '@kubenest/kubenest';
import { eventually, kubenest, pidAlive, readPidFile, run, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

describe('kubenest create / list / connect / delete (CLI)', () => {
  const dir = tempDir('kn-vcli-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 180_000 });
  const hostKubectl = (...args: string[]) => host.kubectl(...args);
  const virtualKubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', join(dir.path, 'vclusters', 'demo', 'kubeconfig'), ...args]);

  before(async () => {
    host = await startHostCluster({ nodes: 1 });
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    writeFileSync(join(dir.path, 'all.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: false\n');
    writeFileSync(join(dir.path, 'override.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: true\n');
  });
  after(async () => {
    await cli('delete', 'demo');
    await host?.dispose();
    dir.remove();
  });

  it('create starts a virtual cluster that kubectl can use, merging values files in order', async () => {
    const created = await cli('create', 'demo', '-f', join(dir.path, 'all.yaml'), '-f', join(dir.path, 'override.yaml'));
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /virtual cluster "demo" ready/);
    assert.match(created.stderr, /service range 10\.96\.0\.0\/12/);
    const namespaces = await virtualKubectl('get', 'namespaces', '-o', 'name');
    assert.equal(namespaces.code, 0, namespaces.stderr);
    assert.match(namespaces.stdout, /namespace\/default/);
    // all: true from the second file wins: an unreferenced ConfigMap reaches the host.
    assert.equal((await virtualKubectl('create', 'configmap', 'hello', '--from-literal=a=1')).code, 0);
    await eventually(async () => {
      const got = await hostKubectl('get', 'configmap', 'hello-x-default-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={.data.a}');
      assert.equal(got.stdout, '1', got.stderr);
    });
    const secret = await hostKubectl('get', 'secret', 'vc-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={.data.config}');
    assert.equal(Buffer.from(secret.stdout, 'base64').toString(), readFileSync(join(dir.path, 'vclusters', 'demo', 'kubeconfig'), 'utf8'));
    const lease = await hostKubectl('get', 'lease', 'vcluster-demo-controller', '-n', 'vcluster-demo', '-o', 'jsonpath={.spec.holderIdentity}');
    assert.notEqual(lease.stdout, '', 'the syncer holds its Lease');
  });

  it('list and connect show it', async () => {
    const list = await cli('list', '--json');
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { name: string; hostNamespace: string; status: string }[];
    assert.deepEqual(rows.map((r) => [r.name, r.hostNamespace, r.status]), [['demo', 'vcluster-demo', 'running']]);
    const connect = await cli('connect', 'demo', '--print');
    assert.match(connect.stdout, /current-context: vcluster_demo/);
  });

  it('refuses bad input clearly, changing nothing', async () => {
    const again = await cli('create', 'demo');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /a virtual cluster named "demo" already exists/);
    const badName = await cli('create', 'Not_A_Label');
    assert.match(badName.stderr, /"Not_A_Label" is not a valid virtual cluster name/);
    const unknown = await cli('delete', 'ghost');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no virtual cluster named "ghost"/);
    writeFileSync(join(dir.path, 'typo.yaml'), 'sync:\n  toHost:\n    secrets:\n      all: "yes"\n');
    const invalid = await cli('create', 'typo', '-f', join(dir.path, 'typo.yaml'));
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /typo\.yaml: sync\.toHost\.secrets\.all: expected boolean, got string "yes"/);
    writeFileSync(join(dir.path, 'unreachable.kubeconfig'), readFileSync(host.kubeconfig, 'utf8').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:1'));
    const unreachable = await cli('create', 'far', '--kubeconfig', join(dir.path, 'unreachable.kubeconfig'));
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the host cluster at https:\/\/127\.0\.0\.1:1/);
    const list = JSON.parse((await cli('list', '--json')).stdout) as { name: string }[];
    assert.deepEqual(list.map((r) => r.name), ['demo'], 'failed creates leave nothing behind');
  });

  it('delete stops every process and removes what it made on the host', async () => {
    const runDir = join(dir.path, 'vclusters', 'demo', 'run');
    const pids = [readPidFile(join(runDir, 'supervisor.pid')) ?? assert.fail('no supervisor.pid'), ...readPids(join(runDir, 'pids.json')).map((p) => p.pid)];
    assert.equal(pids.length, 4, 'supervisor, kine, apiserver, controller-manager');
    const deleted = await cli('delete', 'demo');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(pids.filter(pidAlive), []);
    await eventually(async () => {
      const ns = await hostKubectl('get', 'namespace', 'vcluster-demo');
      assert.notEqual(ns.code, 0, 'the namespace create made is gone');
    }, { timeoutMs: 60_000 });
    assert.deepEqual(JSON.parse((await cli('list', '--json')).stdout), []);
  });

  it('keeps a host namespace that existed before', async () => {
    assert.equal((await hostKubectl('create', 'namespace', 'mine')).code, 0);
    assert.equal((await hostKubectl('create', 'configmap', 'not-ours', '-n', 'mine')).code, 0);
    const created = await cli('create', 'keep', '-n', 'mine');
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await cli('delete', 'keep')).code, 0);
    const ns = await hostKubectl('get', 'configmap', 'not-ours', '-n', 'mine', '-o', 'name');
    assert.equal(ns.stdout.trim(), 'configmap/not-ours', 'the namespace and what others put there stay');
    assert.notEqual((await hostKubectl('get', 'secret', 'vc-keep', '-n', 'mine')).code, 0, 'the kubeconfig Secret is gone');
    assert.notEqual((await hostKubectl('get', 'lease', 'vcluster-keep-controller', '-n', 'mine')).code, 0, 'the Lease is gone');
  });

  it('create right after delete waits for the terminating host namespace instead of failing in it', async () => {
    assert.equal((await cli('create', 'again')).code, 0);
    // A pod keeps the namespace terminating for a moment (kwok deletes it gracefully).
    assert.equal((await hostKubectl('create', 'deployment', 'holder', '--image=nginx', '-n', 'vcluster-again')).code, 0);
    assert.equal((await cli('delete', 'again')).code, 0);
    const recreated = await cli('create', 'again');
    assert.equal(recreated.code, 0, recreated.stderr);
    assert.match(recreated.stderr, /namespace vcluster-again \(created\)/);
    assert.equal((await hostKubectl('get', 'secret', 'vc-again', '-n', 'vcluster-again', '-o', 'name')).stdout.trim(), 'secret/vc-again');
    assert.equal((await cli('delete', 'again')).code, 0);
  });
});
