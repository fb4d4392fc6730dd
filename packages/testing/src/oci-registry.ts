/**
 * A real OCI registry on loopback for the plugin-image tests: the CNCF distribution registry and
 * crane (go-containerregistry), built from the Go module proxy by tools/oci-registry/build.sh into
 * the cache on first use by resolveGoTools (keyed by versions and a hash of the build inputs,
 * never committed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, resolveGoTools, signalProcess } from '@kubenest/kubenest';

export interface OciTools { dir: string; registry: string; crane: string; htpasswd: string }

let tools: Promise<OciTools> | undefined;

/** The registry, crane and htpasswd, built by tools/oci-registry/build.sh into the cache the first time (a few minutes on 2 cores with a cold Go cache). */
export function ociTools(progress: (line: string) => void = (line) => process.stderr.write(`[oci-tools] ${line}\n`)): Promise<OciTools> {
  tools ??= resolveGoTools('oci-registry', ['registry', 'crane', 'htpasswd'], { progress })
    .then((dir) => ({ dir, registry: join(dir, 'registry'), crane: join(dir, 'crane'), htpasswd: join(dir, 'htpasswd') }));
  return tools;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as it goes in an image reference. */
  host: string;
  port: number;
  pid: number;
  /** Stops the registry process (by pid) and waits for it; its storage stays for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage. */
  start(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Storage, config and log live here (the caller removes it). */
  dir: string;
  /** Basic auth through an htpasswd file with this one user. */
  user?: { name: string; password: string };
}

/** Starts the distribution registry on 127.0.0.1 and a free port; pair with `stop()` in `after`. */
export async function startTestRegistry(options: StartRegistryOptions): Promise<TestRegistry> {
  const { registry, htpasswd } = await ociTools();
  const port = await freePort();
  mkdirSync(options.dir, { recursive: true });
  const auth = options.user ? (() => {
    const file = join(options.dir, 'htpasswd');
    const made = spawnSync(htpasswd, [options.user.name], { input: `${options.user.password}\n`, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`htpasswd failed: ${made.stderr}`);
    writeFileSync(file, made.stdout);
    return `auth:\n  htpasswd:\n    realm: kubenest-test\n    path: ${file}\n`;
  })() : '';
  const config = join(options.dir, 'config.yml');
  writeFileSync(config, `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(options.dir, 'storage')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: kubenest-test-${port}
${auth}`);
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const log = join(options.dir, 'registry.log');
    // OTEL_TRACES_EXPORTER=none: the registry would otherwise try to export traces to a collector.
    child = spawn(registry, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
    const lines: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => { lines.push(chunk.toString()); writeFileSync(log, lines.join('')); });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the registry exited (${child.exitCode}) on start: ${lines.join('')}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/v2/`);
        await response.arrayBuffer();
        if (response.status === 200 || response.status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the registry did not answer on 127.0.0.1:${port} within 60 s: ${lines.join('')}`);
      await sleep(100);
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.pid === undefined) return;
    const exited = new Promise<void>((resolvePromise) => running.once('exit', () => resolvePromise()));
    signalProcess(running.pid, 'SIGTERM');
    const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!killed) {
      signalProcess(running.pid, 'SIGKILL');
      await exited;
    }
  };
  await start();
  return {
    host: `127.0.0.1:${port}`, port, stop, start,
    get pid() { return child?.pid ?? -1; },
  };
}

/** Runs crane against loopback registries (`--insecure`: plain HTTP), with credentials from `dockerConfigDir` when given. */
export async function crane(args: string[], options: { dockerConfigDir?: string } = {}): Promise<string> {
  const { crane: bin } = await ociTools();
  const env = { ...process.env, ...(options.dockerConfigDir ? { DOCKER_CONFIG: options.dockerConfigDir } : {}) };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, [...args, '--insecure'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise(stdout.trim());
      else reject(new Error(`crane ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

export interface PushPluginOptions {
  /** Other files for the image's /plugin directory (path relative to /plugin -> content). */
  files?: Record<string, string>;
  /** Sets the image's platform (`linux/amd64`); default: none, as `crane append` leaves it. */
  platform?: string;
  /** OCI media types instead of Docker v2. */
  oci?: boolean;
  /** A DOCKER_CONFIG directory with credentials for the registry. */
  dockerConfigDir?: string;
}

/**
 * Pushes a one-layer plugin image whose /plugin/plugin is a copy of `executable` (a test's Go
 * plugin, for example) to `reference` (`127.0.0.1:PORT/repo:tag`); returns its manifest digest.
 */
export async function pushPluginImage(reference: string, executable: string, options: PushPluginOptions = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kn-plugin-image-'));
  try {
    mkdirSync(join(dir, 'root', 'plugin'), { recursive: true });
    copyFileSync(executable, join(dir, 'root', 'plugin', 'plugin'));
    spawnSync('chmod', ['0755', join(dir, 'root', 'plugin', 'plugin')]);
    for (const [path, content] of Object.entries(options.files ?? {})) {
      mkdirSync(join(dir, 'root', 'plugin', path, '..'), { recursive: true });
      writeFileSync(join(dir, 'root', 'plugin', path), content);
    }
    const tar = join(dir, 'layer.tar');
    const packed = spawnSync('tar', ['-C', join(dir, 'root'), '--owner=0', '--group=0', '-cf', tar, 'plugin'], { encoding: 'utf8' });
    if (packed.status !== 0) throw new Error(`tar failed: ${packed.stderr}`);
    const auth = { dockerConfigDir: options.dockerConfigDir };
    await crane(['append', ...(options.oci ? ['--oci-empty-base'] : []), '-f', tar, '-t', reference], auth);
    if (options.platform) await crane(['mutate', '--set-platform', options.platform, '-t', reference, reference], auth);
    return await crane(['digest', reference], auth);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
