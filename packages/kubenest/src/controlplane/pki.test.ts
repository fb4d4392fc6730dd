import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureFrontProxyPki, ensurePki, type LeafSpec } from './pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-pki-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const leaves: LeafSpec[] = [
  { name: 'apiserver', commonName: 'kube-apiserver', server: { dnsNames: ['localhost', 'kubernetes.default.svc'], ips: ['127.0.0.1', '10.96.0.1'] } },
  { name: 'admin', commonName: 'admin', organizations: ['system:masters'], client: true },
];

describe('PKI', () => {
  it('issues a CA, leaves signed by it with the right SANs and usages, and 0600 files', async () => {
    const paths = await ensurePki(dir, leaves);
    const ca = new X509Certificate(readFileSync(paths.caCert));
    assert.ok(ca.ca, 'the CA is a CA');
    const server = new X509Certificate(readFileSync(paths.cert('apiserver')));
    assert.ok(server.verify(ca.publicKey), 'the serving certificate is signed by the CA');
    assert.equal(server.subjectAltName, 'DNS:localhost, DNS:kubernetes.default.svc, IP Address:127.0.0.1, IP Address:10.96.0.1');
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(server.ca, false);
    const admin = new X509Certificate(readFileSync(paths.cert('admin')));
    assert.equal(admin.subject, 'CN=admin\nO=system:masters');
    assert.deepEqual(admin.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.ok(server.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(paths.key('apiserver')))), 'key matches certificate');
    for (const file of [paths.caCert, paths.caKey, paths.serviceAccountKey, paths.serviceAccountPub, paths.cert('admin'), paths.key('admin')]) {
      assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is 0600`);
    }
  });

  it('keeps existing material on a second run, and re-issues a leaf whose SANs changed', async () => {
    const paths = await ensurePki(dir, leaves);
    const caBefore = readFileSync(paths.caCert, 'utf8');
    const adminBefore = readFileSync(paths.cert('admin'), 'utf8');
    const apiBefore = readFileSync(paths.cert('apiserver'), 'utf8');
    const saBefore = readFileSync(paths.serviceAccountKey, 'utf8');
    await ensurePki(dir, leaves);
    assert.equal(readFileSync(paths.caCert, 'utf8'), caBefore);
    assert.equal(readFileSync(paths.cert('admin'), 'utf8'), adminBefore);
    assert.equal(readFileSync(paths.serviceAccountKey, 'utf8'), saBefore);
    assert.equal(readFileSync(paths.cert('apiserver'), 'utf8'), apiBefore);

    const moreSans = [{ ...leaves[0]!, server: { dnsNames: ['localhost', 'kubernetes.default.svc', 'extra.example'], ips: ['127.0.0.1', '10.96.0.1'] } }, leaves[1]!];
    await ensurePki(dir, moreSans);
    assert.notEqual(readFileSync(paths.cert('apiserver'), 'utf8'), apiBefore);
    assert.match(new X509Certificate(readFileSync(paths.cert('apiserver'))).subjectAltName ?? '', /DNS:extra\.example/);
    assert.equal(readFileSync(paths.caCert, 'utf8'), caBefore, 'the CA stays');
  });

  it('keeps the front proxy\'s CA apart from the cluster CA: its client certificate verifies only against its own', async () => {
    const paths = await ensurePki(dir, leaves);
    const frontProxy = await ensureFrontProxyPki(dir);
    const proxyCa = new X509Certificate(readFileSync(frontProxy.caCert));
    const client = new X509Certificate(readFileSync(frontProxy.clientCert));
    assert.equal(client.subject, 'CN=front-proxy-client');
    assert.equal(frontProxy.clientName, 'front-proxy-client');
    assert.ok(client.verify(proxyCa.publicKey));
    assert.ok(!client.verify(new X509Certificate(readFileSync(paths.caCert)).publicKey), 'not signed by the cluster CA');
    assert.notEqual(readFileSync(frontProxy.caCert, 'utf8'), readFileSync(paths.caCert, 'utf8'));
    const before = readFileSync(frontProxy.clientCert, 'utf8');
    await ensureFrontProxyPki(dir);
    assert.equal(readFileSync(frontProxy.clientCert, 'utf8'), before, 'kept on a second run');
  });
});
