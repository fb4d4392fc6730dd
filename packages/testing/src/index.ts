import { execFile, spawn } from 'node:child_process';
import { isIP } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isAlreadyExists, type RestClient } from '@kubenest/kube';
import { HostCluster, isAlive, readPidFile, resolveBinaries, signalProcess, resolveGoTool, resolveGoTools, type Binaries } from '@kubenest/kubenest';

export { FaultProxy } from './fault-proxy.ts';
export { startSyncEnvironment } from './sync-environment.ts';
export type { SyncEnvironment } from './sync-environment.ts';

export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const CLI_MAIN = join(REPO_ROOT, 'packages/kubenest/src/cli/main.ts');

let binaries: Promise<Binaries> | undefined;

/** The Kubernetes binaries, resolved once per test process (KUBENEST_BIN_DIR, then the cache, else built). */
export function testBinaries(): Promise<Binaries> {
  binaries ??= resolveBinaries({ progress: (line) => process.stderr.write(`[binaries] ${line}\n`) });
  return binaries;
}

let helm: Promise<string> | undefined;

/** The helm CLI (tools/helm/build.sh), built into the cache on first use with progress; resolved once per test process. */
export function testHelm(): Promise<string> {
  helm ??= resolveGoTool('helm', { progress: (line) => process.stderr.write(`[helm] ${line}\n`) });
  return helm;
}

let ownPlugins: Promise<string> | undefined;

/**
 * kubenest's own Go test plugins (tools/test-plugins: go-plugin and our own pluginv2 code), built
 * into the cache on first use; the folder holding `kntest`.
 */
export function testPlugins(): Promise<string> {
  ownPlugins ??= resolveGoTools('test-plugins', ['kntest'], { progress: (line) => process.stderr.write(`[test-plugins] ${line}
`) });
  return ownPlugins;
}

/** A fresh temporary directory, removed by the returned cleanup. Kept short: unix socket paths are limited. */
export function tempDir(prefix = 'kn-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestHostCluster {
  dataDir: string;
  kubeconfig: string;
  server: string;
  client: RestClient;
  cluster: HostCluster;
  /** Runs the installed kubectl against this cluster. */
  kubectl(...args: string[]): Promise<CommandResult>;
  /** Stops the processes; the data dir stays (for restart tests) until `dispose`. */
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  dispose(): Promise<void>;
}

export interface StartHostOptions {
  nodes?: number;
  /** Reuse a data dir (restart tests); default: a new temporary one. */
  dataDir?: string;
  /** Pod ports a port-forward reaches, each at a port on 127.0.0.1 (see HostClusterOptions). */
  portForwards?: { podPort: number; loopbackPort: number }[];
}

/** Starts a real local host cluster in this process; pair with `dispose()` in `after`. */
export async function startHostCluster(options: StartHostOptions = {}): Promise<TestHostCluster> {
  const owned = options.dataDir ? undefined : tempDir('kn-host-');
  const dataDir = options.dataDir ?? owned!.path;
  const cluster = await HostCluster.start({
    dataDir, binaries: await testBinaries(), nodes: options.nodes ?? 1, ...(options.portForwards ? { portForwards: options.portForwards } : {}),
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await cluster.stop();
  };
  return {
    dataDir, cluster, kubeconfig: cluster.kubeconfig, server: cluster.server, client: cluster.client,
    kubectl: (...args) => run('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args]),
    stop,
    dispose: async () => {
      await stop();
      owned?.remove();
    },
  };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by `timeoutMs`) and returns its exit code and output. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(command, args, { ...(options.cwd ? { cwd: options.cwd } : {}), env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      });
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs the kubenest CLI with the current Node, as a user would through bin/kubenest. */
export function kubenest(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return run(process.execPath, [CLI_MAIN, ...args], options);
}

/** Starts the kubenest CLI without waiting for it, for tests that signal it. */
export function spawnKubenest(args: string[], env: NodeJS.ProcessEnv = process.env): ReturnType<typeof spawn> {
  return spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Retries `check` until it stops throwing or the time is up; then throws its last error. */
export async function eventually<T>(check: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await sleep(options.intervalMs ?? 200);
  }
}

/**
 * Creates an object through an outage (a control plane being replaced after a crash), as a
 * user's client would: retries until the API accepts it. AlreadyExists means an earlier attempt
 * landed and its answer was lost: done, not written twice.
 */
export async function createThroughOutage(create: () => Promise<unknown>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await create();
      return;
    } catch (error) {
      if (isAlreadyExists(error)) return;
      if (Date.now() > deadline) throw error;
    }
    await sleep(500);
  }
}

