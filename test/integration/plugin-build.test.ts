// Issue 11, "Building and shipping a plugin": `kubenest plugin build` makes the TypeScript hooks
// example into executables that need no Node; the plugin host loads the build (`path:`) with no
// `node` on PATH and its hooks work; the portable variant starts in a root whose only C library is
// Debian's musl (as in vCluster's Alpine syncer image); `--image --push` writes an OCI image to a
// real registry on 127.0.0.1, which the plugin host's `image:` loader pulls and runs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '@kubenest/kube';
import { PluginBuildError, resolvePluginImage, startPlugins, writePluginImage, type Plugins } from '@kubenest/kubenest';
import { grpc, health } from '@kubenest/plugin-proto';
import { REPO_ROOT, kubenest, startSyncEnvironment, startTestRegistry, tempDir, type SyncEnvironment, type TestRegistry } from '@kubenest/testing';

const HOOKS = join(REPO_ROOT, 'examples/plugins/hooks');
const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';
const BUSYBOX = '/bin/busybox';

/** True for a static ELF (no loader): what a root without any C library can run as /bin/sh. */
function isStatic(file: string): boolean {
  if (!existsSync(file)) return false;
  const ldd = spawnSync('ldd', [file], { encoding: 'utf8' });
  return `${ldd.stdout}${ldd.stderr}`.includes('not a dynamic executable');
}

/**
 * PATH as it is, less Node: directories holding a `node` are replaced by one directory of links to
 * everything else they hold (the plugin host needs setpriv from /usr/bin, which holds a node too).
 */
function pathWithoutNode(shadow: string): string {
  mkdirSync(shadow, { recursive: true });
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  const kept = dirs.filter((d) => !existsSync(join(d, 'node')));
  for (const d of dirs.filter((x) => existsSync(join(x, 'node')))) {
    for (const name of readdirSync(d)) {
      if (/^(node|nodejs|npm|npx|corepack)$/.test(name) || existsSync(join(shadow, name))) continue;
      symlinkSync(join(d, name), join(shadow, name));
    }
  }
  return [...kept, shadow].join(delimiter);
}

/** Where a command is, from this process's PATH or the usual system directories. */
function which(command: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8', env: { PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin` } });
  assert.equal(found.status, 0, `${command} is not installed`);
  return found.stdout.trim();
}

const pod = (ns: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: ns }, spec: { containers: [{ name: 'c', image: 'i' }] } });
const service = (ns: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: ns }, spec: { ports: [{ name: 'web', port: 80, protocol: 'TCP' }] } });

