import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir } from '@kubenest/kubenest';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

/**
 * Where the vcluster-sdk example plugins' sources are: `$KUBENEST_SDK_EXAMPLES`, else the shared
 * fixtures beside the repository (`../shared/fixtures/vcluster-sdk-examples`). Undefined when absent.
 */
export function sdkExamplesSource(): string | undefined {
  const dir = process.env['KUBENEST_SDK_EXAMPLES'] ?? resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'vcluster-sdk-examples');
  return existsSync(join(dir, 'build.sh')) ? dir : undefined;
}

function sourceKey(dir: string): string {
  const hash = createHash('sha256');
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'third_party') walk(full);
      } else {
        hash.update(relative(dir, full)).update(readFileSync(full));
      }
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 12);
}

let built: Promise<string> | undefined;

/**
 * The three Go example plugins of vcluster-sdk v0.6.9 (hooks, crd-sync, bootstrap-with-deployment),
 * built once with their own build.sh into the cache outside the repository, like the Kubernetes
 * binaries: `<dir>/<name>/plugin` plus `<name>/manifests/`. Keyed by a hash of their sources.
 */
export function sdkExamplePlugins(progress: (line: string) => void = (line) => process.stderr.write(`[sdk-examples] ${line}\n`)): Promise<string> {
  built ??= (async () => {
    const source = sdkExamplesSource();
    if (!source) throw new Error('the vcluster-sdk example plugins are not here: set KUBENEST_SDK_EXAMPLES to their folder (shared/fixtures/vcluster-sdk-examples)');
    // Not under plugins/: that is the plugin image cache (ADR 20).
    const target = join(defaultCacheDir(), 'sdk-examples', `vcluster-sdk-examples-${sourceKey(source)}`);
    const names = ['hooks', 'crd-sync', 'bootstrap-with-deployment'];
    if (names.every((name) => existsSync(join(target, name, 'plugin')) && statSync(join(target, name, 'plugin')).size > 0)) return target;
    const partial = `${target}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    progress(`building the vcluster-sdk example plugins into ${target} (once; minutes on a cold Go cache)`);
    await new Promise<void>((resolvePromise, reject) => {
      const child = spawn('bash', [join(source, 'build.sh'), partial], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); progress(chunk.toString().trimEnd()); });
      child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`build.sh failed (exit ${code}): ${output.slice(-2000)}`))));
    });
    rmSync(target, { recursive: true, force: true });
    renameSync(partial, target);
    return target;
  })();
  return built;
}
