import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, cliSandbox, eventually, pidAlive, run, type CliSandbox } from '@kubenest/testing';

interface PluginRow { name: string; state: string; pid?: number; port?: number; leader: boolean; interceptors: string[]; hooks: { apiVersion: string; kind: string; types: string[] }[] }

const BAD_INPUT_PLUGIN = join(REPO_ROOT, 'packages/plugin-sdk/src/testdata/bad-input-plugin.ts');
const CLUSTER_SCOPED_PLUGIN = join(REPO_ROOT, 'packages/plugin-sdk/src/testdata/cluster-scoped-plugin.ts');
const GARAGE_CRD = join(REPO_ROOT, 'packages/plugin-sdk/src/testdata/garage-crd.yaml');

/**
 * Issue 11: the TypeScript examples without a Go counterpart among the fixtures (import-secrets:
 * a from-host syncer; interceptor: an HTTP handler on the InitConfig port), end to end through
 * `kubenest up -f plugin.yaml`, and a plugin written with the SDK meeting bad input (a hook that
 * throws, one that returns something that is not the object, a CRD missing on the host, an
 * interceptor that throws): each a clear error in the plugin's log. The interceptors are called
 * on the plugin's port directly, as vCluster's proxy calls them: the front door that routes
 * kubectl's requests there is issue 10, built in parallel.
 */
