import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORE, type KubeClient } from '@kubenest/kube';
import {
  fakePersistentVolumes, persistentVolumeClaimSyncer, storageClassesFromHost,
  type PersistentVolume, type PersistentVolumeClaim, type StorageClass,
} from '@kubenest/kubenest';
import type { ReconcileLoop, SyncController } from '@kubenest/sync';
import { eventually, startSyncEnvironment, tempDir, type SyncEnvironment } from '@kubenest/testing';

// PersistentVolumeClaims to the host, where the local host's own provisioner binds them; fake
// PersistentVolumes and StorageClasses mirrored from the host on the virtual side.
describe('storage: PVCs to host, fake PVs, StorageClasses from host', () => {
  let env: SyncEnvironment;
  let hostClient: KubeClient;
  let virtualClient: KubeClient;
  let HOST_NS: string;
  const loops: ReconcileLoop[] = [];
  let classes: ReconcileLoop;
  let claimsController: SyncController<PersistentVolumeClaim>;
  const vkubectl = (...args: string[]) => env.vkubectl(...args);
  const hostClaims = () => hostClient.resourceFor<PersistentVolumeClaim>(CORE['persistentvolumeclaims']!);
  const hostVolumes = () => hostClient.resourceFor<PersistentVolume>(CORE['persistentvolumes']!);
  const virtualClaims = () => virtualClient.resourceFor<PersistentVolumeClaim>(CORE['persistentvolumeclaims']!);
  const virtualVolumes = () => virtualClient.resourceFor<PersistentVolume>(CORE['persistentvolumes']!);
  const virtualClasses = () => virtualClient.resourceFor<StorageClass>(CORE['storageclasses']!);
  const hostClasses = () => hostClient.resourceFor<StorageClass>(CORE['storageclasses']!);
  const startLoop = async (loop: ReconcileLoop): Promise<ReconcileLoop> => {
    loops.push(loop);
    await loop.start();
    return loop;
  };
  const claim = (name: string, storage: string, extra: Record<string, unknown> = {}): string => JSON.stringify({
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'apps', labels: { app: 'db', release: 'r1' } },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'standard', resources: { requests: { storage } }, ...extra },
  });
  let manifests: { path: string; remove(): void };
  let applied = 0;
  const apply = async (manifest: string): Promise<void> => {
    const file = join(manifests.path, `manifest-${applied++}.json`);
    writeFileSync(file, manifest);
    const result = await vkubectl('apply', '-f', file);
    assert.equal(result.code, 0, result.stderr);
  };

  before(async () => {
    manifests = tempDir('kn-storage-');
    env = await startSyncEnvironment('demo');
    ({ hostClient, virtualClient, hostNamespace: HOST_NS } = env);
    classes = await startLoop(storageClassesFromHost(env.ctx));
    claimsController = await env.startSyncer(persistentVolumeClaimSyncer());
    await startLoop(fakePersistentVolumes(env.ctx));
    assert.equal((await vkubectl('create', 'namespace', 'apps')).code, 0);
  });
  after(async () => {
    for (const loop of loops) await loop.stop();
    await env?.dispose();
    manifests?.remove();
  });

  it('gives the local host a default StorageClass, mirrored into the virtual cluster', async () => {
    const standard = await hostClasses().get('standard');
    assert.equal(standard.provisioner, 'kubenest.dev/local');
    assert.equal(standard.volumeBindingMode, 'Immediate');
    assert.equal(standard.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
    const mirror = await eventually(() => virtualClasses().get('standard'));
    assert.equal(mirror.provisioner, 'kubenest.dev/local');
    assert.equal(mirror.reclaimPolicy, 'Delete');
    assert.equal(mirror.allowVolumeExpansion, true);
    assert.deepEqual(mirror.metadata?.annotations, {
      'storageclass.kubernetes.io/is-default-class': 'true', 'vcluster.loft.sh/controlled-by': 'host-storageclass',
    });
  });

  it('syncs a claim to the host, where it is provisioned and bound; the virtual claim is Bound to the same volume, with a fake PV', async () => {
    await apply(claim('data', '1Gi'));
    const uid = (await vkubectl('get', 'pvc', 'data', '-n', 'apps', '-o', 'jsonpath={.metadata.uid}')).stdout;
    const host = await eventually(async () => {
      const found = await hostClaims().get('data-x-apps-x-demo', { namespace: HOST_NS });
      assert.equal(found.status?.phase, 'Bound');
      return found;
    }, { timeoutMs: 60_000 });
    assert.deepEqual(host.metadata?.labels, {
      app: 'db', 'vcluster.loft.sh/label-demo-x-a4d451ec23': 'r1', 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'apps',
    });
    const markers = host.metadata?.annotations ?? {};
    assert.equal(markers['vcluster.loft.sh/object-name'], 'data');
    assert.equal(markers['vcluster.loft.sh/object-namespace'], 'apps');
    assert.equal(markers['vcluster.loft.sh/object-uid'], uid);
    assert.equal(markers['vcluster.loft.sh/object-kind'], '/v1, Kind=PersistentVolumeClaim');
    assert.equal(markers['vcluster.loft.sh/object-host-name'], 'data-x-apps-x-demo');
    assert.equal(markers['vcluster.loft.sh/object-host-namespace'], HOST_NS);
    assert.equal(markers['pv.kubernetes.io/bind-completed'], 'yes');

    // The host provisioner made the volume for the host claim; the host's binder bound them.
    const volumeName = host.spec?.volumeName ?? '';
    assert.equal(volumeName, `pvc-${host.metadata?.uid ?? ''}`);
    const hostVolume = await hostVolumes().get(volumeName);
    assert.equal(hostVolume.metadata?.annotations?.['pv.kubernetes.io/provisioned-by'], 'kubenest.dev/local');
    assert.equal(hostVolume.spec?.claimRef?.name, 'data-x-apps-x-demo');
    assert.equal(hostVolume.spec?.claimRef?.namespace, HOST_NS);

    const virtual = await eventually(async () => {
      const found = await virtualClaims().get('data', { namespace: 'apps' });
      assert.equal(found.status?.phase, 'Bound');
      assert.equal(found.spec?.volumeName, volumeName);
      return found;
    });
    const hostNow = await hostClaims().get('data-x-apps-x-demo', { namespace: HOST_NS });
    assert.deepEqual(virtual.status, hostNow.status);
    assert.equal(virtual.metadata?.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(virtual.metadata?.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');

    const fake = await eventually(async () => {
      const found = await virtualVolumes().get(volumeName);
      assert.equal(found.status?.phase, 'Bound');
      return found;
    });
    assert.deepEqual(fake.metadata?.labels, { 'vcluster.loft.sh/fake-pv': 'true' });
    assert.deepEqual(fake.metadata?.annotations, {
      'kubernetes.io/createdby': 'fake-pv-provisioner', 'pv.kubernetes.io/provisioned-by': 'fake-pv-provisioner',
      'pv.kubernetes.io/bound-by-controller': 'true',
    });
    assert.equal(fake.spec?.claimRef?.namespace, 'apps');
    assert.equal(fake.spec?.claimRef?.name, 'data');
    assert.equal(fake.spec?.claimRef?.uid, uid);
    assert.deepEqual(fake.spec?.['capacity'], { storage: '1Gi' });
    assert.equal(fake.spec?.['storageClassName'], 'standard');
    // What a tenant sees with kubectl.
    const listed = await vkubectl('get', 'pv', volumeName, '-o', 'jsonpath={.status.phase} {.spec.claimRef.namespace}/{.spec.claimRef.name}');
    assert.equal(listed.stdout, 'Bound apps/data');
  });

  it('passes an expansion to the host, whose provisioner grows the volume; the virtual claim reports the new size', async () => {
    const resize = await vkubectl('patch', 'pvc', 'data', '-n', 'apps', '--type=merge', '-p', '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}');
    assert.equal(resize.code, 0, resize.stderr);
    const host = await eventually(async () => {
      const found = await hostClaims().get('data-x-apps-x-demo', { namespace: HOST_NS });
      assert.equal(found.spec?.resources?.requests?.['storage'], '2Gi');
      return found;
    });
    await eventually(async () => assert.equal(((await hostVolumes().get(host.spec?.volumeName ?? '')).spec?.['capacity'] as Record<string, string> | undefined)?.['storage'], '2Gi'));
    await eventually(async () => assert.equal((await virtualClaims().get('data', { namespace: 'apps' })).status?.capacity?.['storage'], '2Gi'));
  });

  it('translates a PersistentVolumeClaim data source to the host name, unless skip-translate is set', async () => {
    await apply(claim('copy', '1Gi', { dataSource: { kind: 'PersistentVolumeClaim', name: 'data' } }));
    const skip = JSON.parse(claim('raw', '1Gi', { dataSource: { kind: 'PersistentVolumeClaim', name: 'data' } })) as PersistentVolumeClaim;
    skip.metadata!.annotations = { 'vcluster.loft.sh/skip-translate': 'true' };
    await apply(JSON.stringify(skip));
    await eventually(async () => {
      // The apiserver mirrors dataSource into dataSourceRef; both are translated.
      // (The apiserver writes the core group as `apiGroup: null`.)
      const copy = await hostClaims().get('copy-x-apps-x-demo', { namespace: HOST_NS });
      assert.deepEqual(copy.spec?.dataSource, { apiGroup: null, kind: 'PersistentVolumeClaim', name: 'data-x-apps-x-demo' });
      assert.deepEqual(copy.spec?.dataSourceRef, { apiGroup: null, kind: 'PersistentVolumeClaim', name: 'data-x-apps-x-demo' });
      const raw = await hostClaims().get('raw-x-apps-x-demo', { namespace: HOST_NS });
      assert.deepEqual(raw.spec?.dataSource, { apiGroup: null, kind: 'PersistentVolumeClaim', name: 'data' });
    });
    for (const name of ['copy', 'raw']) assert.equal((await vkubectl('delete', 'pvc', name, '-n', 'apps', '--wait=false')).code, 0);
  });

  it('deletes the host claim, the host volume and the fake volume when the virtual claim is deleted', async () => {
    const volumeName = (await virtualClaims().get('data', { namespace: 'apps' })).spec?.volumeName ?? '';
    assert.notEqual(volumeName, '');
    const deleted = await vkubectl('delete', 'pvc', 'data', '-n', 'apps');
    assert.equal(deleted.code, 0, deleted.stderr);
    await eventually(async () => assert.rejects(hostClaims().get('data-x-apps-x-demo', { namespace: HOST_NS }), /404/), { timeoutMs: 60_000 });
    await eventually(async () => assert.rejects(virtualVolumes().get(volumeName), /404/), { timeoutMs: 60_000 });
    await eventually(async () => assert.rejects(hostVolumes().get(volumeName), /404/), { timeoutMs: 60_000 });
  });

  it('deletes the virtual claim when its bound host claim is deleted on the host', async () => {
    await apply(claim('scratch', '1Gi'));
    await eventually(async () => assert.equal((await virtualClaims().get('scratch', { namespace: 'apps' })).status?.phase, 'Bound'), { timeoutMs: 60_000 });
    await hostClaims().delete('scratch-x-apps-x-demo', { namespace: HOST_NS });
    await eventually(async () => assert.rejects(virtualClaims().get('scratch', { namespace: 'apps' }), /404/), { timeoutMs: 60_000 });
  });

  it('mirrors only host classes matching the selector, removes its own copies that stop matching, and leaves tenant classes alone', async () => {
    await classes.stop();
    const hostClass = (name: string, labels: Record<string, string>): StorageClass => ({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name, labels }, provisioner: 'kubenest.dev/local', allowVolumeExpansion: false,
    });
    await hostClasses().create(hostClass('fast', { value: 'one' }));
    await hostClasses().create(hostClass('slow', { value: 'two' }));
    await virtualClasses().create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'mine' }, provisioner: 'example.com/tenant' });
    const selective = await startLoop(storageClassesFromHost(env.ctx, { selector: { matchLabels: { value: 'one' } } }));

    const fast = await eventually(() => virtualClasses().get('fast'));
    assert.deepEqual(fast.metadata?.labels, { value: 'one' });
    // `standard` was this syncer's copy and does not match: gone.
    await eventually(async () => assert.rejects(virtualClasses().get('standard'), /404/));
    await selective.drain();
    await assert.rejects(virtualClasses().get('slow'), /404/);
    assert.equal((await virtualClasses().get('mine')).provisioner, 'example.com/tenant');

    // A mutable field follows the host; a class that stops matching goes.
    await hostClasses().patch('fast', 'merge', { allowVolumeExpansion: true });
    await eventually(async () => assert.equal((await virtualClasses().get('fast')).allowVolumeExpansion, true));
    await hostClasses().patch('fast', 'merge', { metadata: { labels: { value: 'three' } } });
    await eventually(async () => assert.rejects(virtualClasses().get('fast'), /404/));
    assert.equal((await virtualClasses().get('mine')).provisioner, 'example.com/tenant');
  });

  it('with a class selector, keeps a claim of a class outside it virtual and says why in a SyncWarning event', async () => {
    await claimsController.stop();
    const selective = await env.startSyncer(persistentVolumeClaimSyncer({ storageClassSelector: { matchLabels: { value: 'one' } } }));
    await hostClasses().create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'gold', labels: { value: 'one' } }, provisioner: 'kubenest.dev/local' });
    await apply(claim('allowed', '1Gi', { storageClassName: 'gold' }));
    await apply(claim('blocked', '1Gi', { storageClassName: 'slow' }));
    await eventually(async () => assert.equal((await virtualClaims().get('allowed', { namespace: 'apps' })).status?.phase, 'Bound'), { timeoutMs: 60_000 });
    const warning = await eventually(async () => {
      const events = await vkubectl('get', 'events', '-n', 'apps', '--field-selector', 'involvedObject.name=blocked,reason=SyncWarning', '-o', 'jsonpath={.items[0].message}');
      assert.notEqual(events.stdout, '');
      return events.stdout;
    });
    assert.equal(warning, 'did not sync persistent volume claim "blocked" to host because the storage class "slow" in the host does not match the selector under \'sync.fromHost.storageClasses.selector\'');
    await selective.drain();
    await assert.rejects(hostClaims().get('blocked-x-apps-x-demo', { namespace: HOST_NS }), /404/);
  });
});
