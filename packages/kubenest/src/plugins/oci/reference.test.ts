import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageReferenceError, formatImageReference, isLoopbackRegistry, parseImageReference, registryApiHost } from './reference.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  it('fills in Docker Hub, library/ and latest', () => {
    assert.deepEqual(parseImageReference('alpine'), { original: 'alpine', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', digest: undefined });
    assert.equal(formatImageReference(parseImageReference('alpine')), 'docker.io/library/alpine:latest');
    assert.equal(formatImageReference(parseImageReference('loftsh/plugin:v1')), 'docker.io/loftsh/plugin:v1');
    assert.equal(formatImageReference(parseImageReference('docker.io/alpine:3')), 'docker.io/library/alpine:3');
    assert.equal(formatImageReference(parseImageReference('index.docker.io/library/alpine')), 'docker.io/library/alpine:latest');
  });

  it('tells a registry from a first path component by a dot, a port or localhost', () => {
    assert.deepEqual(parseImageReference('ghcr.io/org/team/plugin:v0.1.0'), { original: 'ghcr.io/org/team/plugin:v0.1.0', registry: 'ghcr.io', repository: 'org/team/plugin', tag: 'v0.1.0', digest: undefined });
    const local = parseImageReference('127.0.0.1:5000/plugins/hooks');
    assert.equal(local.registry, '127.0.0.1:5000');
    assert.equal(local.repository, 'plugins/hooks');
    assert.equal(local.tag, 'latest');
    assert.equal(parseImageReference('localhost/plugin').registry, 'localhost');
    assert.equal(parseImageReference('org/plugin').registry, 'docker.io');
    assert.equal(parseImageReference('org/plugin').repository, 'org/plugin');
    assert.equal(parseImageReference('[::1]:5000/p').registry, '[::1]:5000');
  });

  it('keeps a digest, with or without a tag, and adds no latest to it', () => {
    const pinned = parseImageReference(`127.0.0.1:5000/p@${DIGEST}`);
    assert.equal(pinned.digest, DIGEST);
    assert.equal(pinned.tag, undefined);
    const both = parseImageReference(`p:v1@${DIGEST}`);
    assert.equal(both.tag, 'v1');
    assert.equal(both.digest, DIGEST);
    assert.equal(formatImageReference(both), `docker.io/library/p:v1@${DIGEST}`);
  });

  it('refuses malformed references with the reason and the expected form', () => {
    const refused = (text: string, why: RegExp): void => {
      assert.throws(() => parseImageReference(text), (error: unknown) => error instanceof ImageReferenceError
        && error.message.includes(`"${text}"`) && why.test(error.message) && error.message.includes('[registry/]repository'));
    };
    refused('', /empty/);
    refused('Plugin:v1', /upper-case/);
    refused('org//plugin', /empty component/);
    refused('https://ghcr.io/org/p', /URL scheme/);
    refused('p@sha256:abc', /64 lowercase hex/);
    refused('p@md5:abc', /sha256/);
    refused('p:-bad', /tag "-bad"/);
    refused('p:v 1', /whitespace/);
    refused('org/p..q', /component "p..q"/);
  });
});

describe('registry hosts', () => {
  it('sends Docker Hub to its API host', () => {
    assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryApiHost('ghcr.io'), 'ghcr.io');
  });

  it('treats only loopback registries as plain HTTP', () => {
    for (const host of ['127.0.0.1:5000', '127.3.4.5', 'localhost:8080', 'localhost', '[::1]:5000']) assert.equal(isLoopbackRegistry(host), true, host);
    for (const host of ['ghcr.io', 'docker.io', '10.0.0.1:5000', 'localhost.example.com', '127.0.0.1.nip.io']) assert.equal(isLoopbackRegistry(host), false, host);
  });
});
