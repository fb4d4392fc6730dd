import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { SOURCE_ROOT } from '../source-root.ts';
import { writeFileAtomic } from './files.ts';
import { tryLock } from './lock.ts';
import { isAlive, readPidFile } from './pids.ts';

export const BINARY_NAMES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kine', 'kwok'] as const;
export type BinaryName = (typeof BINARY_NAMES)[number];
/** kwok's own stage files (file name -> path under its kustomize/stage), copied next to the binaries at build time; host-stages.ts decides which of them the local host loads. */
export const KWOK_STAGES: Record<string, string> = {
  'node-initialize.yaml': 'node/fast/node-initialize.yaml',
  'node-heartbeat-with-lease.yaml': 'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod-ready.yaml': 'pod/fast/pod-ready.yaml',
  'pod-complete.yaml': 'pod/fast/pod-complete.yaml',
  'pod-delete.yaml': 'pod/fast/pod-delete.yaml',
};

export interface Binaries {
  dir: string;
  source: 'flag' | 'env' | 'cache' | 'built';
  versions: Record<string, string>;
  path(name: BinaryName): string;
  /** Absolute paths of the kwok stage files to load. */
  kwokStages: string[];
}

export class BinariesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinariesError';
  }
}

export interface ResolveOptions {
  /** A directory the user named (flag); wins over everything. */
  binDir?: string | undefined;
  /** Cache root; default $KUBENEST_CACHE or ~/.cache/kubenest. */
  cacheDir?: string | undefined;
  /** Receives progress lines while building. */
  progress?: (line: string) => void;
  /** Ignore the cache and build again. */
  rebuild?: boolean;
}

const TOOLS_DIR = join(SOURCE_ROOT, 'tools', 'k8s');
const BUILD_SCRIPT = join(TOOLS_DIR, 'build.sh');
const MANIFEST = 'manifest.json';

interface Manifest {
  key: string;
  versions: Record<string, string>;
  builtAt: string;
  buildSeconds: number;
  files: Record<string, { size: number; sha256: string }>;
}

