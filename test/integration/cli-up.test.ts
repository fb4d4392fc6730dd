import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPids } from '@kubenest/kubenest';
import { cliSandbox, eventually, loopbackOnlyEnv, pidAlive, readPidFile, resolvedNames, run, type CliSandbox } from '@kubenest/testing';

describe('kubenest up (the main job)', () => {
  let sandbox: CliSandbox;
  let hostDir: string;
  let vclustersDir: string;
  const cli = (...args: string[]) => sandbox.cli(...args);

  let dnsRecord: string;

  before(async () => {
    dnsRecord = join(tmpdir(), `kn-up-dns-${process.pid}.txt`);
    // Every process `up` starts records the names it resolves (checked in the last test).
    sandbox = await cliSandbox('kn-up-', loopbackOnlyEnv(dnsRecord));
    ({ hostDir, vclustersDir } = sandbox);
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
    rmSync(dnsRecord, { force: true });
  });

  it('starts a host and a virtual cluster that kubectl can use, and syncs between them', async () => {
    const up = await cli('up');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`export KUBECONFIG=${join(vclustersDir, 'demo', 'kubeconfig')}`));
    const virtual = (...args: string[]) => run('kubectl', ['--kubeconfig', join(vclustersDir, 'demo', 'kubeconfig'), ...args]);
    const host = (...args: string[]) => run('kubectl', ['--kubeconfig', join(hostDir, 'kubeconfig'), ...args]);
    assert.equal((await host('get', 'nodes', '--no-headers')).stdout.trim().split('\n').length, 2);
    // The commands `up` prints, as a user would type them.
    assert.match(up.stdout, /kubectl create deployment web --image=nginx --replicas=3/);
    assert.equal((await virtual('create', 'deployment', 'web', '--image=nginx', '--replicas=3')).code, 0);
    assert.equal((await virtual('rollout', 'status', 'deployment/web', '--timeout=120s')).code, 0);
    await eventually(async () => {
      const got = await host('get', 'pods', '-n', 'vcluster-demo', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}');
      assert.equal(got.stdout, 'Running Running Running', got.stderr);
    });
  });

  it('kubectl logs and exec on a virtual pod (the README\'s first steps) reach the host pod by loopback addresses, never a name', async () => {
    const virtual = (...args: string[]) => run('kubectl', ['--kubeconfig', join(vclustersDir, 'demo', 'kubeconfig'), ...args]);
    // The virtual apiserver dials kubenest's kubelet endpoint at 127.0.0.1, the host apiserver kwok
    // at the node's 127.0.1.x (ADR 27); the last test checks that nothing resolved a name.
    const logs = await virtual('logs', 'deploy/web');
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^kubenest local host: this container runs on a simulated node \(kwok\)/);
    const exec = await virtual('exec', 'deploy/web', '--', 'echo', 'hi');
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'hi\n');
  });

  it('no process of kubenest resolved a name other than localhost', () => {
    const names = resolvedNames(dnsRecord, [hostDir, vclustersDir]);
    assert.deepEqual([...names].filter((name) => name !== 'localhost'), []);
  });

  it('a second up finds both running and changes nothing', async () => {
    const again = await cli('up');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /host cluster already running/);
    assert.match(again.stderr, /virtual cluster "demo" already running/);
  });

  it('delete and host down leave no process behind', async () => {
    const pidsOf = (runDir: string): number[] => [
      readPidFile(join(runDir, 'supervisor.pid')) ?? assert.fail(`no supervisor.pid in ${runDir}`), ...readPids(join(runDir, 'pids.json')).map((p) => p.pid),
    ];
    const pids = [...pidsOf(join(hostDir, 'run')), ...pidsOf(join(vclustersDir, 'demo', 'run'))];
    assert.equal(pids.length, 10);
    assert.equal((await cli('delete', 'demo')).code, 0);
    assert.equal((await cli('host', 'down')).code, 0);
    assert.deepEqual(pids.filter(pidAlive), []);
  });
});
