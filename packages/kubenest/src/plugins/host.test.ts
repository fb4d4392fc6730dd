import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '@kubenest/kube';
import type { Values } from '../config/values.ts';
import { isAlive, signalProcess } from '../controlplane/pids.ts';
import { pluginStatusFile } from './files.ts';
import { PluginHost, PluginRefusedError } from './host.ts';

const FAKE = fileURLToPath(new URL('./testdata/fake-plugin.ts', import.meta.url));

describe('PluginHost with stand-in plugins (process, handshake, chain, restart)', () => {
  let dir: string;
  let record: string;
  const hosts: PluginHost[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubenest-plugin-host-'));
    record = join(dir, 'record.txt');
    writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  });
  after(async () => {
    for (const host of hosts) await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (plugins: Values, extra: Partial<Parameters<typeof PluginHost.start>[0]> = {}): Promise<PluginHost> => {
    const host = await PluginHost.start({
      vclusterName: 'demo', hostNamespace: 'vcluster-demo', values: { plugins }, hostCredentials: () => Promise.resolve({ server: 'https://127.0.0.1:1', token: 'plugin-token' }),
      virtualKubeconfigFile: join(dir, 'kubeconfig'), mappingStore: { endpoint: '127.0.0.1:1', caFile: 'ca', certFile: 'c', keyFile: 'k' },
      dataDir: join(dir, 'vc'), logsDir: join(dir, 'vc', 'logs'), progress: () => {}, restartDelayMs: 100, ...extra,
    });
    hosts.push(host);
    return host;
  };
  const configMap = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'x', labels: { mine: 'kept' } }, data: { a: 'b' } });
  const startedPids = (): number[] => (existsSync(record) ? readFileSync(record, 'utf8') : '').split('\n').filter((l) => l.endsWith(' start')).map((l) => Number(l.split(' ')[0]));
  const recorded = (what: string): string[] => (existsSync(record) ? readFileSync(record, 'utf8') : '').split('\n').filter((l) => l.includes(what));

  it('loads plugins in name order and chains their hooks; Go merge keeps labels a plugin left out', async () => {
    const host = await start({
      'b-second': { path: FAKE, config: { label: 'b', record } },
      'a-first': { path: FAKE, config: { label: 'a', record } },
    });
    assert.deepEqual(host.names, ['a-first', 'b-second']);
    assert.equal(host.wants('v1', 'ConfigMap', 'CreatePhysical'), true);
    assert.equal(host.wants('v1', 'ConfigMap', 'GetVirtual'), false);
    assert.equal(host.wants('v1', 'Secret', 'CreatePhysical'), false);
    const out = await host.mutate('CreatePhysical', configMap('c1'));
    // Each plugin replaces the labels with only its own; b is given a's output (a's label only)
    // and the merge onto the original happens once, after the chain, as in vCluster: the
    // original's label stays, a's is gone because b dropped it.
    assert.deepEqual(out.metadata?.labels, { mine: 'kept', 'hooked-by-b': 'yes' });
    assert.equal(recorded('mutate CreatePhysical').length, 2);
    assert.deepEqual(out['data'], { a: 'b' });
    await host.flushStatus();
    const status = JSON.parse(readFileSync(pluginStatusFile(join(dir, 'vc')), 'utf8')) as { name: string; state: string; hooks: unknown[] }[];
    assert.deepEqual(status.map((s) => [s.name, s.state]), [['a-first', 'running'], ['b-second', 'running']]);
    assert.deepEqual(status[0]!.hooks, [{ apiVersion: 'v1', kind: 'ConfigMap', types: ['CreatePhysical', 'UpdatePhysical'] }]);
    await host.stop();
    assert.ok(startedPids().every((pid) => !isAlive(pid)), 'no plugin process is left after stop');
    assert.equal(existsSync(host.socketDir), false, 'the socket dir is removed');
  });

  it('a plugin does not inherit KUBECONFIG (the host admin kubeconfig a CLI may have been given)', async () => {
    rmSync(record, { force: true });
    const before = process.env['KUBECONFIG'];
    process.env['KUBECONFIG'] = join(dir, 'host-admin.kubeconfig');
    try {
      const host = await start({ envcheck: { path: FAKE, config: { record } } });
      await host.stop();
    } finally {
      if (before === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = before;
    }
    assert.deepEqual(recorded('env KUBECONFIG').map((l) => l.split(' ').slice(1).join(' ')), ['env KUBECONFIG (unset)']);
  });

  it('a refusal names the plugin (Fail); Ignore skips it; a hanging call times out', async () => {
    const host = await start({
      strict: { path: FAKE, config: { label: 's' }, timeoutSeconds: 1 },
      zlenient: { path: FAKE, config: { label: 'z' }, failurePolicy: 'Ignore', timeoutSeconds: 1 },
    });
    await assert.rejects(host.mutate('CreatePhysical', configMap('refuse-me')), (error: Error) => {
      assert.ok(error instanceof PluginRefusedError);
      assert.match(error.message, /plugin "strict" refused CreatePhysical v1\/ConfigMap x\/refuse-me: error mutating object: refused by fake/);
      return true;
    });
    await assert.rejects(host.mutate('UpdatePhysical', configMap('hang')), /plugin "strict" refused UpdatePhysical v1\/ConfigMap x\/hang: no answer within 1s/);
    await host.mutate('CreatePhysical', configMap('fine'));
    // Calls, refusals and latency per plugin and hook type (served by the syncer's endpoint).
    const metrics = await host.metrics.registry.metrics();
    assert.match(metrics, /kubenest_plugin_hook_calls_total\{plugin="strict",type="CreatePhysical"\} 2/);
    assert.match(metrics, /kubenest_plugin_hook_refusals_total\{plugin="strict",type="CreatePhysical"\} 1/);
    assert.match(metrics, /kubenest_plugin_hook_refusals_total\{plugin="strict",type="UpdatePhysical"\} 1/);
    assert.match(metrics, /kubenest_plugin_hook_calls_total\{plugin="zlenient",type="CreatePhysical"\} 1/);
    assert.match(metrics, /kubenest_plugin_hook_duration_seconds_count\{plugin="strict",type="CreatePhysical"\} 2/);
    await host.stop();
    const lenient = await start({ zlenient: { path: FAKE, config: { label: 'z' }, failurePolicy: 'Ignore', timeoutSeconds: 1 } });
    const out = await lenient.mutate('CreatePhysical', configMap('refuse-me'));
    assert.deepEqual(out.metadata?.labels, { mine: 'kept' }, 'an Ignore plugin that fails leaves the object as it was');
    await lenient.stop();
  });

  it('restarts a killed plugin, sends SetLeader again when leading, and its hooks work again', async () => {
    rmSync(record, { force: true });
    const host = await start({ crashy: { path: FAKE, config: { label: 'c', record } } });
    await host.setLeader();
    const [first] = startedPids();
    assert.ok(first);
    assert.equal(recorded('setLeader').length, 1);
    signalProcess(first, 'SIGKILL');
    // While it is down, its hooks fail (Fail policy): nothing passes unhooked.
    await sleep(20);
    await assert.rejects(host.mutate('CreatePhysical', configMap('c2')), /plugin "crashy" refused CreatePhysical v1\/ConfigMap x\/c2: \S/);
    const deadline = Date.now() + 15_000;
    let out: KubeObject | undefined;
    while (!out && Date.now() < deadline) {
      try {
        out = await host.mutate('CreatePhysical', configMap('c2'));
      } catch {
        await sleep(100);
      }
    }
    assert.equal(out?.metadata?.labels?.['hooked-by-c'], 'yes');
    const status = host.status()[0]!;
    assert.equal(status.restarts, 1);
    assert.equal(status.state, 'running');
    assert.match(status.lastError ?? '', /exited \(signal SIGKILL\)/);
    assert.notEqual(status.pid, first);
    // SetLeader went to the new process once, not again to the old one.
    const leaders = recorded('setLeader');
    assert.equal(leaders.length, 2);
    assert.equal(Number(leaders[1]!.split(' ')[0]), status.pid);
    await host.stop();
    assert.ok(startedPids().every((pid) => !isAlive(pid)));
  });

  it('a leadership term that ends restarts the plugins that were told; the next term tells the new process once', async () => {
    rmSync(record, { force: true });
    const host = await start({ leader: { path: FAKE, config: { record } } });
    await host.setLeader();
    const first = host.status()[0]!.pid;
    await host.endTerm();
    const second = await (async () => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const status = host.status()[0]!;
        if (status.state === 'running' && status.pid !== first) return status;
        if (Date.now() > deadline) throw new Error(`not restarted: ${JSON.stringify(status)}`);
        await sleep(100);
      }
    })();
    assert.equal(second.leader, false, 'not leading: the new process is not told');
    assert.equal(recorded('setLeader').length, 1);
    await host.setLeader();
    const leaders = recorded('setLeader');
    assert.deepEqual(leaders.map((l) => Number(l.split(' ')[0])), [first, second.pid]);
    await host.stop();
  });

  it('renews the host token before it expires: a fresh process with a fresh token, told SetLeader again', async () => {
    rmSync(record, { force: true });
    let minted = 0;
    const host = await start({ renewed: { path: FAKE, config: { label: 'r', record } } }, {
      // A token that lives 1.5 s: renewed at 80% of it (but not sooner than 1 s).
      hostCredentials: () => Promise.resolve({ server: 'https://127.0.0.1:1', token: `token-${++minted}`, expiresAt: Date.now() + 1500 }),
    });
    await host.setLeader();
    const first = host.status()[0]!.pid;
    const deadline = Date.now() + 15_000;
    let status = host.status()[0]!;
    // Until the new process is running and has written down the SetLeader it was sent.
    while ((status.state !== 'running' || status.pid === first || recorded('setLeader').length < 2) && Date.now() < deadline) {
      await sleep(100);
      status = host.status()[0]!;
    }
    assert.notEqual(status.pid, first, 'the plugin was restarted for a new token');
    assert.ok(minted >= 2, `a new token was minted (${minted})`);
    assert.match(status.lastError ?? '', /host token renewal/);
    assert.equal(isAlive(first!), false);
    assert.deepEqual(recorded('setLeader').slice(0, 2).map((l) => Number(l.split(' ')[0])), [first, status.pid]);
    const out = await host.mutate('CreatePhysical', configMap('after-renewal'));
    assert.equal(out.metadata?.labels?.['hooked-by-r'], 'yes');
    await host.stop();
  });

  describe('bad input: a clear error naming the plugin, and no process left', () => {
    const failing = async (plugins: Values, pattern: RegExp, extra: Partial<Parameters<typeof PluginHost.start>[0]> = {}): Promise<void> => {
      rmSync(record, { force: true });
      await assert.rejects(start(plugins, extra), pattern);
      await sleep(50);
      for (const pid of startedPids()) assert.equal(isAlive(pid), false, `plugin process ${pid} was left running`);
    };

    it('a missing plugin', () => failing({ gone: { path: join(dir, 'nope') } }, /plugin "gone": path .*nope does not exist/));

    it('a plugin file that is not executable', async () => {
      const copy = join(dir, 'not-exec');
      copyFileSync(FAKE, copy);
      chmodSync(copy, 0o644);
      await failing({ lazy: { path: copy } }, /plugin "lazy": path .*not-exec: .*is not executable; `chmod \+x/);
    });

    it('one that exits before the handshake', () => failing({ early: { path: FAKE, config: { mode: 'exit-early', record } } },
      /plugin "early" .* exited before the handshake \(exit code 3\); its last stderr lines: \[ERROR\] cannot start: something is missing/));

    it('one that prints something else first', () => failing({ chatty: { path: FAKE, config: { mode: 'garbage', record } } },
      /plugin "chatty" .* printed "hello, I am not a plugin" where the handshake line belongs/));

    it('one that never prints', () => failing({ mute: { path: FAKE, config: { mode: 'silent', record } } },
      /plugin "mute" .* did not print its handshake line within 1s/, { startTimeoutMs: 1000 }));

    it('one whose handshake names a socket nobody listens on', () => failing({ astray: { path: FAKE, config: { mode: 'no-socket', record } } },
      /plugin "astray" .* printed its handshake, but its socket .*nobody-here\.sock cannot be reached: .*ENOENT/));

    it('Initialize failing (and the plugins loaded before it are ended too)', () => failing({
      'a-fine': { path: FAKE, config: { record } },
      'b-broken': { path: FAKE, config: { mode: 'init-fail', record } },
    }, /plugin "b-broken" .*Initialize failed: plugin must init: no such thing/));

    it('GetPluginConfig returning invalid JSON', () => failing({ confused: { path: FAKE, config: { mode: 'bad-config', record } } },
      /plugin "confused": GetPluginConfig returned invalid JSON/));
  });
});
