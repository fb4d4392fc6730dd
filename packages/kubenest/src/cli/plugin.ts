import { resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { buildPlugin } from '../plugins/build/index.ts';
import { writePluginImage } from '../plugins/build/image.ts';
import { writeScaffold } from '../plugins/build/scaffold.ts';
import { SOURCE_ROOT } from '../source-root.ts';
import { pluginDev } from './plugin-dev.ts';
import { CliError, say } from './output.ts';

/** `kubenest plugin build|init|dev`: making TypeScript plugins (docs/adr/0029-plugin-build.md). */
export function pluginCommand(): Command {
  const plugin = new Command('plugin').description('build, scaffold and develop TypeScript plugins (@kubenest/plugin-sdk)');

  plugin.command('build')
    .description('bundle a plugin into executables that need no Node (OUT/plugin; OUT/portable/plugin for musl systems such as Alpine), optionally as an OCI image')
    .argument('[dir]', 'the plugin project (its package.json "main" or plugin.ts is the entry)', '.')
    .option('--out <dir>', 'where the build goes (replaced); default DIR/dist')
    .option('--image <ref>', 'also write an OCI image whose /plugin/ holds the portable build (an OCI layout in OUT/image)')
    .option('--push', 'push the image to its registry (credentials from the docker config)')
    .option('--no-portable', 'skip the portable variant (not with --image)')
    .action(async (dir, options) => {
      if (options.push && !options.image) throw new CliError('--push needs --image REF');
      if (options.image && options.portable === false) throw new CliError('--image puts the portable variant in the image: drop --no-portable');
      const built = await buildPlugin({ dir: resolve(dir), out: options.out, portable: options.portable, progress: say });
      say(`built ${built.executable} (Node ${built.nodeVersion}, bundle ${(built.bundleBytes / 1024).toFixed(0)} KiB)`);
      if (built.portableDir) say(`built ${built.portableDir}/plugin (runs on musl systems: it brings its glibc)`);
      if (options.image) {
        const image = await writePluginImage({ buildDir: built.out, reference: options.image, push: options.push ?? false, progress: say });
        say(`image ${image.reference}: ${image.digest}${image.pushed ? ' (pushed)' : ` (OCI layout in ${image.layoutDir}; --push sends it)`}`);
        console.log(image.pushed ? `${image.reference}@${image.digest}` : image.layoutDir);
      } else {
        console.log(built.out);
      }
    });

  plugin.command('init')
    .description('scaffold a plugin project: package.json, tsconfig.json, plugin.ts, plugin.yaml, README.md, a test using @kubenest/testing')
    .argument('<name>', 'the plugin\'s name (a DNS label)')
    .option('--dir <dir>', 'where to write it (must not exist or be empty); default ./NAME')
    .action((name, options) => {
      const dir = resolve(options.dir ?? name);
      const files = writeScaffold(name, dir, SOURCE_ROOT);
      say(`wrote ${files.join(', ')} in ${dir} (node_modules/@kubenest/* link to ${SOURCE_ROOT})`);
      console.log([
        '',
        `cd ${dir}`,
        'node --test                  # its test: a host, a virtual cluster and the plugin from source',
        'kubenest plugin dev          # run it against a local virtual cluster, restarted on save',
        'kubenest plugin build        # dist/plugin, dist/portable/plugin: no Node needed',
      ].join('\n'));
    });

  plugin.command('dev')
    .description('run a plugin from source against a local virtual cluster (made if missing), restart it when a file changes, stream its log')
    .argument('[dir]', 'the plugin project (with its executable `plugin`)', '.')
    .option('--name <name>', 'the virtual cluster', 'demo')
    .option('--nodes <n>', 'simulated nodes of the host cluster (when it is started here)', '1')
    .option('--bin-dir <dir>', 'directory holding the Kubernetes binaries (env KUBENEST_BIN_DIR)')
    .action(async (dir, options) => {
      const nodes = Number(options.nodes);
      if (!Number.isInteger(nodes) || nodes < 1) throw new CliError(`--nodes ${options.nodes}: expected a whole number from 1`);
      await pluginDev({ dir, name: options.name, nodes, binDir: options.binDir });
    });

  return plugin;
}


