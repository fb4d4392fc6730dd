import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPids } from '@kubenest/kubenest';
import { eventually, killProcess, kubenest, pidAlive, readPidFile, run, spawnKubenest, tempDir, testBinaries } from '@kubenest/testing';

/** Every process the supervisor of `dataDir` started, plus the supervisor itself. */
function supervisedPids(dataDir: string): number[] {
  const supervisor = readPidFile(join(dataDir, 'run', 'supervisor.pid')) ?? assert.fail(`no supervisor.pid in ${dataDir}/run`);
  return [supervisor, ...readPids(join(dataDir, 'run', 'pids.json')).map((p) => p.pid)];
}

describe('kubenest host (CLI)', () => {
  const dir = tempDir('kn-cli-');
  let binDir: string;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, KUBENEST_BIN_DIR: binDir });

  before(async () => {
    binDir = (await testBinaries()).dir;
  });
  after(async () => {
    await kubenest(['host', 'down', '--data-dir', dir.path], { env: env() });
    dir.remove();
  });

  it('host up starts in the background, prints kubectl usage, and kubectl works', async () => {
    const up = await kubenest(['host', 'up', '--data-dir', dir.path, '--nodes', '2'], { env: env() });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`export KUBECONFIG=${join(dir.path, 'kubeconfig')}`));
    assert.match(up.stderr, /starting kube-apiserver/, 'progress is shown while starting');
    const nodes = await run('kubectl', ['--kubeconfig', join(dir.path, 'kubeconfig'), 'get', 'nodes', '--no-headers']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout.trim().split('\n').filter((line) => / Ready /.test(line)).length, 2);

    const status = await kubenest(['host', 'status', '--data-dir', dir.path, '--json'], { env: env() });
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { status: string; components: { name: string; state: string }[] };
    assert.equal(report.status, 'running');
    assert.deepEqual(report.components.map((c) => c.name), ['kine', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
  });

  it('a second host up on the same data dir fails clearly and leaves the first alone', async () => {
    const before = supervisedPids(dir.path);
    const second = await kubenest(['host', 'up', '--data-dir', dir.path], { env: env() });
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /already running from .* \(supervisor pid \d+\)/);
    assert.deepEqual(before.filter(pidAlive), before, 'the running cluster is untouched');
  });

  it('host down ends every process by pid and keeps the data for the next host up', async () => {
    const create = await run('kubectl', ['--kubeconfig', join(dir.path, 'kubeconfig'), 'create', 'configmap', 'survivor', '--from-literal=k=v']);
    assert.equal(create.code, 0, create.stderr);
    const pids = supervisedPids(dir.path);
    const down = await kubenest(['host', 'down', '--data-dir', dir.path], { env: env() });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(pids.filter(pidAlive), [], 'no process outlives host down');
    const status = await kubenest(['host', 'status', '--data-dir', dir.path], { env: env() });
    assert.equal(status.code, 3, 'status exits 3 when stopped');

    const up = await kubenest(['host', 'up', '--data-dir', dir.path, '--nodes', '2'], { env: env() });
    assert.equal(up.code, 0, up.stderr);
    const got = await run('kubectl', ['--kubeconfig', join(dir.path, 'kubeconfig'), 'get', 'configmap', 'survivor', '-o', 'jsonpath={.data.k}']);
    assert.equal(got.stdout, 'v', 'objects created before host down are still there');
  });

  it('SIGTERM to the supervisor stops every component', async () => {
    const pids = supervisedPids(dir.path);
    killProcess(pids[0], 'SIGTERM');
    await eventually(() => assert.deepEqual(pids.filter(pidAlive), []), { timeoutMs: 60_000 });
  });

  it('host up --foreground stops every component on Ctrl-C (SIGINT)', async () => {
    const child = spawnKubenest(['host', 'up', '--foreground', '--data-dir', dir.path], env());
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    await eventually(() => assert.match(stdout, /press Ctrl-C to stop it/), { timeoutMs: 120_000 });
    const pids = supervisedPids(dir.path);
    assert.equal(pids[0], child.pid, 'the foreground process is the supervisor');
    child.kill('SIGINT');
    const [code] = await once(child, 'exit') as [number | null];
    assert.equal(code, 0);
    assert.deepEqual(pids.filter(pidAlive), [], 'no process outlives Ctrl-C');
  });
});
