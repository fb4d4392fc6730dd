/**
 * `kubenest plugin init NAME`: a plugin project that runs from source (`plugin`, a launcher of
 * plugin.ts), tests itself against a real virtual cluster (plugin.test.ts, with
 * @kubenest/testing's startPluginEnvironment), builds with `kubenest plugin build` and develops with
 * `kubenest plugin dev`. The SDK is not on the npm registry yet: `init` links @kubenest/plugin-sdk
 * and @kubenest/testing from this kubenest checkout into the project's node_modules.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import { PluginBuildError } from './index.ts';

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The files of a new plugin project called `name` (path -> content; `plugin` is executable). */
export function scaffoldFiles(name: string): Record<string, string> {
  if (!NAME.test(name)) throw new PluginBuildError(`"${name}" is not a valid plugin name: use lower-case letters, digits and "-" (a DNS label, as vCluster's plugin names are), e.g. my-plugin`);
  const label = `${name}/touched`;
  return {
    'package.json': `${JSON.stringify({
      name, version: '0.1.0', private: true, type: 'module', main: 'plugin.ts',
      description: `the vCluster plugin ${name}, written with @kubenest/plugin-sdk`,
      scripts: { test: 'node --test --test-timeout=900000', build: 'kubenest plugin build .', dev: 'kubenest plugin dev .' },
      engines: { node: '>=22.18' },
    }, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify({
      compilerOptions: {
        target: 'es2023', lib: ['es2023'], module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], strict: true,
        noUncheckedIndexedAccess: true, erasableSyntaxOnly: true, verbatimModuleSyntax: true, allowImportingTsExtensions: true,
        noEmit: true, skipLibCheck: true, isolatedModules: true,
      },
      include: ['*.ts'],
    }, null, 2)}\n`,
    'plugin.ts': `// ${name}: a vCluster plugin (protocol v2) written with @kubenest/plugin-sdk.
import { plugin } from '@kubenest/plugin-sdk';
import type { Service } from 'kubernetes-types/core/v1.js';

const p = await plugin.init();

// The host copy of every Service carries the label ${label}=yes: set when the syncer creates it
// and kept when it updates it (the syncer makes the host copy's labels the virtual ones again).
const touch = (svc: Service) => {
  svc.metadata = { ...svc.metadata, labels: { ...svc.metadata?.labels, '${label}': 'yes' } };
};
p.hook({ apiVersion: 'v1', kind: 'Service', createPhysical: touch, updatePhysical: touch });

await p.start();
`,
    plugin: `#!/bin/sh
# Runs plugin.ts from source (Node >= 22.18 runs TypeScript as is): what the tests start
# (\`kubenest plugin dev\` runs a bundle of the same source instead, made again on each save).
# \`kubenest plugin build\` makes the executable that needs no Node.
case "$0" in */*) here=$(cd "\${0%/*}" && pwd) ;; *) here=$(pwd) ;; esac
exec "\${KUBENEST_NODE:-node}" "$here/plugin.ts"
`,
    '.gitignore': 'node_modules/\ndist/\n.kubenest/\n',
    'plugin.yaml': `# Load with: kubenest up -f plugin.yaml (or kubenest create NAME -f plugin.yaml)
plugins:
  ${name}:
    # kubenest's own: run this directory's \`plugin\` (from source). After
    # \`kubenest plugin build . --image REGISTRY/${name}:TAG --push\`, use instead (vCluster too):
    # image: REGISTRY/${name}:TAG
    path: .
`,
    'plugin.test.ts': `import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startPluginEnvironment, type PluginEnvironment } from '@kubenest/testing';

// A real host cluster, a virtual cluster and this plugin from source (about a minute to start).
describe('${name}', () => {
  let env: PluginEnvironment;
  before(async () => {
    env = await startPluginEnvironment({ plugin: import.meta.dirname });
  });
  after(async () => {
    await env?.stop();
  });

  it('is running and registered its Service hook', () => {
    const status = env.status();
    assert.equal(status.state, 'running');
    assert.deepEqual(status.hooks, [{ apiVersion: 'v1', kind: 'Service', types: ['CreatePhysical', 'UpdatePhysical'] }]);
  });

  it('labels the host copy of a Service', async () => {
    const created = await env.virtual.kubectl('create', 'service', 'clusterip', 'web', '--tcp=80:80');
    assert.equal(created.code, 0, created.stderr);
    await eventually(async () => {
      const got = await env.host.kubectl('get', 'service', env.hostName('web'), '-o', 'json');
      assert.equal(got.code, 0, got.stderr);
      const labels = (JSON.parse(got.stdout) as { metadata: { labels?: Record<string, string> } }).metadata.labels;
      assert.equal(labels?.['${label}'], 'yes');
    }, { timeoutMs: 120_000 });
  });
});
`,
    'README.md': `# ${name}

A vCluster plugin (protocol v2) written in TypeScript with \`@kubenest/plugin-sdk\`: the host copy of
every Service gets the label \`${label}=yes\`. Made by \`kubenest plugin init ${name}\`.

| command | what it does |
|---|---|
| \`npm test\` (\`node --test\`) | \`plugin.test.ts\`: a local host cluster, a virtual cluster and this plugin from source, checked with kubectl |
| \`kubenest plugin dev\` | runs the plugin from source (bundled into \`.kubenest/dev/\` on each save) against a local virtual cluster (\`demo\`, made if missing), restarts it when a file changes, prints its log |
| \`kubenest plugin build\` | \`dist/plugin\`: one executable with Node inside; \`dist/portable/plugin\`: the same with its own C library, for Alpine |
| \`kubenest plugin build . --image REGISTRY/${name}:TAG --push\` | an OCI image whose \`/plugin\` holds the build, as vCluster loads plugins |
| \`kubenest up -f plugin.yaml\` | a local host and virtual cluster with this plugin |

\`plugin\` runs \`plugin.ts\` on Node 22.18 or newer (\`KUBENEST_NODE\`, else \`node\` on PATH).
\`node_modules/@kubenest/*\` are links into the kubenest checkout that made this project (the SDK is
not on the npm registry yet).
`,
  };
}