describe('TypeScript example plugins: import-secrets, interceptor, and bad input', () => {
  let sandbox: CliSandbox;
  const cli = (...args: string[]) => sandbox.cli(...args);
  const virtual = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), ...args]);
  const host = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-demo', ...args]);
  const pluginLog = (name: string) => readFileSync(join(sandbox.vclustersDir, 'demo', 'logs', 'plugin', `${name}.log`), 'utf8');
  let rows: PluginRow[] = [];

  before(async () => {
    sandbox = await cliSandbox('kn-sdk-ex-');
    writeFileSync(join(sandbox.dir, 'bad.yaml'), [
      'sync:', '  toHost:', '    configMaps:', '      all: true',
      'plugins:', '  bad-input:', `    path: ${BAD_INPUT_PLUGIN}`,
      '  garages:', `    path: ${CLUSTER_SCOPED_PLUGIN}`, '    rbac:', '      clusterRole:', '        extraRules:',
      '          - apiGroups: ["example.kubenest.dev"]', '            resources: ["garages"]', '            verbs: ["create", "delete", "patch", "update", "get", "list", "watch"]',
      '          - apiGroups: ["apiextensions.k8s.io"]', '            resources: ["customresourcedefinitions"]', '            verbs: ["get", "list", "watch"]', '',
    ].join('\n'));
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
    for (const row of rows) if (row.pid) assert.equal(pidAlive(row.pid), false, `plugin ${row.name} (pid ${row.pid}) outlived kubenest delete`);
  });

  it('up -f loads the four plugins: running, leader, their interceptors registered', async () => {
    const up = await cli('up', '-f', join(REPO_ROOT, 'examples/plugins/import-secrets/plugin.yaml'), '-f', join(REPO_ROOT, 'examples/plugins/interceptor/plugin.yaml'), '-f', join(sandbox.dir, 'bad.yaml'));
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    const out = await cli('plugins', 'demo', '--json');
    assert.equal(out.code, 0, out.stderr);
    rows = JSON.parse(out.stdout) as PluginRow[];
    assert.deepEqual(rows.map((r) => [r.name, r.state, r.leader]), [['bad-input', 'running', true], ['garages', 'running', true], ['import-secrets', 'running', true], ['interceptor', 'running', true]]);
    assert.deepEqual(rows.find((r) => r.name === 'interceptor')!.interceptors, ['testinterceptor']);
    assert.deepEqual(rows.find((r) => r.name === 'bad-input')!.interceptors, ['broken']);
  });

  it('import-secrets: an annotated host Secret is imported, kept in step, a virtual edit reverted, and removed with its annotation', async () => {
    assert.equal((await host('create', 'secret', 'generic', 'test-secret', '--from-literal=my-key=my-value')).code, 0);
    assert.equal((await host('annotate', 'secret', 'test-secret', 'vcluster.loft.sh/import=test/my-test', 'keep=me')).code, 0);
    await eventually(async () => {
      const got = await virtual('get', 'secret', 'my-test', '-n', 'test', '-o', 'json');
      assert.equal(got.code, 0, got.stderr);
      const secret = JSON.parse(got.stdout) as { data: Record<string, string>; metadata: { annotations: Record<string, string> } };
      assert.equal(Buffer.from(secret.data['my-key']!, 'base64').toString(), 'my-value');
      assert.equal(secret.metadata.annotations['vcluster.loft.sh/imported'], 'vcluster-demo/test-secret');
      assert.equal(secret.metadata.annotations['keep'], 'me');
      assert.equal(secret.metadata.annotations['vcluster.loft.sh/import'], undefined);
    }, { timeoutMs: 120_000 });
    const patch = JSON.stringify({ data: { 'my-key': Buffer.from('changed').toString('base64') } });
    assert.equal((await host('patch', 'secret', 'test-secret', '-p', patch)).code, 0);
    await eventually(async () => {
      const got = await virtual('get', 'secret', 'my-test', '-n', 'test', '-o', 'jsonpath={.data.my-key}');
      assert.equal(Buffer.from(got.stdout, 'base64').toString(), 'changed');
    }, { timeoutMs: 60_000 });
    assert.equal((await virtual('label', 'secret', 'my-test', '-n', 'test', 'edited=virtually')).code, 0);
    await eventually(async () => {
      const got = await virtual('get', 'secret', 'my-test', '-n', 'test', '-o', 'jsonpath={.metadata.labels.edited}');
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, '', 'the virtual edit was reverted');
    }, { timeoutMs: 60_000 });
    assert.equal((await host('annotate', 'secret', 'test-secret', 'vcluster.loft.sh/import-')).code, 0);
    await eventually(async () => {
      const got = await virtual('get', 'secret', 'my-test', '-n', 'test', '--ignore-not-found', '-o', 'name');
      assert.equal(got.stdout.trim(), '');
    }, { timeoutMs: 60_000 });
    assert.doesNotMatch(pluginLog('import-secrets'), /forbidden/i);
  });

  it('a cluster-scoped CRD syncer: the CRD, applied to the host after the start, reaches the virtual cluster; a Garage gets its cluster-scoped host copy, kept in step and deleted with it', async () => {
    const crd = await run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), 'apply', '-f', GARAGE_CRD]);
    assert.equal(crd.code, 0, crd.stderr);
    await eventually(async () => {
      const applied = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'apply', '-f', '-'], { input: 'apiVersion: example.kubenest.dev/v1\nkind: Garage\nmetadata:\n  name: g1\nspec:\n  spaces: 3\n' });
      assert.equal(applied.code, 0, applied.stderr);
    }, { timeoutMs: 90_000 });
    const hostName = 'vcluster-g1-x-vcluster-demo-x-demo';
    const hostGarage = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), 'get', 'garages.example.kubenest.dev', ...args]);
    await eventually(async () => {
      const got = await hostGarage(hostName, '-o', 'jsonpath={.spec.spaces} {.metadata.labels.vcluster\\.loft\\.sh/managed-by} {.metadata.annotations.vcluster\\.loft\\.sh/object-name}');
      assert.equal(got.stdout, '3 vcluster-demo-x-demo g1', got.stderr);
    }, { timeoutMs: 60_000 });
    assert.equal((await virtual('patch', 'garage', 'g1', '--type=merge', '-p', '{"spec":{"spaces":5}}')).code, 0);
    await eventually(async () => assert.equal((await hostGarage(hostName, '-o', 'jsonpath={.spec.spaces}')).stdout, '5'), { timeoutMs: 60_000 });
    assert.equal((await virtual('delete', 'garage', 'g1')).code, 0);
    await eventually(async () => assert.equal((await hostGarage(hostName, '--ignore-not-found', '-o', 'name')).stdout.trim(), ''), { timeoutMs: 60_000 });
  });

  it('interceptor: a GET of a pod on the plugin\'s port, as the proxy sends it, answers the Pod definitelynotstuff', async () => {
    const port = rows.find((r) => r.name === 'interceptor')!.port;
    assert.ok(port);
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/test/pods/stuff`, {
      headers: { 'Vcluster-Plugin-Handler-Name': 'testinterceptor', accept: 'application/vnd.kubernetes.protobuf, */*' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    const pod = await response.json() as { kind: string; metadata: { name: string; namespace: string } };
    assert.deepEqual([pod.kind, pod.metadata.name, pod.metadata.namespace], ['Pod', 'definitelynotstuff', 'test']);
    const wrong = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/test/pods/stuff`, { headers: { 'Vcluster-Plugin-Handler-Name': 'other' } });
    assert.equal(wrong.status, 500);
    assert.equal((await wrong.json() as { reason: string }).reason, 'InternalError');
  });

  it('bad input: a hook that throws refuses the write (event PluginRefused) and says why in the plugin\'s log', async () => {
    assert.equal((await virtual('create', 'configmap', 'refuse-me', '--from-literal=a=b')).code, 0);
    await eventually(() => assert.match(pluginLog('bad-input'), /refused CreatePhysical of v1 ConfigMap: error mutating object: picky CreatePhysical: ConfigMaps named refuse-\* stay virtual/), { timeoutMs: 60_000 });
    await eventually(async () => {
      const events = await virtual('get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=refuse-me', '-o', 'jsonpath={.items[*].reason}');
      assert.match(events.stdout, /PluginRefused/);
    }, { timeoutMs: 60_000 });
    const copy = await host('get', 'configmap', 'refuse-me-x-default-x-demo', '--ignore-not-found', '-o', 'name');
    assert.equal(copy.stdout.trim(), '', 'the refused write was not made');
  });

  it('bad input: a hook that returns something that is not the object is refused, naming the hook', async () => {
    assert.equal((await virtual('create', 'configmap', 'weird-one', '--from-literal=a=b')).code, 0);
    await eventually(() => assert.match(pluginLog('bad-input'), /picky CreatePhysical returned string, not the ConfigMap; return the object or nothing/), { timeoutMs: 60_000 });
  });

  it('bad input: a CRD syncer whose CRD the host lacks says so in the log, and the plugin keeps serving', async () => {
    await eventually(() => assert.match(pluginLog('bad-input'), /syncer truck \(example\.loft\.sh\/v1 Truck\) cannot start: the host cluster has no CRD for example\.loft\.sh\/v1 Truck; apply its CustomResourceDefinition to the host cluster/), { timeoutMs: 60_000 });
    const row = JSON.parse((await cli('plugins', 'demo', '--json')).stdout) as PluginRow[];
    assert.equal(row.find((r) => r.name === 'bad-input')!.state, 'running');
  });

  it('bad input: an interceptor that throws answers a 500 Status naming it, and logs the error', async () => {
    const port = rows.find((r) => r.name === 'bad-input')!.port;
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/configmaps/x`, { headers: { 'Vcluster-Plugin-Handler-Name': 'broken' } });
    assert.equal(response.status, 500);
    const status = await response.json() as { kind: string; reason: string; code: number; message: string };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'InternalError', 500]);
    assert.equal(status.message, 'interceptor broken failed on GET /api/v1/namespaces/default/configmaps/x: this interceptor always fails');
    await eventually(() => assert.match(pluginLog('bad-input'), /interceptor broken failed on GET \/api\/v1\/namespaces\/default\/configmaps\/x: this interceptor always fails/));
  });
});
