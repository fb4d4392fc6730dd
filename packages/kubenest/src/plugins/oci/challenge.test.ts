import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenges } from './challenge.ts';

describe('parseChallenges', () => {
  it('reads a Bearer challenge as registries send it', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
  });

  it('reads several challenges, unquoted values, spaces and escapes', () => {
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm=https://x/token , service = "a\\"b", error="insufficient_scope"'), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'a"b', error: 'insufficient_scope' } },
    ]);
  });

  it('reads a scheme without parameters, and returns nothing for an empty header', () => {
    assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: {} }]);
    assert.deepEqual(parseChallenges('Negotiate, Basic realm="r"'), [{ scheme: 'negotiate', params: {} }, { scheme: 'basic', params: { realm: 'r' } }]);
    assert.deepEqual(parseChallenges(''), []);
  });

  it('keeps a scope that holds commas and colons inside quotes', () => {
    const [challenge] = parseChallenges('Bearer realm="http://127.0.0.1:1/t",scope="repository:a/b:pull,push repository:c:pull"');
    assert.equal(challenge?.params['scope'], 'repository:a/b:pull,push repository:c:pull');
  });
});