export function defaultCacheDir(): string {
  return process.env['KUBENEST_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'kubenest');
}

/** Pinned versions, read from the build script so there is one place to change them. */
export function pinnedVersions(): Record<string, string> {
  const text = readFileSync(BUILD_SCRIPT, 'utf8');
  const pick = (name: string): string => {
    const match = new RegExp(`^${name}=(\\S+)`, 'm').exec(text);
    if (!match?.[1]) throw new BinariesError(`${BUILD_SCRIPT}: no ${name}= line`);
    return match[1];
  };
  return { kubernetes: pick('KUBERNETES_VERSION'), kine: pick('KINE_VERSION'), kwok: pick('KWOK_VERSION') };
}

/** The cache key: the versions plus a hash of everything that decides the build's output. */
export function cacheKey(): string {
  const v = pinnedVersions();
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'build.sh']) hash.update(readFileSync(join(TOOLS_DIR, file)));
  return `k8s-${v['kubernetes']}-kine-${v['kine']}-kwok-${v['kwok']}-${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Finds the binaries: a directory the user named (flag, then KUBENEST_BIN_DIR), then the cache,
 * otherwise builds them into the cache. A cache entry that is incomplete or altered is rebuilt.
 */
export async function resolveBinaries(options: ResolveOptions = {}): Promise<Binaries> {
  const versions = pinnedVersions();
  const named = options.binDir ? { dir: options.binDir, source: 'flag' as const }
    : process.env['KUBENEST_BIN_DIR'] ? { dir: process.env['KUBENEST_BIN_DIR'], source: 'env' as const } : undefined;
  if (named) {
    const dir = resolve(named.dir);
    const what = named.source === 'flag' ? '--bin-dir' : 'KUBENEST_BIN_DIR';
    const missing = BINARY_NAMES.filter((name) => !isExecutable(join(dir, name)));
    if (missing.length > 0) {
      throw new BinariesError(`${what}=${dir} lacks ${missing.join(', ')}. Point it at a directory holding ${BINARY_NAMES.join(', ')}, or unset it to use the cache (${defaultCacheDir()}).`);
    }
    return makeBinaries(dir, named.source, versions, findStages(dir, versions['kwok'] ?? ''));
  }
  const root = resolve(options.cacheDir ?? defaultCacheDir(), 'bin');
  const dir = join(root, cacheKey());
  if (!options.rebuild) {
    const problem = checkCacheEntry(dir);
    if (problem === undefined) return makeBinaries(dir, 'cache', versions, stagesBeside(dir));
    if (problem !== 'missing') options.progress?.(`the binary cache at ${dir} is unusable (${problem}); rebuilding it`);
  }
  await buildIntoCache(root, dir, options.progress ?? (() => {}));
  return makeBinaries(dir, 'built', versions, stagesBeside(dir));
}

function makeBinaries(dir: string, source: Binaries['source'], versions: Record<string, string>, kwokStages: string[]): Binaries {
  return { dir, source, versions, kwokStages, path: (name) => join(dir, name) };
}

/** Returns undefined for a good entry, 'missing', or why it cannot be used. Cheap: sizes only. */
export function checkCacheEntry(dir: string): string | undefined {
  if (!existsSync(dir)) return 'missing';
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return 'no readable manifest: the build that wrote it did not finish';
  }
  for (const [file, expected] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) return `${file} is missing`;
    if (statSync(path).size !== expected.size) return `${file} has the wrong size`;
  }
  return undefined;
}

/** Full check: every file's sha256 against the manifest. */
export async function verifyCacheEntry(dir: string): Promise<string | undefined> {
  const quick = checkCacheEntry(dir);
  if (quick !== undefined) return quick;
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  for (const [file, expected] of Object.entries(manifest.files)) {
    if ((await sha256(join(dir, file))) !== expected.sha256) return `${file} does not match its recorded sha256`;
  }
  return undefined;
}

export function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

async function buildIntoCache(root: string, dir: string, progress: (line: string) => void): Promise<void> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new BinariesError(
      `no Kubernetes binaries in ${dir} and no Go toolchain to build them (\`go version\` failed: ${go.error?.message ?? go.stderr.trim()}).\n` +
      `Install Go 1.26 or newer (https://go.dev/dl/), or point --bin-dir / KUBENEST_BIN_DIR at a directory holding ${BINARY_NAMES.join(', ')}.`);
  }
  mkdirSync(root, { recursive: true });
  const release = await acquireBuildLock(`${dir}.lock`, progress);
  try {
    // Another process may have finished the same build while we waited for the lock.
    if (checkCacheEntry(dir) === undefined) return;
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    const started = Date.now();
    progress(`building Kubernetes binaries into ${dir} (${go.stdout.trim()}); first time only: about 6 min on 2 cores with an empty Go build cache, under 1 min with a warm one`);
    await runBuild(BUILD_SCRIPT, partial, progress);
    const files: Manifest['files'] = {};
    for (const file of listFiles(partial)) {
      files[file] = { size: statSync(join(partial, file)).size, sha256: await sha256(join(partial, file)) };
    }
    const missing = BINARY_NAMES.filter((name) => !files[name]);
    if (missing.length > 0) throw new BinariesError(`the build finished without ${missing.join(', ')}; see the output above`);
    const manifest: Manifest = {
      key: cacheKey(), versions: pinnedVersions(), builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 1000), files,
    };
    // The manifest is written last and the directory renamed into place: a build killed at any
    // point leaves only a *.partial-* directory, which is never used and is removed next time.
    await writeFileAtomic(join(partial, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
    progress(`binaries ready in ${manifest.buildSeconds}s`);
  } finally {
    release();
    for (const entry of readdirSync(root)) {
      const pid = /\.partial-(\d+)$/.exec(entry)?.[1];
      if (pid && !isAlive(Number(pid))) rmSync(join(root, entry), { recursive: true, force: true });
    }
  }
}

