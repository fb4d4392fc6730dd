import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCacheDir } from '../controlplane/binaries.ts';
import { SOURCE_ROOT } from '../source-root.ts';

/** The long-running processes' entry points, relative to packages/kubenest/src/cli. */
const ENTRY_POINTS = ['main', 'keeper-main'] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];

/**
 * The supervisors (`host run`, `vcluster-run`) and their keepers run for as long as a cluster
 * does, so they run from one JavaScript bundle per entry point rather than from the TypeScript
 * sources: Node strips types with a WebAssembly compiler that stays in memory, and hundreds of
 * separate modules cost more heap than one file (ADR 30: 20-32 MiB less per process, measured).
 * Bundles are cached by the content of the sources and the lock file, so an edit rebuilds them
 * once. `KUBENEST_RUN_FROM_SOURCE=1` runs the sources instead (no bundle; for debugging).
 */
export async function entryPoint(name: EntryPoint, progress: (line: string) => void = () => {}): Promise<string> {
  const source = join(SOURCE_ROOT, 'packages', 'kubenest', 'src', 'cli', `${name}.ts`);
  if (process.env['KUBENEST_RUN_FROM_SOURCE'] === '1') return source;
  const dir = join(defaultCacheDir(), 'bundles', sourceHash());
  const file = join(dir, `${name}.mjs`);
  if (ENTRY_POINTS.every((entry) => existsSync(join(dir, `${entry}.mjs`)))) return file;
  const building = `${dir}.${process.pid}.tmp`;
  rmSync(building, { recursive: true, force: true });
  progress('bundling kubenest for its long-running processes (once after each change of the sources)');
  const { build } = await import('esbuild');
  await build({
    entryPoints: Object.fromEntries(ENTRY_POINTS.map((entry) => [entry, join(SOURCE_ROOT, 'packages', 'kubenest', 'src', 'cli', `${entry}.ts`)])),
    outdir: building, outExtension: { '.js': '.mjs' }, bundle: true, splitting: true, chunkNames: 'chunks/[name]-[hash]', platform: 'node', format: 'esm', target: 'node22',
    // CommonJS dependencies require Node's built-ins; an ES module bundle has no `require` of its own.
    banner: { js: "import { createRequire as __kubenestRequire } from 'node:module'; const require = __kubenestRequire(import.meta.url);" },
    define: { KUBENEST_BUNDLED_FROM: JSON.stringify(SOURCE_ROOT) },
    // esbuild, used by the CLI only, stays out of the bundle (it finds its native binary by path).
    external: ['esbuild'], logLevel: 'error', legalComments: 'none',
  });
  mkdirSync(join(defaultCacheDir(), 'bundles'), { recursive: true });
  try {
    renameSync(building, dir);
  } catch (error) {
    // Another kubenest built the same bundle at the same time: theirs is as good.
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(file)) throw error;
  }
  return file;
}

/** A digest of everything a bundle is built from: the packages' sources and the lock file. */
function sourceHash(): string {
  const hash = createHash('sha256');
  hash.update(SOURCE_ROOT);
  hash.update(readFileSync(join(SOURCE_ROOT, 'package-lock.json')));
  const packages = join(SOURCE_ROOT, 'packages');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'testdata') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        hash.update(path);
        hash.update(readFileSync(path));
      }
    }
  };
  walk(packages);
  return hash.digest('hex').slice(0, 16);
}
