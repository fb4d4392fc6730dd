import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TokenAuthenticator, bearerToken, websocketBearerToken, callerFromCertificate, callerFromTokenReview, escapeExtraKey, forwardedRequestHeaders, forwardedResponseHeaders,
  type TokenReviewStatus,
} from './authn.ts';

describe('front door authentication', () => {
  it('takes the user from a certificate\'s CN and groups from its Os, adding system:authenticated', () => {
    assert.deepEqual(callerFromCertificate({ subject: { CN: 'jane', O: ['dev', 'ops'] } }), { user: 'jane', groups: ['dev', 'ops', 'system:authenticated'], extra: {} });
    assert.deepEqual(callerFromCertificate({ subject: { CN: 'admin', O: 'system:masters' } })?.groups, ['system:masters', 'system:authenticated']);
    assert.deepEqual(callerFromCertificate({ subject: { CN: 'solo' } })?.groups, ['system:authenticated']);
    assert.equal(callerFromCertificate({ subject: { O: 'no-cn' } }), undefined);
  });

  it('reads only a Bearer token', () => {
    assert.equal(bearerToken({ authorization: 'Bearer abc.def' }), 'abc.def');
    assert.equal(bearerToken({ authorization: 'bearer   abc' }), 'abc');
    assert.equal(bearerToken({ authorization: 'Basic dXNlcjpwdw==' }), undefined);
    assert.equal(bearerToken({ authorization: 'Bearer a b' }), undefined);
    assert.equal(bearerToken({}), undefined);
  });

  it('reads a WebSocket\'s token from its subprotocol, and forwards the other subprotocols only', () => {
    const headers = { upgrade: 'websocket', 'sec-websocket-protocol': `v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${Buffer.from('tok.en').toString('base64url')}` };
    assert.equal(websocketBearerToken(headers), 'tok.en');
    assert.equal(websocketBearerToken({ ...headers, upgrade: 'SPDY/3.1' }), undefined);
    assert.equal(websocketBearerToken({ upgrade: 'websocket', 'sec-websocket-protocol': 'v5.channel.k8s.io' }), undefined);
    const out = forwardedRequestHeaders({ ...headers, connection: 'Upgrade' }, { user: 'u', groups: [], extra: {} }, { upgrade: true });
    assert.equal(out['sec-websocket-protocol'], 'v5.channel.k8s.io');
  });

  it('accepts only an authenticated TokenReview with a user name', () => {
    assert.equal(callerFromTokenReview({ authenticated: false, error: 'invalid bearer token' }), undefined);
    assert.equal(callerFromTokenReview({ authenticated: true, user: {} }), undefined);
    assert.deepEqual(callerFromTokenReview({
      authenticated: true,
      user: { username: 'system:serviceaccount:default:robot', uid: 'u-1', groups: ['system:serviceaccounts', 'system:authenticated'], extra: { 'authentication.kubernetes.io/pod-name': ['p'] } },
    }), {
      user: 'system:serviceaccount:default:robot', uid: 'u-1', groups: ['system:serviceaccounts', 'system:authenticated'],
      extra: { 'authentication.kubernetes.io/pod-name': ['p'] },
    });
  });

  it('reviews a token once per TTL, refusals included, shares concurrent first uses, and stays bounded', async () => {
    let now = 0;
    const reviews: string[] = [];
    const authn = new TokenAuthenticator({
      ttlMs: 10_000, maxEntries: 3, now: () => now,
      review: async (token): Promise<TokenReviewStatus> => {
        reviews.push(token);
        await Promise.resolve();
        return token.startsWith('good') ? { authenticated: true, user: { username: token } } : { authenticated: false };
      },
    });
    const [a, b] = await Promise.all([authn.authenticate('good-1'), authn.authenticate('good-1')]);
    assert.equal(a?.user, 'good-1');
    assert.equal(b?.user, 'good-1');
    assert.equal(await authn.authenticate('bad'), undefined);
    assert.equal(await authn.authenticate('bad'), undefined);
    assert.deepEqual(reviews, ['good-1', 'bad']);
    now = 10_001;
    await authn.authenticate('good-1');
    assert.deepEqual(reviews, ['good-1', 'bad', 'good-1'], 'reviewed again after the TTL');
    for (const token of ['good-2', 'good-3', 'good-4', 'good-5']) await authn.authenticate(token);
    assert.equal(authn.size, 3);
  });

  it('does not cache a review that failed (the apiserver was down): the next request asks again', async () => {
    let fail = true;
    const authn = new TokenAuthenticator({
      review: () => fail ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve({ authenticated: true, user: { username: 'x' } }),
    });
    await assert.rejects(authn.authenticate('t'), /ECONNREFUSED/);
    fail = false;
    assert.equal((await authn.authenticate('t'))?.user, 'x');
  });
});

describe('front door forwarding headers', () => {
  const caller = { user: 'jane', groups: ['dev', 'system:authenticated'], extra: { 'authentication.kubernetes.io/credential-id': ['JTI=1'], scopes: ['a', 'b'] } };

  it('drops the caller\'s credentials, identity headers and hop-by-hop headers, keeps impersonation, adds the identity', () => {
    const out = forwardedRequestHeaders({
      authorization: 'Bearer secret', host: '127.0.0.1:1', connection: 'keep-alive, x-private', 'keep-alive': 'timeout=5', 'x-private': '1',
      'transfer-encoding': 'chunked', 'x-remote-user': 'mallory', 'x-remote-group': 'system:masters', 'x-remote-extra-foo': 'bar',
      'impersonate-user': 'bob', 'impersonate-group': 'g', accept: 'application/vnd.kubernetes.protobuf', 'content-type': 'application/json',
    }, caller);
    assert.deepEqual(out, {
      'impersonate-user': 'bob', 'impersonate-group': 'g', accept: 'application/vnd.kubernetes.protobuf', 'content-type': 'application/json',
      'x-remote-user': 'jane', 'x-remote-group': ['dev', 'system:authenticated'],
      'x-remote-extra-authentication.kubernetes.io%2Fcredential-id': ['JTI=1'], 'x-remote-extra-scopes': ['a', 'b'],
    });
  });

  it('keeps Connection: Upgrade and Upgrade for an upgrade only', () => {
    const incoming = { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' };
    const plain = forwardedRequestHeaders(incoming, caller);
    assert.equal(plain['upgrade'], undefined);
    const upgrade = forwardedRequestHeaders(incoming, caller, { upgrade: true });
    assert.equal(upgrade['upgrade'], 'SPDY/3.1');
    assert.equal(upgrade['connection'], 'Upgrade');
    assert.equal(upgrade['x-stream-protocol-version'], 'v4.channel.k8s.io');
  });

  it('escapes extra keys as client-go does', () => {
    assert.equal(escapeExtraKey('authentication.kubernetes.io/pod-name'), 'authentication.kubernetes.io%2Fpod-name');
    assert.equal(escapeExtraKey('100%'), '100%25');
    assert.equal(escapeExtraKey('ü'), '%C3%BC');
    assert.equal(escapeExtraKey('plain-Key_1'), 'plain-Key_1');
  });

  it('passes the apiserver\'s answer headers on, without hop-by-hop ones', () => {
    assert.deepEqual(forwardedResponseHeaders({ 'content-type': 'application/json', 'transfer-encoding': 'chunked', connection: 'close', 'audit-id': 'x' }),
      { 'content-type': 'application/json', 'audit-id': 'x' });
  });
});