/** Writes the project into `dir` (which must not exist or be empty) and links the SDK from `repoRoot`. */
export function writeScaffold(name: string, dir: string, repoRoot: string): string[] {
  const files = scaffoldFiles(name);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new PluginBuildError(`${dir} exists and is not empty: give a new directory (--dir)`);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  chmodSync(join(dir, 'plugin'), 0o755);
  const links: [string, string][] = [
    ['@kubenest/plugin-sdk', join(repoRoot, 'packages', 'plugin-sdk')],
    ['@kubenest/testing', join(repoRoot, 'packages', 'testing')],
    ['kubernetes-types', join(repoRoot, 'node_modules', 'kubernetes-types')],
    ['@types/node', join(repoRoot, 'node_modules', '@types', 'node')],
  ];
  for (const [pkg, target] of links) {
    if (!existsSync(target)) throw new PluginBuildError(`${target} is missing: run kubenest from a checkout with its npm packages installed (bin/kubenest installs them)`);
    const link = join(dir, 'node_modules', pkg);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(target, link);
  }
  return Object.keys(files);
}

/** A plugin project's name and its plugin.yaml entry: the first key of `plugins:`, else the directory's name. */
export function pluginProjectEntry(dir: string): { name: string; entry: Record<string, unknown> } {
  const file = join(dir, 'plugin.yaml');
  if (existsSync(file)) {
    let values: { plugins?: Record<string, Record<string, unknown> | null> } | null;
    try {
      values = parse(readFileSync(file, 'utf8')) as typeof values;
    } catch (error) {
      throw new PluginBuildError(`${file}: not valid YAML (${(error as Error).message})`);
    }
    const [name, entry] = Object.entries(values?.plugins ?? {})[0] ?? [];
    if (name) return { name, entry: { ...entry } };
  }
  return { name: basename(dir), entry: {} };
}
