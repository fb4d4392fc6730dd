import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interceptorConflicts, interceptorRuleProblem, parsePluginConfig } from './plugin-config.ts';
import { parseHandshake } from './process.ts';

describe('GetPluginConfig answers', () => {
  it('parses the Go SDK hooks example and drops type strings vCluster never emits', () => {
    const config = parsePluginConfig('hooks', '{"clientHooks":[{"apiVersion":"v1","kind":"Pod","types":["CreatePhysical","UpdatePhysical","", "Bogus"]}]}');
    assert.deepEqual(config, { clientHooks: [{ apiVersion: 'v1', kind: 'Pod', types: ['CreatePhysical', 'UpdatePhysical'] }], interceptors: {} });
    assert.deepEqual(parsePluginConfig('p', '{}'), { clientHooks: [], interceptors: {} });
  });

  it('refuses invalid JSON, an empty apiVersion or kind, and invalid interceptor rules, naming the plugin', () => {
    assert.throws(() => parsePluginConfig('p', ''), /plugin "p": GetPluginConfig returned invalid JSON/);
    assert.throws(() => parsePluginConfig('p', '{"clientHooks":[{"kind":"Pod"}]}'), /plugin "p": api version is empty/);
    assert.throws(() => parsePluginConfig('p', '{"clientHooks":[{"apiVersion":"v1"}]}'), /plugin "p": kind is empty/);
    assert.throws(() => parsePluginConfig('p', '{"interceptors":{"h":[{"resources":["pods"],"apiGroups":[""]}]}}'), /plugin "p": interceptor h rule 0: verbs must not be empty/);
  });

  it('validates interceptor rules as vCluster does', () => {
    assert.equal(interceptorRuleProblem({ apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }), undefined);
    assert.match(interceptorRuleProblem({ apiGroups: ['*'], resources: ['pods'], verbs: ['*', 'get'] })!, /"\*" must stand alone in verbs/);
    assert.match(interceptorRuleProblem({ resources: ['pods'], verbs: ['get'] })!, /both resources and apiGroups/);
    assert.equal(interceptorRuleProblem({ nonResourceURLs: ['/doner*'], verbs: ['get'] }), undefined);
    assert.match(interceptorRuleProblem({ nonResourceURLs: ['/doner*kebab'], verbs: ['get'] })!, /only as the last character/);
  });

  it('refuses rules of two plugins that claim the same requests, naming both', () => {
    const a = { name: 'a', config: { clientHooks: [], interceptors: { one: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['x'] }] } } };
    const b = { name: 'b', config: { clientHooks: [], interceptors: { two: [{ apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }] } } };
    const c = { name: 'c', config: { clientHooks: [], interceptors: { three: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['y'] }] } } };
    assert.match(interceptorConflicts([a, b])[0]!, /plugin "a" \(one\) and plugin "b" \(two\) both claim/);
    assert.deepEqual(interceptorConflicts([a, c]), []);
  });
});

describe('the go-plugin handshake line', () => {
  it('accepts what a Go plugin prints', () => {
    assert.deepEqual(parseHandshake('1|1|unix|/tmp/plugin2847561234|grpc|\n'), { network: 'unix', address: '/tmp/plugin2847561234' });
    assert.deepEqual(parseHandshake('1|1|tcp|127.0.0.1:10001|grpc|'), { network: 'tcp', address: '127.0.0.1:10001' });
  });

  it('says what is wrong with anything else', () => {
    assert.throws(() => parseHandshake('hello'), /printed "hello" where the handshake line belongs/);
    assert.throws(() => parseHandshake('2|1|unix|/x|grpc|'), /core protocol 2, not 1/);
    assert.throws(() => parseHandshake('1|2|unix|/x|grpc|'), /plugin protocol version 2, the host offered 1/);
    assert.throws(() => parseHandshake('1|1|unix|/x|netrpc|'), /protocol "netrpc"/);
    assert.throws(() => parseHandshake('1|1|unix|/x'), /protocol "netrpc"/);
    assert.throws(() => parseHandshake('1|1|tcp|10.0.0.1:80|grpc|'), /must listen on a unix socket or on 127\.0\.0\.1/);
    assert.throws(() => parseHandshake(`1|1|unix|/x|grpc|${'A'.repeat(60)}`), /AutoMTLS/);
  });
});
