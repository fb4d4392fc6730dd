import { Command } from '@commander-js/extra-typings';
import { BINARY_NAMES, readManifest, resolveBinaries, verifyCacheEntry } from '../controlplane/binaries.ts';
import { CliError, say } from './output.ts';

export function binariesCommand(): Command {
  return new Command('binaries')
    .description('find or build the Kubernetes binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kine, kwok) and print where they are')
    .option('--bin-dir <dir>', 'use this directory instead of the cache (env KUBENEST_BIN_DIR)')
    .option('--rebuild', 'build again even if the cache holds them')
    .option('--verify', 'check every cached file against the sha256 recorded when it was built')
    .option('--json', 'print the result as JSON')
    .action(async (options) => {
      const binaries = await resolveBinaries({ binDir: options.binDir, rebuild: options.rebuild, progress: say });
      if (options.verify && (binaries.source === 'cache' || binaries.source === 'built')) {
        const problem = await verifyCacheEntry(binaries.dir);
        if (problem) throw new CliError(`the binary cache at ${binaries.dir} is corrupt: ${problem}; run \`kubenest binaries --rebuild\``);
        say('every cached file matches its recorded sha256');
      }
      const manifest = readManifest(binaries.dir);
      if (options.json) {
        console.log(JSON.stringify({ dir: binaries.dir, source: binaries.source, versions: binaries.versions,
          binaries: Object.fromEntries(BINARY_NAMES.map((name) => [name, binaries.path(name)])), buildSeconds: manifest?.buildSeconds }, null, 2));
        return;
      }
      console.log(`${binaries.dir}  (${binaries.source}; kubernetes ${binaries.versions['kubernetes']}, kine ${binaries.versions['kine']}, kwok ${binaries.versions['kwok']})`);
    });
}
