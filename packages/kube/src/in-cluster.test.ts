import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inClusterConfig, inClusterNamespace } from './in-cluster.ts';
import { KubeconfigError } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-incluster-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function serviceAccount(files: Record<string, string>): string {
  const root = join(dir, `sa-${++count}`);
  mkdirSync(root);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
  return root;
}
const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('inClusterConfig', () => {
  it('is undefined unless both KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set', () => {
    const root = serviceAccount({ 'ca.crt': 'CA', token: 't' });
    assert.equal(inClusterConfig({ root, env: {} }), undefined);
    assert.equal(inClusterConfig({ root, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } }), undefined);
    assert.equal(inClusterConfig({ root, env: { KUBERNETES_SERVICE_PORT: '443' } }), undefined);
    assert.equal(inClusterConfig({ root, env: { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '443' } }), undefined);
  });

  it('builds the server URL, reads the CA and the token', async () => {
    const root = serviceAccount({ 'ca.crt': 'CA-PEM', token: 'sa-token\n' });
    const config = inClusterConfig({ root, env: inPod });
    assert.ok(config);
    assert.equal(config.server, 'https://10.96.0.1:443');
    assert.equal(config.caData?.toString(), 'CA-PEM');
    assert.equal(config.token, undefined);
    assert.equal(await config.tokenProvider?.token(), 'sa-token');
    const v6 = inClusterConfig({ root, env: { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' } });
    assert.equal(v6?.server, 'https://[fd00:10:96::1]:6443');
  });

  it('re-reads the rotated token once a minute and after invalidate()', async () => {
    const root = serviceAccount({ 'ca.crt': 'CA', token: 'first' });
    let now = 1_000_000;
    const provider = inClusterConfig({ root, env: inPod, now: () => now })?.tokenProvider;
    assert.ok(provider);
    assert.equal(await provider.token(), 'first');
    writeFileSync(join(root, 'token'), 'second');
    now += 59_999;
    assert.equal(await provider.token(), 'first');
    now += 1;
    assert.equal(await provider.token(), 'second');
    writeFileSync(join(root, 'token'), 'third');
    assert.equal(await provider.token(), 'second');
    provider.invalidate();
    assert.equal(await provider.token(), 'third');
  });

  it('names the unreadable token or CA file', async () => {
    const noToken = serviceAccount({ 'ca.crt': 'CA' });
    assert.throws(() => inClusterConfig({ root: noToken, env: inPod }),
      (error: Error) => error instanceof KubeconfigError && error.message.startsWith(`${join(noToken, 'token')}: cannot read the service-account token (ENOENT)`));
    const noCa = serviceAccount({ token: 't' });
    assert.throws(() => inClusterConfig({ root: noCa, env: inPod }),
      (error: Error) => error instanceof KubeconfigError && error.message.startsWith(`${join(noCa, 'ca.crt')}: cannot read the in-cluster CA certificate (ENOENT)`));
    const emptyToken = serviceAccount({ 'ca.crt': 'CA', token: '\n' });
    assert.throws(() => inClusterConfig({ root: emptyToken, env: inPod }), /token file is empty/);

    const vanishing = serviceAccount({ 'ca.crt': 'CA', token: 't' });
    const provider = inClusterConfig({ root: vanishing, env: inPod })?.tokenProvider;
    rmSync(join(vanishing, 'token'));
    provider?.invalidate();
    await assert.rejects(provider!.token(), /cannot read the service-account token \(ENOENT\)/);
  });
});

describe('inClusterNamespace', () => {
  it('reads the namespace file, or gives undefined without one', () => {
    assert.equal(inClusterNamespace(serviceAccount({ namespace: 'team-a\n' })), 'team-a');
    assert.equal(inClusterNamespace(serviceAccount({})), undefined);
    assert.equal(inClusterNamespace(join(dir, 'no-such-dir')), undefined);
  });
});
