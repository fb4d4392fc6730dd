import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliSandbox, eventually, run, type CliSandbox, type CommandResult } from '@kubenest/testing';

/**
 * The syncer runs only while it holds the host Lease. When another holder takes the Lease, the
 * syncer stops; when the Lease expires it campaigns again, and a new term syncs with fresh
 * caches (nothing of the lost term is reused).
 */
describe('leader election of the syncer', () => {
  let sandbox: CliSandbox;
  const vk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), ...args]);
  const hk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-demo', ...args]);
  const log = (): string => readFileSync(join(sandbox.vclustersDir, 'demo', 'logs', 'kubenest.log'), 'utf8');
  const hostData = async (name: string): Promise<string> => (await hk('get', 'configmap', `${name}-x-default-x-demo`, '-o', 'jsonpath={.data.v}')).stdout;

  before(async () => {
    sandbox = await cliSandbox('kn-leader-');
    assert.equal((await sandbox.cli('host', 'up', '--nodes', '1')).code, 0);
    writeFileSync(join(sandbox.dir, 'all.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: true\n');
    const created = await sandbox.cli('create', 'demo', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-f', join(sandbox.dir, 'all.yaml'));
    assert.equal(created.code, 0, created.stderr);
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
  });

  it('loses the Lease to another holder, stops, takes it back after expiry and syncs again', async () => {
    assert.equal((await vk('create', 'configmap', 'before', '--from-literal=v=1')).code, 0);
    await eventually(async () => assert.equal(await hostData('before'), '1'));

    // Someone else holds the Lease now, for 5 seconds.
    const lease = JSON.parse((await hk('get', 'lease', 'vcluster-demo-controller', '-o', 'json')).stdout) as { spec: Record<string, unknown> };
    const ours = lease.spec['holderIdentity'];
    const taken = await hk('patch', 'lease', 'vcluster-demo-controller', '--type=merge', '-p',
      JSON.stringify({ spec: { holderIdentity: 'intruder', leaseDurationSeconds: 5, renewTime: new Date().toISOString().replace('Z', '000Z') } }));
    assert.equal(taken.code, 0, taken.stderr);
    await eventually(() => assert.match(log(), /no longer leading; syncers stopped/), { timeoutMs: 30_000 });

    // After the intruder's Lease expires the syncer leads again, with a new term.
    await eventually(async () => {
      const holder = JSON.parse((await hk('get', 'lease', 'vcluster-demo-controller', '-o', 'json')).stdout) as { spec: Record<string, unknown> };
      assert.equal(holder.spec['holderIdentity'], ours);
    }, { timeoutMs: 60_000 });
    await eventually(() => assert.equal(log().match(/leading; starting \d+ syncer/g)?.length, 2), { timeoutMs: 30_000 });

    // The new term syncs creates and updates made after the loss.
    assert.equal((await vk('create', 'configmap', 'after', '--from-literal=v=2')).code, 0);
    assert.equal((await vk('patch', 'configmap', 'before', '--type=merge', '-p', '{"data":{"v":"3"}}')).code, 0);
    await eventually(async () => {
      assert.equal(await hostData('after'), '2');
      assert.equal(await hostData('before'), '3');
    });
  });
});
