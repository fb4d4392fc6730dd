import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeconfigError, loadKubeconfig, restConfigFromKubeconfig } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-kc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const doc = {
  'current-context': 'a',
  clusters: [
    { name: 'one', cluster: { server: 'https://127.0.0.1:6443/', 'certificate-authority-data': Buffer.from('CA').toString('base64') } },
    { name: 'two', cluster: { server: 'https://127.0.0.1:7443', 'certificate-authority': 'ca.pem', 'insecure-skip-tls-verify': true } },
  ],
  users: [
    { name: 'certs', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key': 'key.pem' } },
    { name: 'tok', user: { token: 'abc' } },
    { name: 'tokfile', user: { tokenFile: 'token.txt' } },
  ],
  contexts: [
    { name: 'a', context: { cluster: 'one', user: 'certs' } },
    { name: 'b', context: { cluster: 'two', user: 'tok' } },
    { name: 'c', context: { cluster: 'two', user: 'tokfile' } },
    { name: 'broken', context: { cluster: 'three', user: 'tok' } },
  ],
};
writeFileSync(join(dir, 'ca.pem'), 'CAFILE');
writeFileSync(join(dir, 'key.pem'), 'KEYFILE');
writeFileSync(join(dir, 'token.txt'), 'from-file\n');
const file = join(dir, 'config');

describe('kubeconfig', () => {
  it('reads the current context with inline data and files relative to the kubeconfig', () => {
    const config = restConfigFromKubeconfig(doc, file);
    assert.equal(config.server, 'https://127.0.0.1:6443');
    assert.equal(config.caData?.toString(), 'CA');
    assert.equal(config.clientCertData?.toString(), 'CERT');
    assert.equal(config.clientKeyData?.toString(), 'KEYFILE');
    assert.equal(config.insecureSkipTlsVerify, false);
  });

  it('reads a named context, tokens, token files and insecure-skip-tls-verify', () => {
    const b = restConfigFromKubeconfig(doc, file, 'b');
    assert.equal(b.token, 'abc');
    assert.equal(b.caData?.toString(), 'CAFILE');
    assert.equal(b.insecureSkipTlsVerify, true);
    assert.equal(restConfigFromKubeconfig(doc, file, 'c').token, 'from-file');
  });

  it('names the file and what is missing', () => {
    assert.throws(() => restConfigFromKubeconfig(doc, file, 'nope'), (e: Error) => e instanceof KubeconfigError && e.message === `${file}: no context named "nope" (known: a, b, c, broken)`);
    assert.throws(() => restConfigFromKubeconfig(doc, file, 'broken'), /no cluster named "three" \(known: one, two\)/);
    assert.throws(() => restConfigFromKubeconfig({ ...doc, 'current-context': undefined }, file), /no current-context is set/);
    assert.throws(() => loadKubeconfig(join(dir, 'missing')), /missing: cannot read the kubeconfig \(ENOENT\)/);
    writeFileSync(join(dir, 'bad.yaml'), 'a: [');
    assert.throws(() => loadKubeconfig(join(dir, 'bad.yaml')), /bad\.yaml: not valid YAML/);
  });

  it('reports an unreadable key file by path', () => {
    const withMissingKey = structuredClone(doc);
    withMissingKey.users[0]!.user['client-key'] = 'nothere.pem';
    assert.throws(() => restConfigFromKubeconfig(withMissingKey, file), /client-key .*nothere\.pem is unreadable \(ENOENT\)/);
  });
});
