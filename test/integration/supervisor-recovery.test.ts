import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { readPids } from '@kubenest/kubenest';
import { cliSandbox, eventually, killProcess, pidAlive, processesUsing, readPidFile, run, watchStatus, type CliSandbox } from '@kubenest/testing';

interface Row { name: string; status: string; detail?: string; supervisorRestarts: number }

/**
 * What happens around a supervisor's recovery (ADR 16): a crash loop ends in failed, with the
 * reason and nothing left running; `kubenest up` brings everything back with its data, also after
 * every process was killed as a reboot would; `kubenest delete` while a recovery is under way.
 */
describe('supervisor recovery: crash loops, reboots, delete while recovering', () => {
  let sandbox: CliSandbox;
  const cli = (...args: string[]) => sandbox.cli(...args);
  const runDir = (which: 'host' | 'demo'): string => which === 'host' ? join(sandbox.hostDir, 'run') : join(sandbox.vclustersDir, 'demo', 'run');
  const supervisorOf = (which: 'host' | 'demo'): number | undefined => readPidFile(join(runDir(which), 'supervisor.pid'));
  const keeperState = (which: 'host' | 'demo'): { pid: number; state: string } | undefined => {
    try {
      return JSON.parse(readFileSync(join(runDir(which), 'keeper.json'), 'utf8')) as { pid: number; state: string };
    } catch {
      return undefined;
    }
  };
  const demoRow = async (): Promise<Row | undefined> => (JSON.parse((await cli('list', '--json')).stdout) as Row[]).find((r) => r.name === 'demo');
  const virtualKubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), ...args]);

  before(async () => {
    sandbox = await cliSandbox('kn-recover-');
    const up = await cli('up', '--nodes', '1');
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await virtualKubectl('create', 'configmap', 'keep-me', '--from-literal=k=v')).code, 0);
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
  });

  it('SIGKILL in a loop: restarts with growing delays, then failed with the reason, nothing left running; up brings it back', async () => {
    const keeper = keeperState('demo')!.pid;
    const statuses = watchStatus(async () => (await demoRow())?.status ?? 'absent');
    const killed: number[] = [];
    const components = new Set<number>();
    const deadline = Date.now() + 300_000;
    // Kill every supervisor the keeper starts, as soon as it has taken its lock.
    while (keeperState('demo')?.state !== 'failed' && Date.now() < deadline) {
      for (const entry of readPids(join(runDir('demo'), 'pids.json'))) components.add(entry.pid);
      const pid = supervisorOf('demo');
      if (pid !== undefined && !killed.includes(pid) && pidAlive(pid)) {
        killProcess(pid, 'SIGKILL');
        killed.push(pid);
      }
      await sleep(50);
    }
    assert.equal(killed.length, 6, 'the first supervisor and five restarts');
    await eventually(() => assert.equal(pidAlive(keeper), false, 'the keeper gave up and exited'));
    const row = (await demoRow())!;
    assert.equal(row.status, 'failed');
    assert.equal(row.supervisorRestarts, 5);
    assert.match(row.detail ?? '', /the supervisor crashed 6 times in a row \(last killed by SIGKILL at .*\); see logs\/kubenest\.log/);
    const seen = await statuses.stop();
    assert.ok(seen.includes('recovering'), seen.join(' -> '));
    assert.equal(seen.at(-1), 'failed');
    assert.ok(!seen.includes('stopped'), `never "stopped" on the way: ${seen.join(' -> ')}`);
    const delays = [...readFileSync(join(sandbox.vclustersDir, 'demo', 'logs', 'kubenest.log'), 'utf8').matchAll(/starting it again in (\d+)s/g)].map((m) => m[1]);
    assert.deepEqual(delays, ['1', '2', '4', '8', '16'], 'the delays back off');
    await eventually(() => assert.deepEqual([...components].filter(pidAlive), []));
    assert.deepEqual(processesUsing(join(sandbox.vclustersDir, 'demo')), [], 'nothing of the virtual cluster runs');

    const up = await cli('up', '--name', 'demo', '--nodes', '1');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /virtual cluster "demo" exists; starting it/);
    assert.deepEqual((await demoRow())?.status, 'running');
    assert.equal((await virtualKubectl('get', 'configmap', 'keep-me', '-o', 'jsonpath={.data.k}')).stdout, 'v', 'its data is back');
  });

  it('after every process was killed, as by a reboot, up brings both clusters back with their data', async () => {
    const components = [...readPids(join(runDir('host'), 'pids.json')), ...readPids(join(runDir('demo'), 'pids.json'))].map((p) => p.pid);
    const pids = [keeperState('host')!.pid, keeperState('demo')!.pid, supervisorOf('host')!, supervisorOf('demo')!];
    for (const pid of pids) killProcess(pid, 'SIGKILL');
    // Killed together with their supervisors: no keeper is left to end them, the kernel does.
    await eventually(() => assert.deepEqual([...pids, ...components].filter(pidAlive), []));
    assert.deepEqual(processesUsing(sandbox.dir), []);
    assert.equal((await demoRow())?.status, 'stopped');
    assert.equal((await cli('host', 'status')).code, 3, 'host status says stopped');

    const up = await cli('up', '--name', 'demo', '--nodes', '1');
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await demoRow())?.status, 'running');
    assert.equal((await cli('host', 'status')).code, 0);
    assert.equal((await virtualKubectl('get', 'configmap', 'keep-me', '-o', 'jsonpath={.data.k}')).stdout, 'v');
    assert.equal((await virtualKubectl('run', 'after-reboot', '--image=nginx')).code, 0);
    await eventually(async () => {
      const phase = await virtualKubectl('get', 'pod', 'after-reboot', '-o', 'jsonpath={.status.phase}');
      assert.equal(phase.stdout, 'Running', 'the syncers work again');
    }, { timeoutMs: 120_000, intervalMs: 1_000 });
  });

  it('delete while the supervisor is recovering stops the recovery and removes everything', async () => {
    const killed = supervisorOf('demo')!;
    killProcess(killed, 'SIGKILL');
    await eventually(async () => assert.equal((await demoRow())?.status, 'recovering'));
    // The keeper has started the next supervisor, which is still starting (it waits for the
    // dead one's Lease to expire): the stop reaches a supervisor in the middle of its start.
    await eventually(() => {
      const next = supervisorOf('demo');
      assert.ok(next !== undefined && next !== killed && pidAlive(next), 'a new supervisor');
    });
    assert.equal((await demoRow())?.status, 'recovering');
    const deleted = await cli('delete', 'demo');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stderr, /virtual cluster "demo" deleted \(and host namespace vcluster-demo\)/);
    await eventually(() => assert.deepEqual(processesUsing(join(sandbox.vclustersDir, 'demo')), []));
    assert.equal(await demoRow(), undefined);
    await eventually(async () => {
      const ns = await run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), 'get', 'namespace', 'vcluster-demo']);
      assert.notEqual(ns.code, 0, 'the host namespace is gone');
    }, { timeoutMs: 60_000 });
  });
});