/**
 * Reads a status over and over (each read waits for the previous one) until `stop`, which
 * resolves with the statuses seen, consecutive repeats folded: the transitions.
 */
export function watchStatus(read: () => Promise<string>): { stop: () => Promise<string[]> } {
  const seen: string[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const status = await read().catch((error: unknown) => `error: ${(error as Error).message}`);
      if (seen.at(-1) !== status) seen.push(status);
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return seen;
    },
  };
}

/**
 * Live processes whose command line mentions `path` (a data dir): what a cluster run from there
 * could have left. Zombies (already ended, not yet reaped by pid 1) have no command line.
 */
export function processesUsing(path: string): { pid: number; command: string }[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid).flatMap((entry) => {
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      return command.includes(path) ? [{ pid: Number(entry), command }] : [];
    } catch {
      return [];
    }
  });
}

/** True while a process with this pid exists (the same check the supervisor uses). */
export const pidAlive = isAlive;

/** The pid in a pid file (supervisor.pid); undefined while it is missing, empty or holds no pid. */
export { readPidFile };

/**
 * Signals one process; throws on anything but a positive integer: `process.kill(0)` signals the
 * caller's whole process group (the test runner, and CI with it), and a pid read from a file that
 * is being written comes out as 0. Tests signal processes only through this (eslint enforces it).
 */
export function killProcess(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  signalProcess(pid ?? NaN, signal);
}

export interface CliSandbox {
  dir: string;
  hostDir: string;
  vclustersDir: string;
  /** Runs the kubenest CLI with this sandbox's host and virtual-cluster directories. */
  cli(...args: string[]): Promise<CommandResult>;
  /** Deletes the named virtual clusters, stops the host, removes the directory. */
  dispose(vclusters: string[]): Promise<void>;
}

/** A private place for CLI tests: its own host data dir and virtual-cluster root, the test binaries. */
export async function cliSandbox(prefix = 'kn-cli-', extraEnv: NodeJS.ProcessEnv = {}): Promise<CliSandbox> {
  const dir = tempDir(prefix);
  const hostDir = join(dir.path, 'host');
  const vclustersDir = join(dir.path, 'vclusters');
  const env = { ...process.env, ...extraEnv, KUBENEST_HOST_DIR: hostDir, KUBENEST_VCLUSTERS_DIR: vclustersDir, KUBENEST_BIN_DIR: (await testBinaries()).dir };
  const cli = (...args: string[]): Promise<CommandResult> => kubenest(args, { env, timeoutMs: 240_000 });
  return {
    dir: dir.path, hostDir, vclustersDir, cli,
    async dispose(vclusters) {
      for (const name of vclusters) await cli('delete', name);
      await cli('host', 'down');
      dir.remove();
    },
  };
}

/**
 * Environment that makes every process kubenest starts record the names it resolves: the Go
 * components print each lookup (GODEBUG netdns debug level 2) into their logs, the Node
 * processes append them to `recordFile`. `resolvedNames` reads both back.
 */
export function loopbackOnlyEnv(recordFile: string): NodeJS.ProcessEnv {
  const preload = fileURLToPath(new URL('./dns-recorder.ts', import.meta.url));
  return {
    GODEBUG: 'netdns=go+2',
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${preload}`.trim(),
    KUBENEST_DNS_RECORD: recordFile,
  };
}

/** Every host name looked up by a process run with `loopbackOnlyEnv`: Go lookups in the logs under `logDirs`, Node lookups in `recordFile`. */
export function resolvedNames(recordFile: string, logDirs: string[]): Set<string> {
  const names = new Set<string>();
  if (existsSync(recordFile)) for (const line of readFileSync(recordFile, 'utf8').split('\n')) if (line) names.add(line.split(' ')[1] ?? '');
  // An address given as a literal is not looked up anywhere.
  for (const name of names) if (isIP(name)) names.delete(name);
  for (const dir of logDirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.log')) continue;
      for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/go package net: hostLookupOrder\(([^)]*)\)/g)) names.add(match[1] ?? '');
    }
  }
  return names;
}
export { crane, ociTools, pushPluginImage, startTestRegistry } from './oci-registry.ts';
export type { OciTools, PushPluginOptions, StartRegistryOptions, TestRegistry } from './oci-registry.ts';
export { sdkExamplePlugins, sdkExamplesSource } from './sdk-examples.ts';
export { startPluginEnvironment } from './plugin-environment.ts';
export type { ClusterHandle, PluginEnvironment, PluginEnvironmentOptions } from './plugin-environment.ts';
