import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HOST_SERVICE_CIDR, VirtualControlPlane } from '@kubenest/kubenest';
import { eventually, pidAlive, run, tempDir, testBinaries } from '@kubenest/testing';

// The virtual control plane on its own; the syncer that connects it to a host comes with issue 4.
describe('virtual control plane', () => {
  const dir = tempDir('kn-vcp-');
  let plane: VirtualControlPlane;
  const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', plane.kubeconfig, ...args]);

  before(async () => {
    plane = await VirtualControlPlane.start({ name: 'demo', dataDir: dir.path, binaries: await testBinaries(), serviceCidr: HOST_SERVICE_CIDR });
  });
  after(async () => {
    await plane?.stop();
    dir.remove();
  });

  it('serves kubectl, with the default ServiceAccount and the host service range', async () => {
    const sa = await kubectl('get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name');
    assert.equal(sa.code, 0, sa.stderr);
    assert.equal(sa.stdout.trim(), 'serviceaccount/default');
    const svc = await kubectl('create', 'service', 'clusterip', 'web', '--tcp=80:80', '--dry-run=server', '-o', 'jsonpath={.spec.clusterIP}');
    assert.equal(svc.code, 0, svc.stderr);
    assert.match(svc.stdout, /^10\.(9[6-9]|1[01][0-9])\./, 'ClusterIPs come from the host range 10.96.0.0/12');
  });

  it('runs the workload controllers but schedules nothing itself (pods wait for the host)', async () => {
    const create = await kubectl('create', 'deployment', 'web', '--image=nginx', '--replicas=2');
    assert.equal(create.code, 0, create.stderr);
    const pods = await eventually(async () => {
      const list = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.spec.nodeName}|{.status.phase}{"\\n"}{end}');
      const lines = list.stdout.trim().split('\n').filter(Boolean);
      assert.equal(lines.length, 2);
      return lines;
    }, { timeoutMs: 30_000 });
    assert.deepEqual(pods, ['|Pending', '|Pending'], 'no scheduler and no nodes in a virtual cluster');
  });

  it('lists exactly its three components, and stop ends them', async () => {
    assert.deepEqual(plane.supervisor.status().map((c) => c.name), ['kine', 'kube-apiserver', 'kube-controller-manager']);
    const pids = plane.supervisor.pids();
    await plane.stop();
    assert.deepEqual(pids.filter(pidAlive), []);
  });

  it('refuses a name that is not a DNS label', async () => {
    await assert.rejects(
      VirtualControlPlane.start({ name: 'Bad_Name', dataDir: dir.path, binaries: await testBinaries(), serviceCidr: HOST_SERVICE_CIDR }),
      /"Bad_Name" is not a valid virtual cluster name/,
    );
  });
});
