import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeClient, type KubeObject } from '@kubenest/kube';
import { configMapSyncer, eventSyncer, type Event } from '@kubenest/kubenest';
import { FromHostController } from '@kubenest/sync';
import { eventually, startSyncEnvironment, type SyncEnvironment } from '@kubenest/testing';

/** A timestamp as the Event API stores it (whole seconds). */
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

// Host events about a virtual cluster's objects, shown in the virtual cluster. The to-host
// ConfigMap syncer runs too, so a virtual ConfigMap has a host copy for events to be about.
describe('Event sync from the host', () => {
  let env: SyncEnvironment;
  let hostClient: KubeClient;
  let HOST_NS: string;
  let events: FromHostController<Event>;
  const vkubectl = (...args: string[]) => env.vkubectl(...args);
  const hostEvents = () => hostClient.resourceFor<Event>(CORE['events']!);
  const virtualEvent = async (namespace: string, name: string): Promise<Event> => {
    const result = await vkubectl('get', 'event', name, '-n', namespace, '-o', 'json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Event;
  };

  before(async () => {
    env = await startSyncEnvironment('demo');
    ({ hostClient, hostNamespace: HOST_NS } = env);
    await env.startSyncer(configMapSyncer({ all: true }));
    events = new FromHostController(env.ctx, eventSyncer({ hostNamespace: HOST_NS }));
    await events.start();
  });
  after(async () => {
    await events?.stop();
    await env?.dispose();
  });

  it('copies a host event about our host copy onto the virtual object, names and message translated', async () => {
    assert.equal((await vkubectl('create', 'namespace', 'team')).code, 0);
    assert.equal((await vkubectl('create', 'configmap', 'app-config', '-n', 'team', '--from-literal=a=1')).code, 0);
    const hostCopy = await eventually(() => hostClient.resourceFor(CORE['configmaps']!).get('app-config-x-team-x-demo', { namespace: HOST_NS }));
    const stamp = now();
    const created = await hostEvents().create({
      metadata: { name: 'app-config-x-team-x-demo.17f0c0ffee', namespace: HOST_NS },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', namespace: HOST_NS, name: 'app-config-x-team-x-demo', uid: hostCopy.metadata?.uid ?? '' },
      reason: 'Checked', type: 'Normal', count: 1, firstTimestamp: stamp, lastTimestamp: stamp, source: { component: 'checker' },
      message: `ConfigMap ${HOST_NS}/app-config-x-team-x-demo checked; app-config-x-team-x-demo is fine`,
    });

    const event = await eventually(() => virtualEvent('team', 'app-config.17f0c0ffee'));
    const virtualConfigMap = JSON.parse((await vkubectl('get', 'configmap', 'app-config', '-n', 'team', '-o', 'json')).stdout) as KubeObject;
    assert.equal(event.metadata?.namespace, 'team');
    assert.deepEqual(event.involvedObject, {
      apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team', name: 'app-config',
      uid: virtualConfigMap.metadata?.uid, resourceVersion: virtualConfigMap.metadata?.resourceVersion,
    });
    assert.equal(event.message, 'ConfigMap team/app-config checked; app-config is fine');
    assert.equal(event['reason'], 'Checked');
    assert.equal(event['count'], 1);
    assert.deepEqual(event['source'], { component: 'checker' });
    // Nothing is written back to the host.
    const hostEvent = await hostEvents().get('app-config-x-team-x-demo.17f0c0ffee', { namespace: HOST_NS });
    assert.equal(hostEvent.metadata?.resourceVersion, created.metadata?.resourceVersion);
    const described = await vkubectl('describe', 'configmap', 'app-config', '-n', 'team');
    assert.match(described.stdout, /Normal\s+Checked\s+\S+\s+checker\s+ConfigMap team\/app-config checked; app-config is fine/);
  });

  it('applies later host updates (count, lastTimestamp, message) to the virtual event', async () => {
    const current = await hostEvents().get('app-config-x-team-x-demo.17f0c0ffee', { namespace: HOST_NS });
    const later = new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await hostEvents().update({ ...current, count: 5, lastTimestamp: later, message: 'app-config-x-team-x-demo checked again' });
    await eventually(async () => {
      const event = await virtualEvent('team', 'app-config.17f0c0ffee');
      assert.equal(event['count'], 5);
      assert.equal(event['lastTimestamp'], later);
      assert.equal(event.message, 'app-config checked again');
    });
  });

  it('puts a force-sync event about an object not ours into default, detached; ignores other foreign events', async () => {
    await hostClient.resourceFor(CORE['configmaps']!).create({ metadata: { name: 'host-only', namespace: HOST_NS } });
    const stamp = now();
    const about = { apiVersion: 'v1', kind: 'ConfigMap', namespace: HOST_NS, name: 'host-only' };
    await hostEvents().create({
      metadata: { name: 'host-only.unforced', namespace: HOST_NS }, involvedObject: about,
      reason: 'Quiet', type: 'Normal', count: 1, firstTimestamp: stamp, lastTimestamp: stamp, message: 'not for the virtual cluster',
    });
    await hostEvents().create({
      metadata: { name: 'host-only.forced', namespace: HOST_NS, annotations: { 'vcluster.loft.sh/force-sync': 'true', note: 'kept' } },
      involvedObject: about, reason: 'Forced', type: 'Warning', count: 1, firstTimestamp: stamp, lastTimestamp: stamp,
      message: `about ${HOST_NS}/host-only`,
    });

    const event = await eventually(() => virtualEvent('default', 'host-only.forced'));
    assert.deepEqual(event.involvedObject, {});
    assert.equal(event.message, `about ${HOST_NS}/host-only`);
    assert.equal(event['reason'], 'Forced');
    assert.deepEqual(event.metadata?.annotations, { note: 'kept' });
    await events.drain();
    const unforced = await vkubectl('get', 'event', 'host-only.unforced', '-n', 'default');
    assert.notEqual(unforced.code, 0);
    assert.match(unforced.stderr, /NotFound/);
  });
});
