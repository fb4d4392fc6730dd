import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { InterceptorRule } from '../plugins/plugin-config.ts';
import type { Attributes, Authorizer } from './authorize.ts';
import { InterceptorHandler, InterceptorTable, pluginRequestHeaders } from './interceptors.ts';
import { parseRequestInfo } from '@kubenest/kube';
import type { Caller } from './types.ts';

function tableOf(rule: InterceptorRule): InterceptorTable {
  return new InterceptorTable([{ plugin: 'p', port: 12345, interceptors: { h: [rule] } }]);
}

function resource(group: string, resourceName: string, verb: string, name = ''): Parameters<InterceptorTable['match']>[0] {
  return { isResourceRequest: true, path: '/x', verb, apiPrefix: 'apis', apiGroup: group, apiVersion: 'v1', namespace: 'ns', resource: resourceName, subresource: '', name };
}

function url(path: string, verb: string): Parameters<InterceptorTable['match']>[0] {
  return { isResourceRequest: false, path, verb, apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '' };
}

// vCluster's interceptor_test.go expectations (plugin-protocol.md §4.4), and its quirks.
describe('interceptor rules, matched as vCluster matches them', () => {
  it('non-resource URLs: * matches everything, exact paths, prefixes ending in *, verbs', () => {
    assert.ok(tableOf({ nonResourceURLs: ['*'], verbs: ['*'] }).match(url('/anything', 'get')));
    assert.ok(tableOf({ nonResourceURLs: ['*'], verbs: ['*'] }).match(url('', 'get')));
    assert.equal(tableOf({ nonResourceURLs: ['*'], verbs: ['list'] }).match(url('/healthz', 'get')), undefined);
    assert.ok(tableOf({ nonResourceURLs: ['*'], verbs: ['list'] }).match(url('/healthz', 'list')));
    assert.ok(tableOf({ nonResourceURLs: ['/healthz'], verbs: ['list'] }).match(url('/healthz', 'list')));
    assert.equal(tableOf({ nonResourceURLs: ['/healthz'], verbs: ['list'] }).match(url('/doner', 'list')), undefined);
    assert.deepEqual(tableOf({ nonResourceURLs: ['/don*'], verbs: ['list'] }).match(url('/doner', 'list')), { plugin: 'p', handler: 'h', port: 12345 });
    assert.equal(tableOf({ nonResourceURLs: ['*'], verbs: ['*'] }).match(url('*', 'get')), undefined, 'a path of just * never matches');
  });

  it('resources: "" is the core group, * groups, resources and verbs, names', () => {
    assert.ok(tableOf({ apiGroups: [''], resources: ['pods'], verbs: ['*'] }).match(resource('', 'pods', 'get', 'x')));
    assert.equal(tableOf({ apiGroups: [''], resources: ['pods'], verbs: ['*'] }).match(resource('core', 'pods', 'get', 'x')), undefined, '"core" is not the core group');
    assert.equal(tableOf({ apiGroups: [''], resources: ['pods'], verbs: ['get'] }).match(resource('', 'services', 'get')), undefined);
    assert.equal(tableOf({ apiGroups: ['apps'], resources: ['pods'], verbs: ['get'] }).match(resource('', 'pods', 'get')), undefined);
    assert.equal(tableOf({ apiGroups: [''], resources: ['pods'], verbs: ['get'] }).match(resource('', 'pods', 'list')), undefined);
    assert.ok(tableOf({ apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }).match(resource('somegroup', 'pods', 'get')));
    assert.ok(tableOf({ apiGroups: ['*'], resources: ['*'], verbs: ['get'] }).match(resource('somegroup', 'things', 'get')));
    assert.ok(tableOf({ apiGroups: [''], resources: ['pods'], resourceNames: ['john'], verbs: ['get'] }).match(resource('', 'pods', 'get', 'john')));
    assert.equal(tableOf({ apiGroups: [''], resources: ['pods'], resourceNames: ['john'], verbs: ['get'] }).match(resource('', 'pods', 'get', 'jeff')), undefined);
    assert.ok(tableOf({ apiGroups: [''], resources: ['pods'], resourceNames: ['*'], verbs: ['get'] }).match(resource('', 'pods', 'get', 'jeff')));
  });

  it('quirk: verbs ["*"] with resourceNames never matches', () => {
    assert.equal(tableOf({ apiGroups: [''], resources: ['pods'], resourceNames: ['john'], verbs: ['*'] }).match(resource('', 'pods', 'get', 'john')), undefined);
  });

  it('quirk: the subresource is not looked at, so a pods rule takes pods/log', () => {
    const table = tableOf({ apiGroups: [''], resources: ['pods'], verbs: ['get'] });
    assert.ok(table.match(parseRequestInfo('GET', '/api/v1/namespaces/default/pods/web/log')));
    assert.ok(table.match(parseRequestInfo('GET', '/api/v1/namespaces/default/pods/web')));
    assert.equal(table.match(parseRequestInfo('GET', '/api/v1/namespaces/default/pods')), undefined, 'a list is verb list');
  });

  it('a rule that names no resourceNames stands for every name; the exact name wins over it', () => {
    const table = new InterceptorTable([
      { plugin: 'a', port: 1, interceptors: { all: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] } },
      { plugin: 'b', port: 2, interceptors: { one: [{ apiGroups: [''], resources: ['pods'], resourceNames: ['x'], verbs: ['get'] }] } },
    ]);
    assert.equal(table.match(resource('', 'pods', 'get', 'x'))?.plugin, 'b');
    assert.equal(table.match(resource('', 'pods', 'get', 'y'))?.plugin, 'a');
  });
});

