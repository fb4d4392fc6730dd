import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { eventually, killProcess, kubenest, REPO_ROOT, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

const FAKE_PLUGIN = join(REPO_ROOT, 'packages/kubenest/src/plugins/testdata/fake-plugin.ts');
const NS = 'vcluster-demo';

/**
 * Issue 9 §6, least privilege (ADR 22): each plugin's host credentials are a token of its own
 * host ServiceAccount, whose rules are exactly its `rbac.*.extraRules` plus the Go SDK's start-up
 * read; anything else gets 403 from the host; `kubenest delete` removes its ServiceAccount and RBAC.
 * The stand-in plugin makes the requests with the kubeconfig its InitConfig carries and records
 * each status.
 */
describe('plugins hold only their own host rights', () => {
  const dir = tempDir('kn-plugr-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 300_000 });
  const records = { plain: join(dir.path, 'plain.record'), granted: join(dir.path, 'granted.record') };
  /** `host METHOD PATH` → status, per line of a plugin's record (the latest process's wins). */
  const results = (plugin: keyof typeof records): Map<string, { status: number; body: string }> => {
    const seen = new Map<string, { status: number; body: string }>();
    for (const line of existsSync(records[plugin]) ? readFileSync(records[plugin], 'utf8').split('\n') : []) {
      const m = /^\d+ host (\S+ \S+) (\d+) (.*)$/.exec(line);
      if (m) seen.set(m[1]!, { status: Number(m[2]), body: m[3]! });
    }
    return seen;
  };
  const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { by: 'plugin' } });
  const ssr = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' };

  before(async () => {
    host = await startHostCluster({ nodes: 1 });
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    // Made beforehand, so that `delete` keeps it and what it leaves inside can be checked.
    assert.equal((await host.kubectl('create', 'namespace', NS)).code, 0);
    const values = {
      plugins: {
        plain: {
          path: FAKE_PLUGIN,
          config: {
            record: records.plain,
            tryHost: [
              { method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', body: ssr },
              { method: 'GET', path: `/api/v1/namespaces/${NS}/secrets/vc-config-demo` },
              { method: 'POST', path: `/api/v1/namespaces/${NS}/configmaps`, body: cm('plain-probe') },
              { method: 'GET', path: `/api/v1/namespaces/${NS}/secrets` },
              { method: 'GET', path: '/api/v1/namespaces' },
            ],
          },
        },
        granted: {
          path: FAKE_PLUGIN,
          rbac: {
            role: { extraRules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get'] }] },
            clusterRole: { extraRules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list'] }] },
          },
          config: {
            record: records.granted,
            label: 'granted',
            tryHost: [
              { method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', body: ssr },
              { method: 'POST', path: `/api/v1/namespaces/${NS}/configmaps`, body: cm('granted-probe') },
              { method: 'GET', path: '/api/v1/namespaces' },
              { method: 'DELETE', path: `/api/v1/namespaces/${NS}/configmaps/granted-probe` },
              { method: 'POST', path: `/api/v1/namespaces/${NS}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'granted-probe', namespace: NS } } },
            ],
          },
        },
      },
    };
    writeFileSync(join(dir.path, 'values.yaml'), stringify(values));
  });
  after(async () => {
    await cli('delete', 'demo');
    await host?.dispose();
    dir.remove();
  });

  it('create: each plugin gets its own ServiceAccount token, never the syncer\'s credentials', async () => {
    const created = await cli('create', 'demo', '-f', join(dir.path, 'values.yaml'));
    assert.equal(created.code, 0, `${created.stdout}\n${created.stderr}`);
    for (const plugin of ['plain', 'granted'] as const) {
      const lines = readFileSync(records[plugin], 'utf8');
      assert.match(lines, /host credentials token\n/, 'a bearer token only: no client certificate');
      const review = results(plugin).get('POST /apis/authentication.k8s.io/v1/selfsubjectreviews')!;
      assert.equal(review.status, 201, review.body);
      assert.equal((JSON.parse(review.body) as { status: { userInfo: { username: string } } }).status.userInfo.username, `system:serviceaccount:${NS}:vc-plugin-demo-${plugin}`);
    }
  });

  it('a plugin without extra rules reads its start-up Secret and gets 403 for anything else', () => {
    const got = results('plain');
    assert.equal(got.get(`GET /api/v1/namespaces/${NS}/secrets/vc-config-demo`)?.status, 200, 'the SDK start-up read');
    for (const denied of [`POST /api/v1/namespaces/${NS}/configmaps`, `GET /api/v1/namespaces/${NS}/secrets`, 'GET /api/v1/namespaces']) {
      const answer = got.get(denied);
      assert.equal(answer?.status, 403, `${denied}: ${answer?.body}`);
      assert.match(answer.body, /system:serviceaccount:vcluster-demo:vc-plugin-demo-plain/);
    }
  });

  it('a plugin with extra rules can do exactly those, and gets 403 for the rest', async () => {
    const got = results('granted');
    assert.equal(got.get(`POST /api/v1/namespaces/${NS}/configmaps`)?.status, 201, got.get(`POST /api/v1/namespaces/${NS}/configmaps`)?.body);
    assert.equal(got.get('GET /api/v1/namespaces')?.status, 200, 'its clusterRole rule');
    assert.equal(got.get(`DELETE /api/v1/namespaces/${NS}/configmaps/granted-probe`)?.status, 403, 'delete was not granted');
    assert.equal(got.get(`POST /api/v1/namespaces/${NS}/secrets`)?.status, 403, 'secrets were not granted');
    const probe = await host.kubectl('get', 'configmap', 'granted-probe', '-n', NS, '-o', 'jsonpath={.data.by}');
    assert.equal(probe.stdout, 'plugin', probe.stderr);
    // The rules on the host are exactly its own plus the SDK's start-up read.
    const role = JSON.parse((await host.kubectl('get', 'role', 'vc-plugin-demo-granted', '-n', NS, '-o', 'json')).stdout) as { rules: unknown[] };
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['vc-config-demo'], verbs: ['get'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get'] },
    ]);
    const clusterRole = JSON.parse((await host.kubectl('get', 'clusterrole', `vc-plugin-${NS}-x-demo-x-granted`, '-o', 'json')).stdout) as { rules: unknown[] };
    assert.deepEqual(clusterRole.rules, [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list'] }]);
    const none = await host.kubectl('get', 'clusterrole', `vc-plugin-${NS}-x-demo-x-plain`);
    assert.notEqual(none.code, 0, 'no ClusterRole for a plugin without cluster rules');
  });

  it('a restarted plugin gets a fresh token of the same ServiceAccount', async () => {
    const before = JSON.parse((await cli('plugins', 'demo', '--json')).stdout) as { name: string; pid: number }[];
    const plain = before.find((p) => p.name === 'plain')!;
    killProcess(plain.pid, 'SIGKILL');
    await eventually(async () => {
      const rows = JSON.parse((await cli('plugins', 'demo', '--json')).stdout) as { name: string; pid: number; state: string; restarts: number }[];
      const row = rows.find((p) => p.name === 'plain')!;
      assert.equal(row.state, 'running');
      assert.equal(row.restarts, 1);
    }, { timeoutMs: 60_000 });
    const tokens = readFileSync(records.plain, 'utf8').split('\n').filter((l) => / host POST \/apis\/authentication.k8s.io\/v1\/selfsubjectreviews 201 /.test(l));
    assert.equal(tokens.length, 2, 'both processes were authenticated');
    assert.notEqual(tokens[0]!.split(' ')[0], tokens[1]!.split(' ')[0]);
    assert.equal(results('plain').get(`POST /api/v1/namespaces/${NS}/configmaps`)?.status, 403);
  });

  it('kubenest delete leaves no plugin ServiceAccount, Role, ClusterRole or binding on the host', async () => {
    const present = await host.kubectl('get', 'serviceaccount,role,rolebinding', '-n', NS, '-l', 'vcluster.loft.sh/plugin', '-o', 'name');
    assert.deepEqual(present.stdout.split('\n').filter(Boolean).sort(), [
      'role.rbac.authorization.k8s.io/vc-plugin-demo-granted', 'role.rbac.authorization.k8s.io/vc-plugin-demo-plain',
      'rolebinding.rbac.authorization.k8s.io/vc-plugin-demo-granted', 'rolebinding.rbac.authorization.k8s.io/vc-plugin-demo-plain',
      'serviceaccount/vc-plugin-demo-granted', 'serviceaccount/vc-plugin-demo-plain',
    ]);
    const deleted = await cli('delete', 'demo');
    assert.equal(deleted.code, 0, deleted.stderr);
    const left = await host.kubectl('get', 'serviceaccount,role,rolebinding', '-n', NS, '-l', 'vcluster.loft.sh/plugin', '-o', 'name');
    assert.equal(left.code, 0, left.stderr);
    assert.equal(left.stdout.trim(), '');
    const cluster = await host.kubectl('get', 'clusterrole,clusterrolebinding', '-l', 'vcluster.loft.sh/plugin', '-o', 'name');
    assert.equal(cluster.code, 0, cluster.stderr);
    assert.equal(cluster.stdout.trim(), '');
    assert.equal((await host.kubectl('get', 'namespace', NS)).code, 0, 'the namespace made beforehand is kept');
  });
});
