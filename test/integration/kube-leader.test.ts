import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, EventRecorder, KubeClient, LeaderElector, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { eventually, startHostCluster, type TestHostCluster } from '@kubenest/testing';

describe('leader election and events against a real apiserver', () => {
  let host: TestHostCluster;
  let kube: KubeClient;

  before(async () => {
    host = await startHostCluster();
    kube = new KubeClient(loadKubeconfig(host.kubeconfig));
  });
  after(async () => {
    await kube?.close();
    await host?.dispose();
  });

  it('elects exactly one of two candidates; the other takes over within the lease duration when the leader stops', async () => {
    const leaseDurationMs = 4_000;
    const leading = new Set<string>();
    const log: string[] = [];
    const candidate = (identity: string): { elector: LeaderElector; stop: AbortController; done: Promise<void> } => {
      const stop = new AbortController();
      const elector = new LeaderElector(kube.rest, {
        namespace: 'default', name: 'election', identity, leaseDurationMs, renewDeadlineMs: 3_000, retryPeriodMs: 500,
        releaseOnCancel: false,
        onStartedLeading: (signal) => {
          leading.add(identity);
          log.push(`${identity} leads`);
          signal.addEventListener('abort', () => leading.delete(identity));
        },
      });
      return { elector, stop, done: elector.run(stop.signal) };
    };
    const a = candidate('a');
    const b = candidate('b');
    await eventually(() => assert.equal(leading.size, 1), { timeoutMs: 20_000 });
    // Over several renewals, never two leaders at once.
    for (let i = 0; i < 10; i++) {
      assert.ok(leading.size <= 1, `one leader at most, have ${[...leading].join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const [first] = [...leading];
    const [leader, other] = first === 'a' ? [a, b] : [b, a];
    assert.equal(leader.elector.isLeader(), true);
    assert.equal(other.elector.isLeader(), false);

    const stoppedAt = Date.now();
    leader.stop.abort(); // does not release the lease: the successor must wait for it to expire
    await leader.done;
    await eventually(() => assert.equal(other.elector.isLeader(), true), { timeoutMs: 20_000, intervalMs: 50 });
    const takeover = Date.now() - stoppedAt;
    // The old leader did not release the lease, so the successor must have waited for it to
    // expire: at least the lease duration since the last renewal (one retry period before the stop).
    assert.ok(takeover >= leaseDurationMs - 2 * 500, `took over after only ${takeover} ms, before the lease expired`);
    const lease = await kube.resourceFor(CORE['leases']!).get('election', { namespace: 'default' });
    const spec = lease['spec'] as { holderIdentity: string; leaseTransitions: number };
    assert.equal(spec.holderIdentity, other === a ? 'a' : 'b');
    assert.equal(spec.leaseTransitions, 1);
    other.stop.abort();
    await other.done;
    assert.deepEqual(log.length, 2);
  });

  it('stops the work of a leader that loses its lease', async () => {
    const stop = new AbortController();
    let workStopped = false;
    const elector = new LeaderElector(kube.rest, {
      namespace: 'default', name: 'stolen', identity: 'victim', leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300,
      onStartedLeading: (signal) => { signal.addEventListener('abort', () => { workStopped = true; }); },
    });
    const done = elector.run(stop.signal);
    await eventually(() => assert.ok(elector.isLeader()), { timeoutMs: 10_000 });
    const leases = kube.resourceFor(CORE['leases']!);
    const lease = await leases.get('stolen', { namespace: 'default' });
    // Another holder writes itself in, as a partitioned-then-returning peer might.
    await leases.update({ ...lease, spec: { ...(lease['spec'] as object), holderIdentity: 'thief', leaseDurationSeconds: 3600 } });
    await eventually(() => assert.ok(workStopped, 'the leader\'s work was stopped'), { timeoutMs: 10_000 });
    assert.equal(elector.isLeader(), false);
    stop.abort();
    await done;
  });

  it('records events, bumping the count of identical ones and combining similar ones', async () => {
    const recorder = new EventRecorder(kube.rest, 'kubenest-test');
    const subject: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject', namespace: 'default', uid: '00000000-0000-0000-0000-000000000001' } };
    for (let i = 0; i < 3; i++) await recorder.record(subject, 'Normal', 'Synced', 'synced to host');
    for (let i = 0; i < 12; i++) await recorder.record(subject, 'Warning', 'Failed', `attempt ${i} failed`);
    const events = (await kube.resourceFor(CORE['events']!).list({ namespace: 'default', fieldSelector: 'involvedObject.name=subject' })).items as (KubeObject & { reason: string; count: number; message: string })[];
    const synced = events.filter((e) => e.reason === 'Synced');
    assert.equal(synced.length, 1);
    assert.equal(synced[0]!.count, 3);
    const failed = events.filter((e) => e.reason === 'Failed');
    assert.equal(failed.length, 11, 'ten distinct messages, then one combined event');
    const combined = failed.find((e) => e.message.startsWith('(combined from similar events)'));
    assert.ok(combined);
    assert.equal(combined.count, 2);
  });
});