describe('the headers a plugin gets', () => {
  it('none of the caller\'s credentials or identity, hop-by-hop or forwarded headers; the handler name set by us', () => {
    const headers: IncomingHttpHeaders = {
      host: 'vc:1', accept: 'application/json', authorization: 'Bearer secret', 'impersonate-user': 'u', 'impersonate-extra-scopes': 'x',
      'x-remote-user': 'admin', 'x-forwarded-for': '1.2.3.4', connection: 'keep-alive, x-custom', 'x-custom': 'hop', 'user-agent': 'kubectl',
      'vcluster-plugin-handler-name': 'forged',
    };
    assert.deepEqual(pluginRequestHeaders(headers, 'h'), { host: 'vc:1', accept: 'application/json', 'user-agent': 'kubectl', 'Vcluster-Plugin-Handler-Name': 'h' });
  });
});

describe('the interceptor handler, with a plugin on a bare HTTP server', () => {
  let plugin: Server;
  let pluginPort: number;
  let front: Server;
  let frontPort: number;
  let running = true;
  const seen: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const asked: { user: string; attributes: Attributes }[] = [];
  // The authorizer: alice may do anything, bob nothing but impersonating carol, carol may get pods.
  const authorize: Authorizer = (user, attributes) => {
    asked.push({ user: user.user, attributes });
    if (user.user === 'alice') return Promise.resolve({ allowed: true });
    if (user.user === 'bob') return Promise.resolve({ allowed: 'resource' in attributes && attributes.resource.verb === 'impersonate' && attributes.resource.name === 'carol' });
    if (user.user === 'carol') return Promise.resolve({ allowed: 'resource' in attributes && attributes.resource.resource === 'pods', reason: 'not carol\'s' });
    return Promise.resolve({ allowed: false, reason: 'RBAC: nothing bound' });
  };

  before(async () => {
    plugin = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'definitelynotstuff' } }));
      });
    });
    await new Promise<void>((resolve) => plugin.listen(0, '127.0.0.1', resolve));
    pluginPort = (plugin.address() as AddressInfo).port;
    const handler = new InterceptorHandler({
      authorize,
      plugins: () => [{
        plugin: 'kntest', port: pluginPort, running: () => running, state: () => (running ? 'running' : 'restarting'),
        interceptors: { 'kntest-pods': [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'create'] }], 'kntest-url': [{ nonResourceURLs: ['/kntest/*'], verbs: ['get'] }] },
      }],
    });
    // A stand-in for the authenticating proxy: the caller from a test header; nothing forwarded.
    front = createServer((req, res) => {
      const caller: Caller = { user: String(req.headers['x-test-user']), groups: ['system:authenticated'], extra: {} };
      void handler.handle({ req, res, caller, info: parseRequestInfo(req.method ?? 'GET', req.url ?? '/') }).then((answered) => {
        if (!answered) res.writeHead(299).end('forwarded');
      });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((resolve) => front.close(resolve));
    await new Promise((resolve) => plugin.close(resolve));
  });

  const call = (method: string, path: string, user: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: frontPort, method, path, headers: { 'x-test-user': user, authorization: 'Bearer secret-of-' + user, ...headers } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('an authorised GET of a pod is answered by the plugin, which sees the handler name and no credentials', async () => {
    seen.length = 0;
    const answer = await call('GET', '/api/v1/namespaces/test/pods/stuff', 'alice');
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as { metadata: { name: string } }).metadata.name, 'definitelynotstuff');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, '/api/v1/namespaces/test/pods/stuff');
    assert.equal(seen[0]!.headers['vcluster-plugin-handler-name'], 'kntest-pods');
    assert.equal(seen[0]!.headers.authorization, undefined);
    assert.deepEqual(asked.at(-1), { user: 'alice', attributes: { resource: { namespace: 'test', verb: 'get', group: '', version: 'v1', resource: 'pods', subresource: '', name: 'stuff' } } });
  });

  it('the body of a create reaches the plugin; pods/log and a non-resource URL are intercepted too; other requests are not', async () => {
    seen.length = 0;
    assert.equal((await call('POST', '/api/v1/namespaces/test/pods', 'alice', { 'content-type': 'application/json' }, '{"kind":"Pod"}')).status, 200);
    assert.equal(seen[0]!.body, '{"kind":"Pod"}');
    assert.equal((await call('GET', '/api/v1/namespaces/test/pods/stuff/log?container=c', 'alice')).status, 200);
    assert.equal(seen[1]!.url, '/api/v1/namespaces/test/pods/stuff/log?container=c');
    assert.deepEqual(asked.at(-1)?.attributes, { resource: { namespace: 'test', verb: 'get', group: '', version: 'v1', resource: 'pods', subresource: 'log', name: 'stuff' } });
    assert.equal((await call('GET', '/kntest/hello', 'alice')).status, 200);
    assert.deepEqual(asked.at(-1)?.attributes, { nonResource: { path: '/kntest/hello', verb: 'get' } });
    assert.equal(seen[2]!.headers['vcluster-plugin-handler-name'], 'kntest-url');
    assert.equal((await call('GET', '/api/v1/namespaces/test/pods', 'alice')).status, 299);
    assert.equal((await call('GET', '/api/v1/namespaces/test/services/x', 'alice')).status, 299);
    assert.equal(seen.length, 3);
  });

  it('a caller without the right gets 403 as from the apiserver, and the plugin sees nothing', async () => {
    seen.length = 0;
    const answer = await call('GET', '/api/v1/namespaces/test/pods/stuff', 'mallory');
    assert.equal(answer.status, 403);
    const status = JSON.parse(answer.body) as { reason: string; message: string; code: number };
    assert.equal(status.reason, 'Forbidden');
    assert.equal(status.message, 'pods "stuff" is forbidden: User "mallory" cannot get resource "pods" in API group "" in the namespace "test": RBAC: nothing bound');
    assert.equal(seen.length, 0);
  });

  it('impersonation: allowed only when the caller may impersonate, then authorised as the impersonated user', async () => {
    seen.length = 0;
    assert.equal((await call('GET', '/api/v1/namespaces/test/pods/stuff', 'bob')).status, 403);
    assert.equal((await call('GET', '/api/v1/namespaces/test/pods/stuff', 'bob', { 'impersonate-user': 'dave' })).status, 403);
    assert.equal(seen.length, 0);
    assert.equal((await call('GET', '/api/v1/namespaces/test/pods/stuff', 'bob', { 'impersonate-user': 'carol' })).status, 200);
    assert.equal(asked.at(-1)?.user, 'carol');
    assert.equal(seen[0]!.headers['impersonate-user'], undefined);
    assert.equal((await call('GET', '/api/v1/namespaces/test/pods/stuff', 'bob', { 'impersonate-group': 'admins' })).status, 400);
  });

  it('a plugin that is not running, or does not listen, gets the caller a 503 naming it', async () => {
    running = false;
    const down = await call('GET', '/api/v1/namespaces/test/pods/stuff', 'alice');
    running = true;
    assert.equal(down.status, 503);
    assert.match((JSON.parse(down.body) as { message: string }).message, /plugin "kntest" cannot answer this request \(interceptor kntest-pods\): it is not running \(restarting\)/);
    await new Promise((resolve) => plugin.close(resolve));
    const gone = await call('GET', '/api/v1/namespaces/test/pods/stuff', 'alice');
    assert.equal(gone.status, 503);
    assert.match((JSON.parse(gone.body) as { message: string }).message, new RegExp(`plugin "kntest" .*interceptor port 127.0.0.1:${pluginPort} did not answer`));
    await new Promise<void>((resolve) => plugin.listen(pluginPort, '127.0.0.1', resolve));
  });
});
