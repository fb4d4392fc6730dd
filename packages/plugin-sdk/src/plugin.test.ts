import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { controller, grpc, health, pluginv2, ProtobufEmpty, stdio } from '@kubenest/plugin-proto';
import { NOT_A_COMMAND } from './plugin.ts';

const TEST_PLUGIN = new URL('./testdata/test-plugin.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kn-sdk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run { stdout: string; stderr: string; code: number | null }

/** Runs the test plugin to its end (for the cases where it must refuse to start). */
function runToEnd(env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TEST_PLUGIN], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ stdout, stderr, code }));
  });
}

const unary = <Res>(fn: (cb: (error: grpc.ServiceError | null, response: Res) => void) => void): Promise<Res> =>
  new Promise((resolve, reject) => fn((error, response) => (error ? reject(error) : resolve(response))));

describe('a plugin written with the SDK, on the wire', () => {
  it('run by hand (no VCLUSTER_PLUGIN cookie) it refuses with go-plugin\'s words and exit code 1', async () => {
    const ran = await runToEnd({ PLUGIN_CONFIG: 'prefix: x' });
    assert.equal(ran.code, 1);
    assert.equal(ran.stdout, '');
    assert.equal(ran.stderr, NOT_A_COMMAND);
    assert.match(ran.stderr, /^This binary is a plugin\. These are not meant to be executed directly\./);
  });

  it('a PLUGIN_CONFIG that does not match its schema stops it before the handshake, naming the field', async () => {
    const ran = await runToEnd({ VCLUSTER_PLUGIN: 'vcluster', PLUGIN_CONFIG: 'prefix: 3\n', PLUGIN_UNIX_SOCKET_DIR: dir });
    assert.equal(ran.code, 1);
    assert.equal(ran.stdout, '', 'no handshake line');
    const entry = JSON.parse(ran.stderr.trim()) as Record<string, string>;
    assert.equal(entry['@level'], 'error');
    assert.match(entry['@message']!, /PLUGIN_CONFIG does not match the plugin's schema; fix the plugin's `config` in the values file:\n {2}config\.prefix: expected string, got number 3/);
  });

  it('a hook the SDK refuses (after Initialize) ends the plugin with the reason as an hclog error', async () => {
    const child = spawn(process.execPath, [TEST_PLUGIN], {
      env: { PATH: process.env['PATH'], VCLUSTER_PLUGIN: 'vcluster', PLUGIN_CONFIG: 'prefix: bad-hook\n', PLUGIN_UNIX_SOCKET_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
    const socket = /^1\|1\|unix\|(.+)\|grpc\|$/.exec(first)![1]!;
    const client = new pluginv2.PluginClient(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const initConfig = { config: Buffer.from(JSON.stringify({ name: 'demo' })).toString('base64'), workingDir: dir, port: 0 };
      await assert.rejects(unary((cb) => client.initialize({ config: JSON.stringify(initConfig) }, cb)));
      assert.equal(await exited, 1);
    } finally {
      client.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const entry = JSON.parse(stderr.trim().split('\n').at(-1)!) as Record<string, string>;
    assert.equal(entry['@level'], 'error');
    assert.equal(entry['@message'], 'plugin failed: hook 2: kind must be a Kind like "Pod" (got "configmaps")');
    assert.equal(existsSync(socket), false, 'its socket removed');
  });

  it('an interceptor is reported by GetPluginConfig and served on 127.0.0.1:<InitConfig port> once Initialize returns', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const child = spawn(process.execPath, [TEST_PLUGIN], {
      env: { PATH: process.env['PATH'], VCLUSTER_PLUGIN: 'vcluster', PLUGIN_CONFIG: 'prefix: intercept\n', PLUGIN_UNIX_SOCKET_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
    const socket = /^1\|1\|unix\|(.+)\|grpc\|$/.exec(first)![1]!;
    const client = new pluginv2.PluginClient(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const initConfig = { config: Buffer.from(JSON.stringify({ name: 'demo', hostNamespace: 'vcluster-demo' })).toString('base64'), workingDir: dir, port };
      await unary((cb) => client.initialize({ config: JSON.stringify(initConfig) }, cb));
      assert.deepEqual(JSON.parse((await unary<pluginv2.GetPluginConfig_Response>((cb) => client.getPluginConfig({}, cb))).config), {
        clientHooks: [{ apiVersion: 'v1', kind: 'ConfigMap', types: ['CreatePhysical'] }],
        interceptors: { cm: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] },
      });
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/configmaps/x`, { headers: { 'Vcluster-Plugin-Handler-Name': 'cm' } });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'intercept-x' } });
    } finally {
      client.close();
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('serves go-plugin and pluginv2 over its unix socket: handshake first and alone on stdout, health, Initialize, hooks, SetLeader, Shutdown', async () => {
    const child = spawn(process.execPath, [TEST_PLUGIN], {
      env: { PATH: process.env['PATH'], VCLUSTER_PLUGIN: 'vcluster', PLUGIN_CONFIG: 'prefix: hello\n', PLUGIN_UNIX_SOCKET_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      const stderrLines: string[] = [];
      createInterface({ input: child.stderr }).on('line', (line) => stderrLines.push(line));
      const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const match = /^1\|1\|unix\|(.+)\|grpc\|$/.exec(first);
      assert.ok(match, first);
      const socket = match[1]!;
      assert.ok(socket.startsWith(`${dir}/plugin`), socket);
      assert.ok(existsSync(socket), 'listening when it says so');

      const target = `unix://${socket}`;
      const options = { 'grpc.max_receive_message_length': 2 ** 31 - 1, 'grpc.max_send_message_length': 2 ** 31 - 1 };
      const client = new pluginv2.PluginClient(target, grpc.credentials.createInsecure(), options);
      const healthClient = new health.HealthClient(target, grpc.credentials.createInsecure(), { channelOverride: client.getChannel() });
      const controllerClient = new controller.GRPCControllerClient(target, grpc.credentials.createInsecure(), { channelOverride: client.getChannel() });
      try {
        const status = await unary<health.HealthCheckResponse>((cb) => healthClient.check({ service: 'plugin' }, cb));
        assert.equal(status.status, health.HealthCheckResponse_ServingStatus.SERVING);
        // Before Initialize, as the Go SDK: no hooks yet.
        assert.equal((await unary<pluginv2.GetPluginConfig_Response>((cb) => client.getPluginConfig({}, cb))).config, '{}');
        const early = await unary<pluginv2.Mutate_Response>((cb) => client.mutate({ apiVersion: 'v1', kind: 'ConfigMap', type: 'CreatePhysical', object: '{"metadata":{"name":"x"}}' }, cb));
        assert.deepEqual(early, { mutated: false, object: '' });

        const workingDir = realpathSync(mkdtempSync(join(dir, 'wd-')));
        const initConfig = {
          config: Buffer.from(JSON.stringify({ name: 'demo', hostNamespace: 'vcluster-demo' })).toString('base64'),
          controlPlaneConfig: Buffer.from('apiVersion: v1\nkind: Config\n').toString('base64'),
          syncerConfig: '', workingDir, port: 0,
        };
        await unary((cb) => client.initialize({ config: JSON.stringify(initConfig) }, cb));
        assert.deepEqual(JSON.parse((await unary<pluginv2.GetPluginConfig_Response>((cb) => client.getPluginConfig({}, cb))).config), {
          clientHooks: [{ apiVersion: 'v1', kind: 'ConfigMap', types: ['CreatePhysical'] }],
        });

        const cm = JSON.stringify({ metadata: { name: 'settings', namespace: 'default', creationTimestamp: null }, data: { a: 'b' } });
        const mutated = await unary<pluginv2.Mutate_Response>((cb) => client.mutate({ apiVersion: 'v1', kind: 'ConfigMap', type: 'CreatePhysical', object: cm }, cb));
        assert.equal(mutated.mutated, true);
        assert.deepEqual(JSON.parse(mutated.object), {
          metadata: { name: 'settings', namespace: 'default', creationTimestamp: null },
          data: { a: 'b', prefix: 'hello', cwd: workingDir, vcluster: 'demo' },
        });
        const untouched = await unary<pluginv2.Mutate_Response>((cb) => client.mutate({ apiVersion: 'v1', kind: 'ConfigMap', type: 'UpdatePhysical', object: cm }, cb));
        assert.deepEqual(untouched, { mutated: false, object: '' });
        const refuse = JSON.stringify({ metadata: { name: 'refuse-me' } });
        await assert.rejects(unary((cb) => client.mutate({ apiVersion: 'v1', kind: 'ConfigMap', type: 'CreatePhysical', object: refuse }, cb)), (error: grpc.ServiceError) => {
          assert.equal(error.code, grpc.status.UNKNOWN);
          assert.equal(error.details, 'error mutating object: stamp CreatePhysical: refused by test plugin');
          return true;
        });

        // The host's GRPCStdio stream, as go-plugin's client opens it: stdout comes over it from now on.
        const stdioClient = new stdio.GRPCStdioClient(target, grpc.credentials.createInsecure(), { channelOverride: client.getChannel() });
        const forwarded: stdio.StdioData[] = [];
        const stdioStream = stdioClient.streamStdio(ProtobufEmpty.create());
        stdioStream.on('data', (data: stdio.StdioData) => forwarded.push(data));
        stdioStream.on('error', () => {});
        await once(stdioStream, 'metadata');
        await unary((cb) => client.setLeader({}, cb));
        await waitFor(() => stderrLines.some((l) => l.includes('"@message":"leader work ran"')));
        await waitFor(() => forwarded.some((d) => d.channel === stdio.StdioData_Channel.STDOUT && Buffer.from(d.data).toString() === 'printed once leading\n'));
        const entries = stderrLines.map((l) => JSON.parse(l) as Record<string, unknown>);
        for (const entry of entries) {
          assert.ok(['info', 'warn', 'error'].includes(entry['@level'] as string), JSON.stringify(entry));
          assert.equal(typeof entry['@timestamp'], 'string');
        }
        assert.ok(entries.some((e) => e['@message'] === 'printed after the handshake' && e['stream'] === 'stdout'), 'console.log went to the log');
        assert.ok(entries.some((e) => e['@level'] === 'error' && String(e['@message']).includes('refused by test plugin')));

        // go-plugin's client ignores this call's outcome (the reply may be lost to the exit); the exit is what counts.
        await unary((cb) => controllerClient.shutdown(ProtobufEmpty.create(), cb)).catch((error: grpc.ServiceError) => {
          assert.ok([grpc.status.CANCELLED, grpc.status.UNAVAILABLE].includes(error.code), error.message);
        });
        assert.equal(await exited, 0);
        assert.equal(stdout, `${first}\n`, 'nothing but the handshake line on stdout');
        assert.equal(existsSync(socket), false, 'its socket removed');
      } finally {
        client.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
