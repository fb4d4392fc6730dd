import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, cliSandbox, eventually, pidAlive, run, type CliSandbox } from '@kubenest/testing';

interface PluginRow { name: string; source: string; state: string; pid?: number; restarts: number; leader: boolean; hooks: { apiVersion: string; kind: string; types: string[] }[]; lastError?: string }

/**
 * Issue 11: the README's first command, `kubenest up -f examples/plugins/hooks/plugin.yaml`, brings
 * a host, a virtual cluster and the TypeScript hooks plugin (written with @kubenest/plugin-sdk),
 * and the plugin does what the Go SDK's hooks example does, seen with kubectl on the host.
 */
describe('kubenest up with the TypeScript hooks example plugin', () => {
  let sandbox: CliSandbox;
  const cli = (...args: string[]) => sandbox.cli(...args);
  const virtual = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), ...args]);
  const host = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-demo', ...args]);
  const plugins = async (): Promise<PluginRow[]> => {
    const out = await cli('plugins', 'demo', '--json');
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as PluginRow[];
  };
  let pluginPid: number | undefined;

  before(async () => {
    sandbox = await cliSandbox('kn-sdk-hooks-');
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
  });

  it('up -f plugin.yaml starts the plugin, which registers its hooks and leads', async () => {
    const up = await cli('up', '-f', join(REPO_ROOT, 'examples/plugins/hooks/plugin.yaml'));
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /plugin hooks loaded: hooks v1\/Pod CreatePhysical,UpdatePhysical; v1\/Service CreatePhysical,GetVirtual; v1\/Secret GetVirtual/);
    const [row, ...others] = await plugins();
    assert.deepEqual(others, []);
    assert.equal(row!.name, 'hooks');
    assert.equal(row!.state, 'running');
    assert.equal(row!.source, join(REPO_ROOT, 'examples/plugins/hooks'));
    assert.equal(row!.leader, true);
    assert.equal(row!.restarts, 0);
    assert.deepEqual(row!.hooks, [
      { apiVersion: 'v1', kind: 'Pod', types: ['CreatePhysical', 'UpdatePhysical'] },
      { apiVersion: 'v1', kind: 'Service', types: ['CreatePhysical', 'GetVirtual'] },
      { apiVersion: 'v1', kind: 'Secret', types: ['GetVirtual'] },
    ]);
    assert.ok(row!.pid && pidAlive(row!.pid));
    pluginPid = row!.pid;
  });

  it('the host copies of a deployment\'s pods carry the label created-by-plugin=pod-hook, the virtual pods do not', async () => {
    assert.equal((await virtual('create', 'deployment', 'web', '--image=nginx', '--replicas=2')).code, 0);
    await eventually(async () => {
      const got = await host('get', 'pods', '-l', 'created-by-plugin=pod-hook,app=web', '-o', 'jsonpath={.items[*].metadata.name}');
      assert.equal(got.code, 0, got.stderr);
      const names = got.stdout.split(' ').filter(Boolean).sort();
      assert.equal(names.length, 2, got.stdout);
      for (const name of names) assert.match(name, /^web-[a-z0-9]+-[a-z0-9]+-x-default-x-demo$/);
    }, { timeoutMs: 120_000 });
    const virtualLabelled = await virtual('get', 'pods', '-l', 'created-by-plugin', '-o', 'name');
    assert.equal(virtualLabelled.code, 0, virtualLabelled.stderr);
    assert.equal(virtualLabelled.stdout.trim(), '');
  });

  it('a Service\'s host copy gets the port 19000 "plugin" after its own (the SDK e2e check)', async () => {
    assert.equal((await virtual('create', 'service', 'clusterip', 'test123', '--tcp=1000:1000')).code, 0);
    await eventually(async () => {
      const got = await host('get', 'service', 'test123-x-default-x-demo', '-o', 'jsonpath={range .spec.ports[*]}{.name}:{.port}:{.protocol} {end}');
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout.trim(), '1000-1000:1000:TCP plugin:19000:TCP');
    }, { timeoutMs: 120_000 });
    // The virtual Service, once it has the host's ClusterIP, keeps its own ports: the GetVirtual
    // hook only shapes the syncer's view.
    await eventually(async () => {
      const ip = (await host('get', 'service', 'test123-x-default-x-demo', '-o', 'jsonpath={.spec.clusterIP}')).stdout;
      const stored = await virtual('get', 'service', 'test123', '-o', 'jsonpath={.spec.clusterIP} {range .spec.ports[*]}{.port} {end}');
      assert.equal(stored.stdout.trim(), `${ip} 1000`);
    }, { timeoutMs: 60_000 });
  });

  it('once it leads, the plugin makes Secret default/test (its virtual client), which reaches the host through its GetVirtual hook', async () => {
    await eventually(async () => {
      const got = await host('get', 'secret', 'test-x-default-x-demo', '-o', 'jsonpath={.data.my-data}');
      assert.equal(Buffer.from(got.stdout, 'base64').toString(), 'my-data', got.stderr);
    }, { timeoutMs: 120_000 });
    const stored = await virtual('get', 'secret', 'test', '-n', 'default', '-o', 'jsonpath={.metadata.annotations}');
    assert.equal(stored.code, 0, stored.stderr);
    assert.doesNotMatch(stored.stdout, /force-sync/, 'the hook shapes the syncer\'s view, not the stored Secret');
  });

  it('the plugin logs through the host as hclog JSON (its own "plugin ready" line, at info)', async () => {
    const logs = await cli('logs', 'demo', '--component', 'plugin/hooks');
    assert.equal(logs.code, 0, logs.stderr);
    const ready = logs.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string; pluginTime?: string; hooks?: unknown })
      .find((entry) => entry.msg === 'plugin ready');
    assert.ok(ready, logs.stdout.slice(-2000));
    assert.equal(ready.level, 30);
    assert.ok(ready.pluginTime, 'the line came from the plugin, with its @timestamp');
    assert.deepEqual(ready.hooks, ['v1/Pod: CreatePhysical,UpdatePhysical', 'v1/Service: CreatePhysical,GetVirtual', 'v1/Secret: GetVirtual']);
  });

  it('delete ends the plugin process', async () => {
    assert.ok(pluginPid);
    assert.equal((await cli('delete', 'demo')).code, 0);
    await eventually(() => assert.equal(pidAlive(pluginPid!), false));
  });
});
