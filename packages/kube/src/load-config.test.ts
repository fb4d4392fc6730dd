import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { KubeconfigError } from './kubeconfig.ts';
import { loadRestConfig } from './load-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, content: unknown): string {
  const full = join(dir, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, typeof content === 'string' ? content : stringify(content));
  return full;
}

/** A one-context kubeconfig whose server names where it came from. */
function simple(server: string, user: Record<string, unknown> = { token: 't' }, cluster: Record<string, unknown> = {}): unknown {
  return {
    'current-context': 'main',
    clusters: [{ name: 'c', cluster: { server, ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'main', context: { cluster: 'c', user: 'u' } }, { name: 'other', context: { cluster: 'c' } }],
  };
}

const explicitFile = write('explicit/config', simple('https://explicit:1'));
const envFile = write('env/config', simple('https://kubeconfig-env:1'));
const home = join(dir, 'home');
write('home/.kube/config', simple('https://home:1'));
const emptyHome = join(dir, 'empty-home');
mkdirSync(emptyHome);
const saRoot = join(dir, 'sa');
write('sa/ca.crt', 'CA');
write('sa/token', 'sa-token');
const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('loadRestConfig precedence', () => {
  it('prefers the explicit file, then KUBECONFIG, then in-cluster, then ~/.kube/config', () => {
    const all = { KUBECONFIG: envFile, ...inPod };
    assert.equal(loadRestConfig({ kubeconfig: explicitFile, env: all, home, inClusterRoot: saRoot }).server, 'https://explicit:1');
    assert.equal(loadRestConfig({ env: all, home, inClusterRoot: saRoot }).server, 'https://kubeconfig-env:1');
    const inCluster = loadRestConfig({ env: inPod, home, inClusterRoot: saRoot });
    assert.equal(inCluster.server, 'https://10.96.0.1:443');
    assert.ok(inCluster.tokenProvider);
    assert.equal(loadRestConfig({ env: {}, home, inClusterRoot: saRoot }).server, 'https://home:1');
    assert.equal(loadRestConfig({ env: { KUBECONFIG: '' }, home, inClusterRoot: saRoot }).server, 'https://home:1');
  });

  it('lists what it tried when nothing is found', () => {
    assert.throws(() => loadRestConfig({ env: {}, home: emptyHome, inClusterRoot: saRoot }), (error: Error) => error instanceof KubeconfigError
      && error.message === 'kubeconfig: no cluster config found. Tried: KUBECONFIG (not set); '
        + 'in-cluster service account (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set); '
        + `${join(emptyHome, '.kube', 'config')} (does not exist). Set KUBECONFIG to a kubeconfig file or pass one explicitly`);
  });

  it('does not fall back when KUBECONFIG names only missing files', () => {
    const list = [join(dir, 'nope-1'), join(dir, 'nope-2')].join(delimiter);
    assert.throws(() => loadRestConfig({ env: { KUBECONFIG: list, ...inPod }, home, inClusterRoot: saRoot }),
      (error: Error) => error instanceof KubeconfigError && error.message.startsWith(`KUBECONFIG=${list}: none of its files exists (${join(dir, 'nope-1')}, ${join(dir, 'nope-2')})`));
  });

  it('does not fall back when the explicit file is missing', () => {
    assert.throws(() => loadRestConfig({ kubeconfig: join(dir, 'missing'), env: {}, home }), /missing: cannot read the kubeconfig \(ENOENT\)/);
  });
});

describe('loadRestConfig contexts', () => {
  it('selects a context in each kubeconfig source', () => {
    const other = { context: 'other' };
    assert.equal(loadRestConfig({ ...other, kubeconfig: explicitFile, env: {} }).token, undefined);
    assert.equal(loadRestConfig({ kubeconfig: explicitFile, env: {} }).token, 't');
    assert.equal(loadRestConfig({ ...other, env: { KUBECONFIG: envFile } }).token, undefined);
    assert.equal(loadRestConfig({ ...other, env: {}, home }).token, undefined);
    assert.throws(() => loadRestConfig({ context: 'nope', env: {}, home }), /no context named "nope" \(known: main, other\)/);
  });

  it('refuses a context with in-cluster config', () => {
    assert.throws(() => loadRestConfig({ context: 'main', env: inPod, home, inClusterRoot: saRoot }),
      (error: Error) => error instanceof KubeconfigError && /^in-cluster config: context "main" was asked for, but KUBECONFIG is not set/.test(error.message));
  });
});

describe('KUBECONFIG with several files', () => {
  const first = write('merge/a/config', {
    clusters: [{ name: 'shared', cluster: { server: 'https://from-a:1' } }],
    users: [{ name: 'alice', user: { token: 'alice-from-a' } }],
    contexts: [{ name: 'ctx-a', context: { cluster: 'shared', user: 'alice' } }],
  });
  const second = write('merge/b/config', {
    'current-context': 'ctx-a',
    clusters: [
      { name: 'shared', cluster: { server: 'https://from-b:1' } },
      { name: 'only-b', cluster: { server: 'https://only-b:1', 'certificate-authority': 'ca.pem' } },
    ],
    users: [
      { name: 'alice', user: { token: 'alice-from-b' } },
      { name: 'bob', user: { tokenFile: 'bob-token' } },
      { name: 'basic', user: { username: 'admin', password: 'secret' } },
    ],
    contexts: [
      { name: 'ctx-a', context: { cluster: 'only-b', user: 'bob' } },
      { name: 'ctx-b', context: { cluster: 'only-b', user: 'bob' } },
      { name: 'ctx-basic', context: { cluster: 'shared', user: 'basic' } },
    ],
  });
  const third = write('merge/c/config', { 'current-context': 'ctx-b' });
  write('merge/b/ca.pem', 'CA-OF-B');
  write('merge/b/bob-token', 'bob-token\n');
  const missing = join(dir, 'merge/missing');
  const list = [missing, first, second, third].join(delimiter);

  it('takes each name from the first file that defines it and current-context from the first file that sets it', () => {
    const config = loadRestConfig({ env: { KUBECONFIG: list } });
    assert.equal(config.server, 'https://from-a:1');
    assert.equal(config.token, 'alice-from-a');
  });

  it('resolves relative paths against the file that defined the entry', () => {
    const config = loadRestConfig({ context: 'ctx-b', env: { KUBECONFIG: list } });
    assert.equal(config.server, 'https://only-b:1');
    assert.equal(config.caData?.toString(), 'CA-OF-B');
    assert.equal(config.token, 'bob-token');
  });

  it('uses the first current-context even when a later file sets another', () => {
    // third sets ctx-b; second sets ctx-a, which first defines (and which would lead to from-a).
    const config = loadRestConfig({ env: { KUBECONFIG: [third, first, second].join(delimiter) } });
    assert.equal(config.server, 'https://only-b:1');
    assert.equal(config.token, 'bob-token');
  });

  it('names the merged files in document errors and the defining file in entry errors', () => {
    assert.throws(() => loadRestConfig({ context: 'nope', env: { KUBECONFIG: list } }), (error: Error) => error.message
      === `${first}, ${second}, ${third} (merged from KUBECONFIG): no context named "nope" (known: ctx-a, ctx-b, ctx-basic)`);
    assert.throws(() => loadRestConfig({ context: 'ctx-basic', env: { KUBECONFIG: list } }), (error: Error) => error.message.startsWith(`${second}: user "basic" sets username/password (basic auth)`));
  });
});

describe('refused kubeconfig features', () => {
  it('refuses basic auth, naming the user and the file', () => {
    const file = write('refuse/basic', simple('https://x:1', { username: 'admin', password: 'secret' }));
    assert.throws(() => loadRestConfig({ kubeconfig: file }), (error: Error) => error instanceof KubeconfigError
      && error.message.startsWith(`${file}: user "u" sets username/password (basic auth), which kubenest does not support`)
      && !error.message.includes('secret'));
    const passwordOnly = write('refuse/password', simple('https://x:1', { password: 'secret' }));
    assert.throws(() => loadRestConfig({ kubeconfig: passwordOnly }), /user "u" sets username\/password \(basic auth\)/);
  });

  it('refuses auth-provider, naming the provider, the user and the file', () => {
    const file = write('refuse/auth-provider', simple('https://x:1', { 'auth-provider': { name: 'oidc', config: { 'id-token': 'x' } } }));
    assert.throws(() => loadRestConfig({ kubeconfig: file }), (error: Error) => error instanceof KubeconfigError
      && error.message.startsWith(`${file}: user "u" uses auth-provider "oidc", which kubenest does not support`)
      && error.message.includes('exec credential plugin'));
  });

  it('refuses proxy-url without repeating it', () => {
    const file = write('refuse/proxy', simple('https://x:1', { token: 't' }, { 'proxy-url': 'http://user:pw@proxy:3128' }));
    assert.throws(() => loadRestConfig({ kubeconfig: file }), (error: Error) => error instanceof KubeconfigError
      && error.message.startsWith(`${file}: cluster "c" sets proxy-url, but kubenest never connects through a proxy`)
      && !error.message.includes('pw@proxy'));
  });

  it('ignores the refused fields when they are empty', () => {
    const file = write('refuse/empty', simple('https://x:1', { token: 't', username: '', password: null, 'auth-provider': null }, { 'proxy-url': '' }));
    assert.equal(loadRestConfig({ kubeconfig: file }).token, 't');
  });
});
