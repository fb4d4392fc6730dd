import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { eventually, killProcess, kubenest, pidAlive, pushPluginImage, REPO_ROOT, run, sdkExamplePlugins, sdkExamplesSource, startHostCluster, startTestRegistry, tempDir, testBinaries, type TestHostCluster, type TestRegistry } from '@kubenest/testing';

interface PluginRow { name: string; source: string; state: string; pid?: number; restarts: number; leader: boolean; hooks: { apiVersion: string; kind: string; types: string[] }[]; lastError?: string }

/**
 * Issue 9 §7: the vcluster-sdk v0.6.9 example plugins, unmodified Go binaries nobody here wrote,
 * loaded by `path:` through `kubenest create -f` with their own upstream plugin.yaml files, and
 * each behaviour checked with kubectl as the SDK's e2e checklist does.
 */
const source = sdkExamplesSource();
const FAKE_PLUGIN = join(REPO_ROOT, 'packages/kubenest/src/plugins/testdata/fake-plugin.ts');
describe('Go plugins built with vcluster-sdk (hooks, crd-sync, bootstrap-with-deployment)', { skip: source ? false : 'the vcluster-sdk example sources (shared/fixtures/vcluster-sdk-examples) are not beside the repository; set KUBENEST_SDK_EXAMPLES' }, () => {
  const dir = tempDir('kn-plug-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 600_000 });
  const vKubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', join(dir.path, 'vclusters', 'demo', 'kubeconfig'), ...args]);
  const hKubectl = (...args: string[]) => host.kubectl(...args);
  const plugins = async (): Promise<PluginRow[]> => {
    const out = await cli('plugins', 'demo', '--json');
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as PluginRow[];
  };
  let pids: number[] = [];
  let registry: TestRegistry | undefined;

  before(async () => {
    const built = await sdkExamplePlugins();
    host = await startHostCluster({ nodes: 1 });
    // A plugin holds only its plugin.yaml's rbac rules on the host (ADR 22): crd-sync's grant
    // get/list/watch on CRDs, so, as its plugin.yaml says, the host has the Car CRD beforehand.
    const crd = await host.kubectl('apply', '-f', join(built, 'crd-sync', 'manifests', 'crds.yaml'));
    assert.equal(crd.code, 0, crd.stderr);
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    // Their upstream plugin.yaml names an image; a second file points hooks and crd-sync at the
    // local build, with a path relative to that file (resolved against it, not the working
    // directory), and bootstrap-with-deployment at an image of that build (with its manifests/
    // in /plugin) in a registry on loopback.
    registry = await startTestRegistry({ dir: join(dir.path, 'registry') });
    const image = `${registry.host}/bootstrap-with-deployment:v1`;
    await pushPluginImage(image, join(built, 'bootstrap-with-deployment', 'plugin'), {
      files: { 'manifests/mydeployment.yaml': readFileSync(join(built, 'bootstrap-with-deployment', 'manifests', 'mydeployment.yaml'), 'utf8') },
    });
    const local = ['hooks', 'crd-sync'].map((name) => `  ${name}:\n    path: ${relative(dir.path, join(built, name))}\n`).join('');
    writeFileSync(join(dir.path, 'local.yaml'), `plugins:\n${local}  bootstrap-with-deployment:\n    image: ${image}\n`);
  });
  after(async () => {
    const deleted = await cli('delete', 'demo');
    assert.equal(deleted.code, 0, deleted.stderr);
    for (const pid of pids) assert.equal(pidAlive(pid), false, `plugin process ${pid} outlived kubenest delete`);
    await host?.dispose();
    await registry?.stop();
    dir.remove();
  });

  it('create -f plugin.yaml loads the three plugins and reports them running, leader, with their hooks', async () => {
    const files = ['hooks', 'crd-sync', 'bootstrap-with-deployment'].flatMap((name) => ['-f', join(source!, name, 'plugin.yaml')]);
    const created = await cli('create', 'demo', ...files, '-f', join(dir.path, 'local.yaml'));
    assert.equal(created.code, 0, `${created.stdout}\n${created.stderr}`);
    const rows = await plugins();
    assert.deepEqual(rows.map((r) => [r.name, r.state, r.leader]), [
      ['bootstrap-with-deployment', 'running', true], ['crd-sync', 'running', true], ['hooks', 'running', true],
    ]);
    const hooks = rows.find((r) => r.name === 'hooks')!.hooks.map((h) => `${h.apiVersion}/${h.kind} ${[...h.types].sort().join(',')}`).sort();
    assert.deepEqual(hooks, ['v1/Pod CreatePhysical,UpdatePhysical', 'v1/Secret GetVirtual', 'v1/Service CreatePhysical,GetVirtual']);
    assert.match(rows[0]!.source, /^127\.0\.0\.1:\d+\/bootstrap-with-deployment:v1$/);
    pids = rows.map((r) => r.pid!).filter(Boolean);
    assert.equal(pids.length, 3);
    const list = await cli('list');
    assert.match(list.stdout, /demo\s+vcluster-demo\s+running\s+\d+\s+3\/3/);
    const log = await cli('logs', 'demo', '--component', 'plugin/hooks');
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /plugin loaded/);
  });

  it('hooks: a pod reaches the host labelled created-by-plugin=pod-hook (CreatePhysical)', async () => {
    assert.equal((await vKubectl('run', 'web', '--image=nginx', '--restart=Never')).code, 0);
    await eventually(async () => {
      const got = await hKubectl('get', 'pod', 'web-x-default-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={.metadata.labels.created-by-plugin}');
      assert.equal(got.stdout, 'pod-hook', got.stderr);
    }, { timeoutMs: 60_000 });
  });

  it('hooks: a service is created on the host with the extra port plugin/19000 (CreatePhysical)', async () => {
    // Watched from before the create: the object the host received first is the hooked one.
    const watch = spawn('kubectl', ['--kubeconfig', host.kubeconfig, 'get', 'services', '-n', 'vcluster-demo', '-w', '--output-watch-events',
      '-o', 'jsonpath={.type} {.object.metadata.name} {.object.spec.ports[*].name} {.object.spec.ports[*].port}{"\\n"}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    watch.stdout.on('data', (chunk: Buffer) => { seen += chunk.toString(); });
    try {
      await eventually(() => assert.match(seen, /ADDED/), { timeoutMs: 30_000 }).catch(() => {}); // existing services listed first
      const svc = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: hooks-test\n  namespace: default\nspec:\n  type: ClusterIP\n  ports:\n  - name: test\n    port: 1000\n';
      assert.equal((await run('kubectl', ['--kubeconfig', join(dir.path, 'vclusters', 'demo', 'kubeconfig'), 'apply', '-f', '-'], { input: svc })).code, 0);
      await eventually(() => assert.match(seen, /ADDED hooks-test-x-default-x-demo test plugin 1000 19000\n/), { timeoutMs: 60_000 });
    } finally {
      watch.kill();
    }
  });

  it('hooks: the host service keeps port 19000 through later syncs (the Service GetVirtual twin)', async () => {
    await eventually(async () => {
      const got = await hKubectl('get', 'service', 'hooks-test-x-default-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={range .spec.ports[*]}{.name}={.port} {end}');
      assert.equal(got.stdout.trim(), 'test=1000 plugin=19000', got.stderr);
    }, { timeoutMs: 20_000 });
    // The syncer reads the virtual Service through GetVirtual: its view has the port too, so it
    // does not write the host back to one port; stable over a while of resyncs.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const later = await hKubectl('get', 'service', 'hooks-test-x-default-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={range .spec.ports[*]}{.name}={.port} {end}');
    assert.equal(later.stdout.trim(), 'test=1000 plugin=19000');
  });

  it('hooks: after SetLeader the plugin created Secret default/test in the virtual cluster', async () => {
    await eventually(async () => {
      const got = await vKubectl('get', 'secret', 'test', '-n', 'default', '-o', 'jsonpath={.data.my-data}');
      assert.equal(Buffer.from(got.stdout, 'base64').toString(), 'my-data', got.stderr);
    }, { timeoutMs: 60_000 });
  });

  it('hooks: Secret default/test reaches the host through its GetVirtual hook (force-sync annotation)', async () => {
    // Nothing references the Secret and sync.toHost.secrets.all is off: only the annotation its
    // GetVirtual hook adds on the syncer's read makes the syncer take it.
    await eventually(async () => {
      const got = await hKubectl('get', 'secret', 'test-x-default-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={.data.my-data}');
      assert.equal(Buffer.from(got.stdout, 'base64').toString(), 'my-data', got.stderr);
    }, { timeoutMs: 60_000 });
    const virtualView = await vKubectl('get', 'secret', 'test', '-n', 'default', '-o', 'jsonpath={.metadata.annotations}');
    assert.doesNotMatch(virtualView.stdout, /force-sync/, 'the hook changes the syncer\'s view, not the stored virtual object');
  });

  it('crd-sync: the Car CRD is ensured from the host into the virtual cluster, and Cars reach the host under vCluster\'s names', async () => {
    const crd = await hKubectl('get', 'crd', 'cars.example.loft.sh', '-o', 'jsonpath={.spec.group}');
    assert.equal(crd.stdout, 'example.loft.sh', crd.stderr);
    await eventually(async () => {
      const got = await vKubectl('get', 'crd', 'cars.example.loft.sh', '-o', 'name');
      assert.equal(got.code, 0, got.stderr);
    }, { timeoutMs: 60_000 });
    const car = 'apiVersion: example.loft.sh/v1\nkind: Car\nmetadata:\n  name: test\n  namespace: kube-system\nspec:\n  type: Audi\n  seats: 4\n';
    await eventually(async () => {
      const applied = await run('kubectl', ['--kubeconfig', join(dir.path, 'vclusters', 'demo', 'kubeconfig'), 'apply', '-f', '-'], { input: car });
      assert.equal(applied.code, 0, applied.stderr);
    }, { timeoutMs: 60_000 });
    await eventually(async () => {
      const got = await hKubectl('get', 'cars.example.loft.sh', 'test-x-kube-system-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={.spec.type}/{.spec.seats}');
      assert.equal(got.stdout, 'Audi/4', got.stderr);
    }, { timeoutMs: 90_000 });
    // The plugin's mapping store is this virtual cluster's own kine (through kubenest's TLS front).
    const db = new DatabaseSync(join(dir.path, 'vclusters', 'demo', 'kine', 'state.db'), { readOnly: true });
    try {
      const rows = db.prepare("SELECT DISTINCT name FROM kine WHERE name LIKE '/vcluster/mappings/%'").all() as { name: string }[];
      process.stderr.write(`mapping-store keys in kine: ${rows.map((r) => r.name).join(', ')}\n`);
      assert.ok(rows.some((r) => r.name.includes('test-x-kube-system-x-demo') || r.name.includes('kube-system/test')), `no Car mapping under /vcluster/mappings/ in kine: ${JSON.stringify(rows)}`);
    } finally {
      db.close();
    }
  });

  it('bootstrap-with-deployment (by image: from the loopback registry): Deployment default/mydeployment applied from its working dir after SetLeader', async () => {
    await eventually(async () => {
      const got = await vKubectl('get', 'deployment', 'mydeployment', '-n', 'default', '-o', 'jsonpath={.metadata.name}');
      assert.equal(got.stdout, 'mydeployment', got.stderr);
    }, { timeoutMs: 60_000 });
    assert.ok(existsSync(join(dir.path, 'vclusters', 'demo', 'plugins', 'bootstrap-with-deployment', 'manifests', 'mydeployment.yaml')));
  });

  it('the host forbade none of their requests: their plugin.yaml rules plus the SDK start-up read are enough (ADR 22)', async () => {
    const sa = await hKubectl('get', 'serviceaccounts', '-n', 'vcluster-demo', '-l', 'vcluster.loft.sh/plugin', '-o', 'name');
    assert.deepEqual(sa.stdout.split('\n').filter(Boolean).sort(), ['bootstrap-with-deployment', 'crd-sync', 'hooks'].map((p) => `serviceaccount/vc-plugin-demo-${p}`));
    for (const name of ['hooks', 'crd-sync', 'bootstrap-with-deployment']) {
      const log = readFileSync(join(dir.path, 'vclusters', 'demo', 'logs', 'plugin', `${name}.log`), 'utf8');
      assert.ok(log.length > 0, `${name}.log is empty`);
      assert.doesNotMatch(log, /forbidden/i, `${name} was refused something by the host`);
    }
  });

  it('create refuses a plugin that is missing, and one whose Initialize fails, naming it and leaving no process', async () => {
    writeFileSync(join(dir.path, 'ghost.yaml'), 'plugins:\n  ghost:\n    path: ./no-such-plugin\n');
    const ghost = await cli('create', 'ghost', '-f', join(dir.path, 'ghost.yaml'));
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, new RegExp(`plugin "ghost": path ${join(dir.path, 'no-such-plugin')} does not exist; point \`path\` at the plugin's directory`));
    assert.equal(existsSync(join(dir.path, 'vclusters', 'ghost')), false, 'nothing was made');
    const record = join(dir.path, 'broken.record');
    writeFileSync(join(dir.path, 'broken.yaml'), `plugins:\n  broken:\n    path: ${FAKE_PLUGIN}\n    config:\n      mode: init-fail\n      record: ${record}\n`);
    const broken = await cli('create', 'broken', '-f', join(dir.path, 'broken.yaml'));
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /plugin "broken" \(.*fake-plugin\.ts\): Initialize failed: plugin must init: no such thing/);
    const started = readFileSync(record, 'utf8').split('\n').filter((l) => l.endsWith(' start')).map((l) => Number(l.split(' ')[0]));
    assert.equal(started.length, 1);
    assert.equal(pidAlive(started[0]!), false, 'the failed plugin was ended');
    const removed = await cli('delete', 'broken');
    assert.equal(removed.code, 0, removed.stderr);
  });

  it('a plugin killed with SIGKILL is restarted, sent SetLeader again, and its hooks work again', async () => {
    const before = (await plugins()).find((r) => r.name === 'hooks')!;
    killProcess(before.pid, 'SIGKILL');
    const killedAt = Date.now();
    const after = await eventually(async () => {
      const row = (await plugins()).find((r) => r.name === 'hooks')!;
      assert.equal(row.state, 'running');
      assert.equal(row.restarts, 1);
      assert.equal(row.leader, true);
      return row;
    }, { timeoutMs: 60_000 });
    process.stderr.write(`hooks plugin back (running, leader) ${Date.now() - killedAt} ms after SIGKILL\n`);
    assert.notEqual(after.pid, before.pid);
    assert.match(after.lastError ?? '', /exited \(signal SIGKILL\)/);
    pids.push(after.pid!);
    assert.equal((await vKubectl('run', 'web2', '--image=nginx', '--restart=Never')).code, 0);
    await eventually(async () => {
      const got = await hKubectl('get', 'pod', 'web2-x-default-x-demo', '-n', 'vcluster-demo', '-o', 'jsonpath={.metadata.labels.created-by-plugin}');
      assert.equal(got.stdout, 'pod-hook', got.stderr);
    }, { timeoutMs: 60_000 });
    const log = readFileSync(join(dir.path, 'vclusters', 'demo', 'logs', 'kubenest.log'), 'utf8');
    assert.match(log, /plugin hooks exited \(signal SIGKILL\).*; restarting/);
    assert.match(log, /plugin hooks restarted \(restart 1\)/);
  });
});
