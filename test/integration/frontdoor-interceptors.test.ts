import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliSandbox, run, testPlugins, type CliSandbox } from '@kubenest/testing';

/**
 * Issue 10: plugin interceptors in the front door, with our own Go test plugin kntest
 * (tools/test-plugins), which declares "kntest-pods" (get of pods named kntest-pod) and
 * "kntest-url" (get of /kntest/*) and serves them on its InitConfig port. The TypeScript SDK
 * cannot register an interceptor yet (ADR 24), so there is no TypeScript plugin here.
 */
describe('front door: plugin interceptors', () => {
  let sandbox: CliSandbox;
  let kubeconfig: string;
  let executable: string;
  const vkubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args]);

  /** Live kntest processes, to prove a failed create leaves none. */
  const kntestPids = (): number[] => readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`) === executable;
    } catch {
      return false;
    }
  }).map(Number);

  /** What kntest says it answered so far (this request itself is intercepted too, and not counted). */
  const served = async (): Promise<{ handler: string; path: string; credentials: boolean }[]> => {
    const answer = await vkubectl('get', '--raw', '/kntest/requests');
    assert.equal(answer.code, 0, answer.stderr);
    return (JSON.parse(answer.stdout) as { requests: { handler: string; path: string; credentials: boolean }[] }).requests;
  };

  before(async () => {
    executable = join(await testPlugins(), 'kntest');
    sandbox = await cliSandbox('kn-fdint-');
    const values = join(sandbox.dir, 'values.yaml');
    writeFileSync(values, `plugins:\n  kntest:\n    path: ${executable}\n    config: {label: fd, interceptor: true}\n`);
    const up = await sandbox.cli('up', '--nodes', '1', '-f', values);
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
  });
  after(async () => {
    await sandbox?.dispose(['demo', 'clash']);
  });

  it('kubectl get pod: a pod that does not exist is answered by the plugin, which never sees the caller\'s credentials', async () => {
    const json = await vkubectl('get', 'pod', 'kntest-pod', '-n', 'default', '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    const pod = JSON.parse(json.stdout) as { kind: string; metadata: { name: string; annotations: Record<string, string> } };
    assert.equal(pod.kind, 'Pod');
    assert.equal(pod.metadata.name, 'kntest-pod');
    assert.equal(pod.metadata.annotations['kntest/answered-by'], 'kntest-pods');
    assert.equal(pod.metadata.annotations['kntest/credentials'], 'false', 'no Authorization, Impersonate-* or X-Remote-* header reached the plugin');
    const table = await vkubectl('get', 'pod', 'kntest-pod', '-n', 'default');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /kntest-pod/);
    // Not the plugin's: another pod name, and the list (verb list).
    const other = await vkubectl('get', 'pod', 'other-pod', '-n', 'default');
    assert.equal(other.code, 1);
    assert.match(other.stderr, /pods "other-pod" not found/);
    assert.equal((await vkubectl('get', 'pods', '-n', 'default')).code, 0);
  });

  it('the pods rule also takes pods/log (vCluster ignores the subresource)', async () => {
    const logs = await vkubectl('logs', 'kntest-pod', '-n', 'default');
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout.trim(), 'kntest answered /api/v1/namespaces/default/pods/kntest-pod/log');
  });

  it('a rule on a non-resource URL', async () => {
    const raw = await vkubectl('get', '--raw', '/kntest/hello');
    assert.equal(raw.code, 0, raw.stderr);
    assert.deepEqual(JSON.parse(raw.stdout), { handler: 'kntest-url', path: '/kntest/hello', credentials: false });
    // Outside the rule's prefix: the apiserver's own 404.
    const outside = await vkubectl('get', '--raw', '/kntestx');
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /NotFound|not found/i);
  });

  it('a service account without rights gets 403 from the front door, and the plugin sees nothing', async () => {
    assert.equal((await vkubectl('create', 'serviceaccount', 'nobody', '-n', 'default')).code, 0);
    const token = await vkubectl('create', 'token', 'nobody', '-n', 'default');
    assert.equal(token.code, 0, token.stderr);
    const before = await served();
    const state = JSON.parse(readFileSync(join(sandbox.vclustersDir, 'demo', 'run', 'state.json'), 'utf8')) as { server: string };
    const doc = readFileSync(kubeconfig, 'utf8');
    const caFile = join(sandbox.dir, 'ca.crt');
    writeFileSync(caFile, Buffer.from(/certificate-authority-data: (\S+)/.exec(doc)![1]!, 'base64'));
    writeFileSync(join(sandbox.dir, 'empty'), 'apiVersion: v1\nkind: Config\n');
    const asNobody = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.dir, 'empty'), '--server', state.server, '--certificate-authority', caFile, '--token', token.stdout.trim(), ...args]);
    const pod = await asNobody('get', 'pod', 'kntest-pod', '-n', 'default');
    assert.equal(pod.code, 1);
    assert.match(pod.stderr, /pods "kntest-pod" is forbidden: User "system:serviceaccount:default:nobody" cannot get resource "pods" in API group "" in the namespace "default"/);
    const raw = await asNobody('get', '--raw', '/kntest/hello');
    assert.equal(raw.code, 1);
    assert.match(raw.stderr, /forbidden: User "system:serviceaccount:default:nobody" cannot get path "\/kntest\/hello"/);
    // Impersonating someone it may not impersonate: refused too.
    const impersonating = await asNobody('get', 'pod', 'kntest-pod', '-n', 'default', '--as', 'kubenest-admin');
    assert.equal(impersonating.code, 1);
    assert.match(impersonating.stderr, /cannot impersonate resource "users"/);
    assert.deepEqual(await served(), before, 'the plugin answered nothing for the refused caller');
    // Given the right (RBAC in the virtual cluster), the same caller is answered.
    assert.equal((await vkubectl('create', 'role', 'pod-reader', '-n', 'default', '--verb=get', '--resource=pods')).code, 0);
    assert.equal((await vkubectl('create', 'rolebinding', 'nobody-reads', '-n', 'default', '--role=pod-reader', '--serviceaccount=default:nobody')).code, 0);
    const allowed = await asNobody('get', 'pod', 'kntest-pod', '-n', 'default', '-o', 'jsonpath={.metadata.annotations.kntest/answered-by}');
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stdout, 'kntest-pods');
  });

  it('two plugins whose rules claim the same requests make kubenest create fail naming both, leaving no plugin process', async () => {
    const before = new Set(kntestPids());
    const values = join(sandbox.dir, 'clash.yaml');
    writeFileSync(values, [
      'plugins:',
      `  first:\n    path: ${executable}\n    config: {label: a, interceptor: true}`,
      `  second:\n    path: ${executable}\n    config: {label: b, interceptor: true}`,
    ].join('\n') + '\n');
    const created = await sandbox.cli('create', 'clash', '-f', values, '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
    assert.equal(created.code, 1, created.stdout);
    assert.match(created.stderr, /interceptor rules conflict: plugin "first" \(kntest-pods\) and plugin "second" \(kntest-pods\) both claim\s+pods get kntest-pod/);
    assert.deepEqual(kntestPids().filter((pid) => !before.has(pid)), [], 'no kntest process is left');
  });
});
