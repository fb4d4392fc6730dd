import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DockerConfigError, dockerConfigPath, findRegistryAuth, normalizeConfigKey, runCredentialHelper } from './docker-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-dockercfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function config(content: unknown): string {
  const path = join(dir, `config-${n++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('dockerConfigPath', () => {
  it('uses DOCKER_CONFIG, else ~/.docker', () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: '/etc/dk' }), '/etc/dk/config.json');
    assert.equal(dockerConfigPath({ HOME: '/home/u' }), '/home/u/.docker/config.json');
  });
});

describe('findRegistryAuth', () => {
  it('decodes auth (a password may hold colons) and reads username/password', () => {
    const path = config({ auths: { '127.0.0.1:5000': { auth: b64('alice:pa:ss') }, 'ghcr.io': { username: 'bob', password: 'tok' } } });
    assert.deepEqual(findRegistryAuth('127.0.0.1:5000', path), { kind: 'basic', username: 'alice', password: 'pa:ss', source: `auths["127.0.0.1:5000"] in ${path}` });
    assert.deepEqual(findRegistryAuth('ghcr.io', path), { kind: 'basic', username: 'bob', password: 'tok', source: `auths["ghcr.io"] in ${path}` });
    assert.deepEqual(findRegistryAuth('quay.io', path), { kind: 'anonymous', configPath: path });
  });

  it("finds Docker Hub under docker login's https://index.docker.io/v1/ key, and hosts written with a scheme", () => {
    const path = config({ auths: { 'https://index.docker.io/v1/': { auth: b64('u:p') }, 'http://127.0.0.1:5001/v2/': { auth: b64('v:q') } } });
    assert.equal(normalizeConfigKey('https://index.docker.io/v1/'), 'docker.io');
    assert.deepEqual(findRegistryAuth('docker.io', path), { kind: 'basic', username: 'u', password: 'p', source: `auths["https://index.docker.io/v1/"] in ${path}` });
    assert.equal(findRegistryAuth('127.0.0.1:5001', path).kind, 'basic');
  });

  it('returns an identity token', () => {
    const path = config({ auths: { 'r.example': { identitytoken: 'refresh-me' } } });
    assert.deepEqual(findRegistryAuth('r.example', path), { kind: 'identity-token', token: 'refresh-me', source: `auths["r.example"] in ${path}` });
  });

  it('names the credential helper and the server to ask it for', () => {
    const path = config({ credsStore: 'desktop', credHelpers: { 'gcr.io': 'gcloud' }, auths: { 'ghcr.io': {} } });
    assert.deepEqual(findRegistryAuth('gcr.io', path), { kind: 'helper', helper: 'docker-credential-gcloud', server: 'gcr.io', source: `credHelpers["gcr.io"] in ${path}` });
    assert.deepEqual(findRegistryAuth('ghcr.io', path), { kind: 'helper', helper: 'docker-credential-desktop', server: 'ghcr.io', source: `credsStore in ${path}` });
    // No entry at all: the store is asked all the same, as docker does; Docker Hub by its login URL.
    assert.deepEqual(findRegistryAuth('quay.io', path), { kind: 'helper', helper: 'docker-credential-desktop', server: 'quay.io', source: `credsStore in ${path}` });
    assert.equal((findRegistryAuth('docker.io', path) as { server: string }).server, 'https://index.docker.io/v1/');
    // Credentials written inline win over the store.
    const inline = config({ credsStore: 'desktop', auths: { 'ghcr.io': { auth: b64('u:p') } } });
    assert.equal(findRegistryAuth('ghcr.io', inline).kind, 'basic');
  });

  it('is anonymous without a config file, and names the file when it is broken', () => {
    assert.deepEqual(findRegistryAuth('ghcr.io', join(dir, 'absent.json')), { kind: 'anonymous', configPath: join(dir, 'absent.json') });
    const broken = config('{ "auths": ');
    assert.throws(() => findRegistryAuth('ghcr.io', broken), (error: unknown) => error instanceof DockerConfigError && error.message.includes(broken) && /not valid JSON/.test(error.message));
    const badAuth = config({ auths: { 'ghcr.io': { auth: b64('no-colon') } } });
    assert.throws(() => findRegistryAuth('ghcr.io', badAuth), /auths\["ghcr.io"\].*not base64 of "user:password"/);
  });
});

describe('runCredentialHelper', () => {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // A helper that answers per server, as docker-credential-* helpers do: the server on stdin, JSON on stdout.
  writeFileSync(join(bin, 'docker-credential-kntest'), `#!/bin/sh
[ "$1" = get ] || exit 2
read server
case "$server" in
  basic.example) echo '{"ServerURL":"basic.example","Username":"carol","Secret":"s3"}' ;;
  token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh"}' ;;
  broken.example) echo 'boom' >&2; exit 3 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
  const helper = (server: string, name = 'docker-credential-kntest') => ({ kind: 'helper' as const, helper: name, server, source: 'credsStore in /x/config.json' });

  it('returns what the helper keeps: a password, or an identity token for <token>', () => {
    assert.deepEqual(runCredentialHelper(helper('basic.example'), '/x/config.json', env),
      { kind: 'basic', username: 'carol', password: 's3', source: 'docker-credential-kntest (credsStore in /x/config.json)' });
    assert.deepEqual(runCredentialHelper(helper('token.example'), '/x/config.json', env),
      { kind: 'identity-token', token: 'refresh', source: 'docker-credential-kntest (credsStore in /x/config.json)' });
  });

  it('is anonymous when the helper knows nothing, and an error naming it when it fails or is missing', () => {
    assert.deepEqual(runCredentialHelper(helper('other.example'), '/x/config.json', env), { kind: 'anonymous', configPath: '/x/config.json' });
    assert.throws(() => runCredentialHelper(helper('broken.example'), '/x/config.json', env), /credential helper docker-credential-kntest \(credsStore in \/x\/config.json\) exited 3: boom/);
    assert.throws(() => runCredentialHelper(helper('basic.example', 'docker-credential-kn-absent'), '/x/config.json', env),
      /docker-credential-kn-absent .* is not on PATH; install it, or write the credentials into "auths" of \/x\/config.json/);
  });
});