describe('kubenest plugin build (the TypeScript hooks example)', () => {
  const dir = tempDir('kn-build-');
  const out = join(dir.path, 'dist');
  let registry: TestRegistry;
  let env: SyncEnvironment;
  let image = '';
  let buildOutput = '';
  const started: Plugins[] = [];
  const savedPath = process.env['PATH'];

  before(async () => {
    registry = await startTestRegistry({ dir: join(dir.path, 'registry') });
    image = `${registry.host}/kubenest-test/hooks:build`;
    const built = await kubenest(['plugin', 'build', HOOKS, '--out', out, '--image', image, '--push'], { timeoutMs: 600_000 });
    buildOutput = built.stderr;
    assert.equal(built.code, 0, built.stderr);
    env = await startSyncEnvironment('build');
  });
  after(async () => {
    process.env['PATH'] = savedPath;
    for (const plugins of started) await plugins.stop();
    await env?.dispose();
    await registry?.stop();
    dir.remove();
  });

  const load = async (name: string, entry: Record<string, unknown>): Promise<Plugins> => {
    const plugins = await startPlugins({
      name: 'build', hostNamespace: env.hostNamespace, values: { plugins: { [name]: entry } }, layout: env.plane.layout, host: env.hostClient,
      progress: () => {},
    });
    started.push(plugins);
    return plugins;
  };

  it('writes OUT/plugin (one file), OUT/portable/plugin with its glibc runtime, and build.json', () => {
    assert.match(buildOutput, /built .*dist\/plugin \(Node v22\.\d+\.\d+/);
    for (const file of ['plugin', 'portable/plugin', 'portable/runtime/plugin', 'portable/runtime/ld-linux-x86-64.so.2', 'portable/runtime/libc.so.6', 'build.json']) {
      assert.ok(existsSync(join(out, file)), `${file} is missing: ${readdirSync(out).join(' ')}`);
    }
    const record = JSON.parse(readFileSync(join(out, 'build.json'), 'utf8')) as { entry: string; node: { version: string } };
    assert.equal(record.entry, join(HOOKS, 'plugin.ts'));
    assert.match(record.node.version, /^v22\./);
  });

  it('run by hand (no VCLUSTER_PLUGIN), the built plugin says what Go plugins say and exits 1', () => {
    const ran = spawnSync(join(out, 'plugin'), { encoding: 'utf8', env: { PATH: pathWithoutNode(join(dir.path, 'no-node')) }, timeout: 60_000 });
    assert.equal(ran.status, 1, ran.stderr);
    assert.match(ran.stderr, /This binary is a plugin\. These are not meant to be executed directly\./);
  });

  it('the plugin host loads the build (path:) with no node on PATH, and its hooks label pods and add the Service port', async () => {
    const path = pathWithoutNode(join(dir.path, 'no-node'));
    assert.notEqual(spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: path } }).status, 0, 'node is still on PATH');
    process.env['PATH'] = path; // the plugin host starts the plugin with this process's environment
    let plugins: Plugins;
    try {
      plugins = await load('hooks', { path: out });
    } finally {
      process.env['PATH'] = savedPath;
    }
    const [status] = plugins.host!.status();
    assert.equal(status!.state, 'running');
    assert.equal(status!.executable, join(out, 'plugin'));
    assert.deepEqual(status!.hooks, [
      { apiVersion: 'v1', kind: 'Pod', types: ['CreatePhysical', 'UpdatePhysical'] },
      { apiVersion: 'v1', kind: 'Service', types: ['CreatePhysical', 'GetVirtual'] },
      { apiVersion: 'v1', kind: 'Secret', types: ['GetVirtual'] },
    ]);
    // The process is the single executable itself, not a node running a script.
    const cmdline = readFileSync(`/proc/${status!.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.ok(cmdline.some((arg) => arg.endsWith('dist/plugin')), cmdline.join(' '));
    assert.ok(!cmdline.some((arg) => arg.endsWith('.ts') || arg.endsWith('.mjs')), cmdline.join(' '));
    const labelled = await plugins.host!.mutate('CreatePhysical', pod(env.hostNamespace));
    assert.equal(labelled.metadata?.labels?.['created-by-plugin'], 'pod-hook');
    const withPort = await plugins.host!.mutate('CreatePhysical', service(env.hostNamespace)) as KubeObject & { spec: { ports: { name: string; port: number }[] } };
    assert.deepEqual(withPort.spec.ports.map((p) => `${p.name}:${p.port}`), ['web:80', 'plugin:19000']);
    await plugins.stop();
  });

  it('the image pushed to the loopback registry is pulled by the image: loader, and its /plugin runs and hooks', async () => {
    assert.match(buildOutput, /pushed 127\.0\.0\.1:\d+\/kubenest-test\/hooks:build@sha256:[0-9a-f]{64}/);
    const plugins = await load('hooks-image', { image });
    const [status] = plugins.host!.status();
    assert.equal(status!.state, 'running');
    assert.match(status!.executable, /sha256-[0-9a-f]{64}\/plugin\/plugin$/);
    // The image's /plugin is the portable build: the launcher and its runtime.
    assert.ok(existsSync(join(status!.executable, '..', 'runtime', 'ld-linux-x86-64.so.2')));
    const labelled = await plugins.host!.mutate('CreatePhysical', pod(env.hostNamespace));
    assert.equal(labelled.metadata?.labels?.['created-by-plugin'], 'pod-hook');
    await plugins.stop();
  });

  it('the OCI layout in OUT/image names the pushed manifest and holds every blob it lists', () => {
    const index = JSON.parse(readFileSync(join(out, 'image', 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    const digest = index.manifests[0]!.digest;
    assert.match(buildOutput, new RegExp(`@${digest}`));
    assert.equal(index.manifests[0]!.annotations['org.opencontainers.image.ref.name'], 'build');
    const manifest = JSON.parse(readFileSync(join(out, 'image', 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) assert.ok(existsSync(join(out, 'image', 'blobs', 'sha256', d.slice(7))), d);
    // With a static busybox on the build machine, a second layer gives vCluster's init container its /bin/sh.
    assert.equal(manifest.layers.length, isStatic(BUSYBOX) ? 2 : 1);
  });

  it('--push to a registry with Basic auth uses the docker config\'s credentials, and a wrong password is refused by name', async () => {
    const secured = await startTestRegistry({ dir: join(dir.path, 'secured'), user: { name: 'alice', password: 'secret' } });
    try {
      const config = (password: string): string => {
        const file = join(dir.path, `docker-${password}.json`);
        writeFileSync(file, JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`alice:${password}`).toString('base64') } } }));
        return file;
      };
      const reference = `${secured.host}/team/hooks:v1`;
      await assert.rejects(writePluginImage({ buildDir: out, reference, push: true, dockerConfig: config('wrong') }), (error: unknown) => {
        assert.ok(error instanceof PluginBuildError, String(error));
        assert.match(error.message, /^pushing 127\.0\.0\.1:\d+\/team\/hooks:v1: .*refused/);
        return true;
      });
      const pushed = await writePluginImage({ buildDir: out, reference, push: true, dockerConfig: config('secret') });
      assert.equal(pushed.pushed, true);
      const pulled = await resolvePluginImage('hooks', reference, { dockerConfig: config('secret'), cacheDir: join(dir.path, 'cache') });
      assert.equal(pulled.digest, pushed.digest);
      assert.ok(existsSync(join(pulled.dir, 'runtime', 'plugin')));
    } finally {
      await secured.stop();
    }
  });

  it('the portable variant starts and serves in a root whose only C library is Debian\'s musl (Alpine-like)', { skip: !existsSync(MUSL_LOADER) || !isStatic(BUSYBOX) ? `needs Debian's musl (${MUSL_LOADER}) and a static busybox (${BUSYBOX}): apt-get install musl busybox-static` : false }, async () => {
    const root = join(dir.path, 'root');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'lib'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    symlinkSync('busybox', join(root, 'bin', 'sh'));
    copyFileSync(realpathSync(MUSL_LOADER), join(root, 'lib', 'ld-musl-x86_64.so.1'));
    cpSync(join(out, 'portable'), join(root, 'plugin'), { recursive: true });
    // No glibc anywhere but the plugin's own runtime.
    const glibc = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)(libc\.so\.6|ld-linux)/.test(f));
    assert.deepEqual(glibc.filter((f) => !f.startsWith('plugin/runtime/')), []);
    // The root's own dynamic loader is musl's: a musl program would run; a glibc one would not.
    assert.notEqual(spawnSync(which('chroot'), [root, '/plugin/runtime/plugin', '--version'], { encoding: 'utf8', env: { PATH: '/bin' } }).status, 0,
      'the glibc executable ran without its runtime: the root is not glibc-free');

    const child = spawn(which('chroot'), [root, '/bin/sh', '-c', 'cd / && exec /plugin/plugin'], { env: { PATH: '/bin', VCLUSTER_PLUGIN: 'vcluster' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      const line = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`exited (${code}) before the handshake: ${stderr}`)));
        setTimeout(() => reject(new Error(`no handshake in 120 s: ${stderr}`)), 120_000);
      });
      const match = /^1\|1\|unix\|(\/tmp\/plugin[0-9a-f]+)\|grpc\|$/.exec(line);
      assert.ok(match, line);
      // It serves: go-plugin's health check through the socket, from outside the root.
      const client = new health.HealthClient(`unix://${join(root, match[1]!)}`, grpc.credentials.createInsecure());
      const answer = await new Promise<health.HealthCheckResponse>((resolve, reject) => {
        client.check({ service: 'plugin' }, (error, response) => (error ? reject(error) : resolve(response)));
      });
      client.close();
      assert.equal(answer.status, health.HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
