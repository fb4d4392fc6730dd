// Issue 11: `kubenest plugin init` scaffolds a project whose own test (startPluginEnvironment:
// host, virtual cluster, the plugin from source) passes as written; `kubenest plugin dev` runs it
// against a local virtual cluster, streams its log, and a change of its source changes what its
// hook does (the restart's time is measured in bench/plugin-sdk.ts, not asserted here).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliSandbox, eventually, kubenest, run, spawnKubenest, tempDir, testBinaries, type CliSandbox } from '@kubenest/testing';

const NAME = 'myplug';
const LABEL = `${NAME}/touched`;

describe('kubenest plugin init, the scaffold\'s test, and plugin dev', () => {
  const dir = tempDir('kn-init-');
  const project = join(dir.path, NAME);

  after(() => dir.remove());

  it('init writes the project and refuses a bad name and a non-empty directory', async () => {
    const made = await kubenest(['plugin', 'init', NAME, '--dir', project]);
    assert.equal(made.code, 0, made.stderr);
    for (const file of ['package.json', 'tsconfig.json', 'plugin.ts', 'plugin', 'plugin.yaml', 'plugin.test.ts', 'README.md', 'node_modules/@kubenest/plugin-sdk/package.json']) {
      assert.ok(existsSync(join(project, file)), file);
    }
    const again = await kubenest(['plugin', 'init', NAME, '--dir', project]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists and is not empty: give a new directory \(--dir\)/);
    const bad = await kubenest(['plugin', 'init', 'My_Plugin', '--dir', join(dir.path, 'bad')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"My_Plugin" is not a valid plugin name/);
  });

  it('the scaffold\'s own test passes as written (node --test in the project)', async () => {
    // As an author runs it: not as a child of this test runner (NODE_TEST_CONTEXT would make it
    // report to us over a private channel instead of printing).
    const { NODE_TEST_CONTEXT: _ignored, ...outside } = process.env;
    const ran = await run(process.execPath, ['--test', '--test-timeout=900000', 'plugin.test.ts'], {
      cwd: project, timeoutMs: 900_000, env: { ...outside, KUBENEST_BIN_DIR: (await testBinaries()).dir },
    });
    assert.equal(ran.code, 0, `${ran.stdout.slice(-3000)}\n${ran.stderr.slice(-3000)}`);
    assert.match(ran.stdout, /# pass 2\n/);
    assert.match(ran.stdout, /# fail 0\n/);
  });

  describe('plugin dev', () => {
    let sandbox: CliSandbox;
    let dev: ReturnType<typeof spawnKubenest>;
    let stdout = '';
    let stderr = '';
    const virtual = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'dev', 'kubeconfig'), ...args]);
    const hostLabel = async (service: string): Promise<string | undefined> => {
      const got = await run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-dev', 'get', 'service', `${service}-x-default-x-dev`, '-o', 'json']);
      assert.equal(got.code, 0, got.stderr);
      return (JSON.parse(got.stdout) as { metadata: { labels?: Record<string, string> } }).metadata.labels?.[LABEL];
    };

    before(async () => {
      sandbox = await cliSandbox('kn-dev-');
      dev = spawnKubenest(['plugin', 'dev', project, '--name', 'dev'], {
        ...process.env, KUBENEST_HOST_DIR: sandbox.hostDir, KUBENEST_VCLUSTERS_DIR: sandbox.vclustersDir, KUBENEST_BIN_DIR: (await testBinaries()).dir,
      });
      dev.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
      dev.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    });
    after(async () => {
      if (dev?.exitCode === null) {
        dev.kill('SIGINT');
        await new Promise((resolve) => dev.once('exit', resolve));
      }
      await sandbox?.dispose(['dev']);
    });

    it('makes the virtual cluster with the plugin from source and watches', async () => {
      await eventually(() => assert.match(stderr, /watching .* for changes/), { timeoutMs: 600_000, intervalMs: 500 });
      assert.match(stderr, /creating virtual cluster "dev" with plugin myplug from /);
      // Its log is streamed: the plugin's own "plugin ready" line.
      await eventually(() => assert.match(stdout, /\[myplug\] info\s+plugin ready/), { timeoutMs: 30_000 });
    });

    it('the hook labels a Service\'s host copy with "yes"', async () => {
      assert.equal((await virtual('create', 'service', 'clusterip', 'before', '--tcp=80:80')).code, 0);
      await eventually(async () => assert.equal(await hostLabel('before'), 'yes'), { timeoutMs: 120_000 });
    });

    it('after plugin.ts changes, the restarted plugin labels with the new value', async () => {
      const file = join(project, 'plugin.ts');
      writeFileSync(file, readFileSync(file, 'utf8').replace(`'${LABEL}': 'yes'`, `'${LABEL}': 'changed'`));
      await eventually(() => assert.match(stderr, /plugin\.ts changed: restarting plugin myplug/), { timeoutMs: 30_000 });
      await eventually(() => assert.match(stderr, /plugin myplug restarted in \d+ ms/), { timeoutMs: 120_000 });
      assert.equal((await virtual('create', 'service', 'clusterip', 'after', '--tcp=80:80')).code, 0);
      await eventually(async () => assert.equal(await hostLabel('after'), 'changed'), { timeoutMs: 120_000 });
    });

    it('a save that does not bundle is reported, and the last good build keeps running and hooking', async () => {
      const file = join(project, 'plugin.ts');
      const good = readFileSync(file, 'utf8');
      const before = (JSON.parse((await sandbox.cli('plugins', 'dev', '--json')).stdout) as { pid: number }[])[0]!.pid;
      writeFileSync(file, `${good}\nconst broken = ;\n`);
      await eventually(() => assert.match(stderr, /plugin\.ts changed, and bundling .*plugin\.ts failed:\n\s+.*plugin\.ts:\d+:\d+: Unexpected ";"\n\s+the plugin keeps running its last good build/), { timeoutMs: 30_000 });
      const after = (JSON.parse((await sandbox.cli('plugins', 'dev', '--json')).stdout) as { pid: number; state: string }[])[0]!;
      assert.deepEqual([after.pid, after.state], [before, 'running']);
      assert.equal((await virtual('create', 'service', 'clusterip', 'broken', '--tcp=80:80')).code, 0);
      await eventually(async () => assert.equal(await hostLabel('broken'), 'changed'), { timeoutMs: 120_000 });
      writeFileSync(file, good);
      await eventually(() => assert.ok((stderr.match(/restarted in \d+ ms/g)?.length ?? 0) >= 2, 'the good save restarts it'), { timeoutMs: 120_000 });
    });

    it('Ctrl-C stops watching and leaves the cluster running', async () => {
      dev.kill('SIGINT');
      const code = await new Promise((resolve) => dev.once('exit', resolve));
      assert.equal(code, 0, stderr.slice(-2000));
      assert.match(stderr, /stopped watching; virtual cluster "dev" and plugin myplug keep running/);
      const plugins = await sandbox.cli('plugins', 'dev', '--json');
      assert.equal(plugins.code, 0, plugins.stderr);
      assert.equal((JSON.parse(plugins.stdout) as { state: string }[])[0]?.state, 'running');
    });
  });
});