function runBuild(script: string, out: string, progress: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    // go.sum is committed and complete: the default -mod=readonly fails loudly instead of editing it.
    const child = spawn('bash', [script, out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let downloads = 0;
    const tail: string[] = [];
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (line.startsWith('go: downloading')) downloads += 1;
      else if (line.startsWith('==>')) progress(line.slice(4));
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    const ticker = setInterval(() => {
      const minutes = ((Date.now() - started) / 60_000).toFixed(1);
      progress(`  still building (${minutes} min elapsed${downloads ? `, ${downloads} modules downloaded` : ''})`);
    }, 30_000);
    const stop = (): void => { child.kill('SIGTERM'); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.on('error', (error) => reject(new BinariesError(`could not run ${script}: ${error.message}`)));
    child.on('close', (code, signal) => {
      clearInterval(ticker);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (code === 0) return resolvePromise();
      reject(new BinariesError(`${script} failed (${signal ?? `exit ${code}`}); last output:\n  ${tail.join('\n  ')}\n` +
        'If the Go module proxy refused a module, check `go env GOPROXY GOSUMDB` and the network.'));
    });
  });
}

/**
 * One build per cache entry at a time, across processes: the lock is the kernel's (`tryLock`,
 * ADR 32), so a build killed half-way leaves nothing to take over; `lock` only names the builder
 * for the others' progress line.
 */
export async function acquireBuildLock(lock: string, progress: (line: string) => void): Promise<() => void> {
  let announced = false;
  for (;;) {
    // Keyed by the entry's name under the cache root's secret: one lock however the root is spelled.
    const release = await tryLock({ key: `build ${basename(lock)}`, secretDir: dirname(lock) });
    if (release) {
      try {
        rmSync(lock, { recursive: true, force: true }); // left by a builder that was killed (a directory before ADR 32)
        await writeFileAtomic(lock, String(process.pid));
      } catch (error) {
        release();
        throw error;
      }
      return () => {
        rmSync(lock, { force: true });
        release();
      };
    }
    if (!announced) {
      const holder = readPidFile(lock) ?? '?';
      progress(`another kubenest (pid ${holder}) is building the binaries; waiting for it`);
    }
    announced = true;
    await sleep(1000);
  }
}

/**
 * Where a Go tool's cache entry lives: keyed by its pinned version (the first `<NAME>_VERSION=`
 * line of its build script) and a hash of every file of its tools/<name>/ folder.
 */
export function goToolEntry(script: string, name: string, cacheDir?: string): { root: string; dir: string; version: string } {
  const text = readFileSync(script, 'utf8');
  const version = /^[A-Z_]+_VERSION=(\S+)/m.exec(text)?.[1];
  if (!version) throw new BinariesError(`${script}: no <NAME>_VERSION= line; pin the version there`);
  const folder = dirname(script);
  const hash = createHash('sha256');
  for (const file of (readdirSync(folder, { recursive: true, encoding: 'utf8' })).sort()) {
    const path = join(folder, file);
    if (statSync(path).isFile()) hash.update(file).update(readFileSync(path));
  }
  const root = resolve(cacheDir ?? defaultCacheDir(), 'tools');
  return { root, version, dir: join(root, `${name}-${version}-${hash.digest('hex').slice(0, 12)}`) };
}

/**
 * Go tools the tests drive as a user would (helm, an OCI registry and crane), built by
 * `tools/<name>/build.sh OUT_DIR` into `<cache>/tools/<name>-<version>-<hash>/` on first use, with
 * progress, under the same lock and atomic rename as the Kubernetes binaries. Returns the
 * directory holding `executables`. kubenest itself never runs these.
 */
export async function resolveGoTools(name: string, executables: readonly string[], options: { cacheDir?: string; progress?: (line: string) => void } = {}): Promise<string> {
  const script = resolve(TOOLS_DIR, '..', name, 'build.sh');
  if (!existsSync(script)) throw new BinariesError(`no build script for the tool ${name} (${script})`);
  const { root, dir, version } = goToolEntry(script, name, options.cacheDir);
  const complete = (at: string): boolean => executables.every((executable) => isExecutable(join(at, executable)));
  if (complete(dir)) return dir;
  const progress = options.progress ?? (() => {});
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new BinariesError(`${name} is not built yet (${dir}) and there is no Go toolchain to build it: install Go 1.26 or newer (https://go.dev/dl/)`);
  }
  mkdirSync(root, { recursive: true });
  const release = await acquireBuildLock(`${dir}.lock`, progress);
  try {
    if (complete(dir)) return dir;
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    progress(`building ${name} ${version} into ${dir} (${go.stdout.trim()}); first time only`);
    await runBuild(script, partial, progress);
    if (!complete(partial)) throw new BinariesError(`${script} finished without ${executables.join(', ')}; see the output above`);
    // Renamed into place last: a build killed at any point leaves only a *.partial-* directory.
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
    return dir;
  } finally {
    release();
    for (const entry of readdirSync(root)) {
      const pid = /\.partial-(\d+)$/.exec(entry)?.[1];
      if (pid && !isAlive(Number(pid))) rmSync(join(root, entry), { recursive: true, force: true });
    }
  }
}

/** One Go tool named like its folder (helm): the path of its executable. */
export async function resolveGoTool(name: string, options: { cacheDir?: string; progress?: (line: string) => void } = {}): Promise<string> {
  return join(await resolveGoTools(name, [name], options), name);
}

function stagesBeside(dir: string): string[] {
  return Object.keys(KWOK_STAGES).map((file) => join(dir, 'kwok-stages', file));
}

function findStages(binDir: string, kwokVersion: string): string[] {
  const beside = stagesBeside(binDir);
  if (beside.every((file) => existsSync(file))) return beside;
  const modcache = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout?.trim();
  if (modcache) {
    const fromModules = Object.values(KWOK_STAGES).map((rel) => join(modcache, `sigs.k8s.io/kwok@${kwokVersion}/kustomize/stage`, rel));
    if (fromModules.every((file) => existsSync(file))) return fromModules;
  }
  throw new BinariesError(`${binDir} has no kwok-stages/ directory (${Object.keys(KWOK_STAGES).join(', ')}); ` +
    `copy them from kwok ${kwokVersion}'s kustomize/stage, or use the cache built by \`kubenest binaries\`.`);
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? join(prefix, entry.name) : entry.name;
    return entry.isDirectory() ? listFiles(dir, rel) : [rel];
  });
}

function isExecutable(path: string): boolean {
  try {
    return statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function sha256(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}
