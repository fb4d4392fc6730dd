import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '@kubenest/kube';
import { PluginHost } from '@kubenest/kubenest';
import { eventually, kubenest, run, startHostCluster, tempDir, testBinaries, testPlugins, type TestHostCluster } from '@kubenest/testing';

/**
 * Issue 9 §7: what the vcluster-sdk examples do not cover, with our own Go plugin `kntest`
 * (tools/test-plugins: hashicorp/go-plugin and our own pluginv2 code): an interceptor, PLUGIN_CONFIG
 * received as YAML and checked, an import from the host, and go-plugin's bad input (a flood of
 * output, a wrong magic cookie, a wrong protocol version).
 */

/** Live kntest processes (by their executable), to prove none is left behind. */
function kntestPids(executable: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) === executable) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

describe('our own Go test plugin on the plugin host: bad input and a flood of output', () => {
  const dir = tempDir('kn-plugo-');
  let executable: string;
  const hosts: PluginHost[] = [];
  const start = async (plugins: Record<string, unknown>): Promise<PluginHost> => {
    const host = await PluginHost.start({
      vclusterName: 'demo', hostNamespace: 'vcluster-demo', values: { plugins }, hostCredentials: () => Promise.resolve({ server: 'https://127.0.0.1:1' }),
      virtualKubeconfigFile: join(dir.path, 'kubeconfig'), mappingStore: { endpoint: '127.0.0.1:1', caFile: 'ca', certFile: 'c', keyFile: 'k' },
      dataDir: join(dir.path, 'vc'), logsDir: join(dir.path, 'vc', 'logs'), progress: () => {},
    });
    hosts.push(host);
    return host;
  };
  const failing = async (name: string, config: unknown, pattern: RegExp): Promise<void> => {
    const before = new Set(kntestPids(executable));
    await assert.rejects(start({ [name]: { path: executable, ...(config === undefined ? {} : { config }) } }), pattern);
    assert.deepEqual(kntestPids(executable).filter((pid) => !before.has(pid)), [], 'no kntest process is left');
  };

  before(async () => {
    executable = join(await testPlugins(), 'kntest');
    writeFileSync(join(dir.path, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  });
  after(async () => {
    for (const host of hosts) await host.stop();
    dir.remove();
  });

  it('a wrong magic cookie: go-plugin\'s own refusal is quoted, naming the plugin', () => failing('cookie', { label: 'a', mode: 'bad-cookie' },
    /plugin "cookie" \(.*kntest\) exited before the handshake \(exit code 1\); its last stderr lines: This binary is a plugin\. These are not meant to be executed directly\./));

  it('a wrong protocol version: named, with the version it speaks and the one offered', () => failing('proto', { label: 'a', mode: 'bad-protocol' },
    /plugin "proto" \(.*kntest\) speaks plugin protocol version 7, the host offered 1/));

  it('PLUGIN_CONFIG checked by the plugin: an unknown field and a missing one fail Initialize, quoted', async () => {
    await failing('unknown', { label: 'a', colour: 'red' }, /plugin "unknown" \(.*kntest\): Initialize failed: PLUGIN_CONFIG is not valid YAML for this plugin: .*unknown field "colour"/);
    await failing('absent', undefined, /plugin "absent" \(.*kntest\): Initialize failed: PLUGIN_CONFIG is empty: this plugin needs at least `label`/);
  });

  it('a plugin flooding stdout and stderr with megabytes: drained in full, its hooks keep working, our log stays small', async () => {
    // 8 MiB of 1 KiB lines plus one 8 MiB line without a newline, on each of four streams (raw stdout
    // and stderr, go-plugin's GRPCStdio stdout and stderr): 64 MiB in all.
    const host = await start({ flood: { path: executable, config: { label: 'flood', flood: 8 } } });
    const pid = host.status()[0]!.pid!;
    for (let i = 0; i < 50; i++) {
      const out = await host.mutate<KubeObject>('CreatePhysical', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'x' } });
      assert.equal(out.metadata?.labels?.['kntest-flood'], 'yes');
    }
    const doneFile = join(dir.path, 'vc', 'plugins', 'flood', 'flood-done');
    // The plugin writes it once every one of its writes returned: nothing of it was left unread.
    await eventually(() => assert.ok(existsSync(doneFile), 'the plugin is still blocked writing its output'), { timeoutMs: 300_000, intervalMs: 500 });
    const after = await host.mutate<KubeObject>('UpdatePhysical', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after', namespace: 'x' } });
    assert.equal(after.metadata?.labels?.['kntest-flood'], 'yes');
    const status = host.status()[0]!;
    assert.equal(status.state, 'running');
    assert.equal(status.pid, pid);
    assert.equal(status.restarts, 0);
    const logFile = join(dir.path, 'vc', 'logs', 'plugin', 'flood.log');
    await eventually(() => assert.match(readFileSync(logFile, 'utf8'), /not logged/), { timeoutMs: 30_000 });
    const size = statSync(logFile).size;
    assert.ok(size < 8 * 1024 * 1024, `the plugin's log is ${size} bytes for 64 MiB of output`);
    const log = readFileSync(logFile, 'utf8');
    assert.match(log, /more characters of this line dropped/, 'a line without a newline is clipped');
    assert.ok(log.split('\n').every((line) => line.length < 16 * 1024), 'no logged line is longer than a clipped one');
  });
});

describe('our own Go test plugin in a virtual cluster: interceptor, PLUGIN_CONFIG as YAML, an import from the host', () => {
  const dir = tempDir('kn-plugv-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 300_000 });
  const vkubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', join(dir.path, 'vclusters', 'own', 'kubeconfig'), ...args]);

  before(async () => {
    const plugins = await testPlugins();
    host = await startHostCluster({ nodes: 1 });
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    writeFileSync(join(dir.path, 'values.yaml'), [
      'sync:', '  toHost:', '    configMaps:', '      all: true',
      'plugins:', '  kntest:', `    path: ${join(plugins, 'kntest')}`, '    config:', '      label: own',
      // "yes" and the key n are YAML 1.1 booleans to a Go plugin unless PLUGIN_CONFIG quotes them.
      '      echo:', '        list: [a, b]', '        count: 1', '        nested: {deep: "yes", "n": "no"}',
      '      interceptor: true',
      '      import: {namespace: default, name: kntest-source}',
      // What the import reads on the host, for when plugins hold only their own rights (issue 9 §6).
      '    rbac:', '      clusterRole:', '        extraRules:', '          - {apiGroups: [""], resources: [configmaps], verbs: [get]}',
    ].join('\n') + '\n');
    const created = await cli('create', 'own', '-f', join(dir.path, 'values.yaml'));
    assert.equal(created.code, 0, `${created.stdout}\n${created.stderr}`);
  });
  after(async () => {
    await cli('delete', 'own');
    await host?.dispose();
    dir.remove();
  });

  it('kubenest create with a plugin of the wrong magic cookie fails naming it, and leaves no plugin process', async () => {
    const executable = join(await testPlugins(), 'kntest');
    const before = new Set(kntestPids(executable));
    writeFileSync(join(dir.path, 'cookie.yaml'), `plugins:\n  other-product:\n    path: ${executable}\n    config: {label: a, mode: bad-cookie}\n`);
    const created = await cli('create', 'cookie', '-f', join(dir.path, 'cookie.yaml'));
    assert.equal(created.code, 1, created.stdout);
    assert.match(created.stderr, /plugin "other-product" \(.*kntest\) exited before the handshake \(exit code 1\); its last stderr lines: This binary is a plugin\./);
    assert.deepEqual(kntestPids(executable).filter((pid) => !before.has(pid)), [], 'no kntest process is left');
    const removed = await cli('delete', 'cookie');
    assert.equal(removed.code, 0, removed.stderr);
  });

  it('kubenest plugins shows its interceptors', async () => {
    const json = await cli('plugins', 'own', '--json');
    assert.equal(json.code, 0, json.stderr);
    const [status] = JSON.parse(json.stdout) as { name: string; state: string; leader: boolean; interceptors: string[]; hooks: unknown[] }[];
    assert.equal(status?.name, 'kntest');
    assert.equal(status.state, 'running');
    assert.deepEqual(status.interceptors, ['kntest-pods', 'kntest-url']);
    assert.deepEqual(status.hooks, [{ apiVersion: 'v1', kind: 'ConfigMap', types: ['CreatePhysical', 'UpdatePhysical'] }]);
    const text = await cli('plugins', 'own');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /interceptors: kntest-pods, kntest-url/);
  });

  it('PLUGIN_CONFIG reaches the plugin as the YAML of `config`: its hook labels and echoes it on the host copy', async () => {
    assert.equal((await vkubectl('create', 'configmap', 'echoed', '-n', 'default', '--from-literal=a=b')).code, 0);
    const got = await eventually(async () => {
      const out = await host.kubectl('get', 'configmap', 'echoed-x-default-x-own', '-n', 'vcluster-own', '-o', 'json');
      assert.equal(out.code, 0, out.stderr);
      return JSON.parse(out.stdout) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
    }, { timeoutMs: 60_000 });
    assert.equal(got.metadata.labels['kntest-own'], 'yes');
    assert.deepEqual(JSON.parse(got.metadata.annotations['kntest/echo']!), { list: ['a', 'b'], count: 1, nested: { deep: 'yes', n: 'no' } });
  });

  it('the syncer\'s metrics endpoint (printed by `kubenest plugins`) counts the hook calls and what the syncers did', async () => {
    const text = await cli('plugins', 'own');
    assert.equal(text.code, 0, text.stderr);
    const url = /metrics \(the syncer's endpoint[^)]*\): (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(text.stdout)?.[1];
    assert.ok(url, text.stdout);
    assert.equal((await vkubectl('create', 'configmap', 'counted', '-n', 'default', '--from-literal=a=b')).code, 0);
    await eventually(async () => {
      const metrics = await (await fetch(url)).text();
      const calls = Number(/kubenest_plugin_hook_calls_total\{plugin="kntest",type="CreatePhysical"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(calls >= 1, `CreatePhysical calls of kntest: ${calls}`);
      const created = Number(/kubenest_syncer_operations_total\{syncer="configmap",operation="created"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(created >= 1, `ConfigMaps created on the host: ${created}`);
      assert.match(metrics, /kubenest_syncer_leading 1/);
      assert.match(metrics, /kubenest_plugin_hook_duration_seconds_bucket\{le="0.002",plugin="kntest",type="CreatePhysical"\} \d+/);
    }, { timeoutMs: 60_000 });
  });

  it('an import from the host: the plugin copies a host ConfigMap into the virtual cluster after SetLeader, and follows its changes', async () => {
    assert.equal((await host.kubectl('create', 'configmap', 'kntest-source', '-n', 'default', '--from-literal=colour=blue')).code, 0);
    await eventually(async () => {
      const out = await vkubectl('get', 'configmap', 'kntest-source', '-n', 'default', '-o', 'jsonpath={.data.colour} {.metadata.labels.imported-by}');
      assert.equal(out.stdout, 'blue kntest', out.stderr);
    }, { timeoutMs: 60_000 });
    assert.equal((await host.kubectl('patch', 'configmap', 'kntest-source', '-n', 'default', '--type=merge', '-p', '{"data":{"colour":"green"}}')).code, 0);
    await eventually(async () => {
      const out = await vkubectl('get', 'configmap', 'kntest-source', '-n', 'default', '-o', 'jsonpath={.data.colour}');
      assert.equal(out.stdout, 'green', out.stderr);
    }, { timeoutMs: 60_000 });
  });
});
