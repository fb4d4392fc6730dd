import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DockerConfigError, dockerConfigPath, findRegistryAuth, normalizeConfigKey } from './docker-config.ts';

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

  it('reports credential helpers instead of running them', () => {
    const path = config({ credsStore: 'desktop', credHelpers: { 'gcr.io': 'gcloud' }, auths: { 'ghcr.io': {} } });
    assert.deepEqual(findRegistryAuth('gcr.io', path), { kind: 'helper', helper: 'docker-credential-gcloud', source: `credHelpers["gcr.io"] in ${path}` });
    assert.deepEqual(findRegistryAuth('ghcr.io', path), { kind: 'helper', helper: 'docker-credential-desktop', source: `credsStore in ${path}` });
    // No entry at all: docker would ask the store, which knows nothing either; anonymous access is tried.
    assert.deepEqual(findRegistryAuth('quay.io', path), { kind: 'anonymous', configPath: path });
  });

  it('is anonymous without a config file, and names the file when it is broken', () => {
    assert.deepEqual(findRegistryAuth('ghcr.io', join(dir, 'absent.json')), { kind: 'anonymous', configPath: join(dir, 'absent.json') });
    const broken = config('{ "auths": ');
    assert.throws(() => findRegistryAuth('ghcr.io', broken), (error: unknown) => error instanceof DockerConfigError && error.message.includes(broken) && /not valid JSON/.test(error.message));
    const badAuth = config({ auths: { 'ghcr.io': { auth: b64('no-colon') } } });
    assert.throws(() => findRegistryAuth('ghcr.io', badAuth), /auths\["ghcr.io"\].*not base64 of "user:password"/);
  });
});
