import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { InterceptorRegistry, requestInfo, statusFailure, type Interceptor } from './interceptors.ts';
import type { Log } from './log.ts';

describe('requestInfo: the kube-apiserver\'s reading of a path', () => {
  it('reads core, grouped, namespaced, cluster-scoped, subresource, list, watch and non-resource requests', () => {
    const pick = (method: string, url: string) => {
      const i = requestInfo(method, url);
      return [i.isResourceRequest, i.verb, i.apiGroup, i.apiVersion, i.namespace, i.resource, i.name, i.subresource].join('|');
    };
    assert.equal(pick('GET', '/api/v1/namespaces/test/pods/stuff'), 'true|get||v1|test|pods|stuff|');
    assert.equal(pick('GET', '/api/v1/namespaces/test/pods'), 'true|list||v1|test|pods||');
    assert.equal(pick('GET', '/api/v1/namespaces/test/pods?watch=true'), 'true|watch||v1|test|pods||');
    assert.equal(pick('GET', '/api/v1/watch/namespaces/test/pods'), 'true|watch||v1|test|pods||');
    assert.equal(pick('PUT', '/apis/apps/v1/namespaces/a/deployments/web/status'), 'true|update|apps|v1|a|deployments|web|status');
    assert.equal(pick('GET', '/api/v1/namespaces/foo'), 'true|get||v1|foo|namespaces|foo|');
    assert.equal(pick('PUT', '/api/v1/namespaces/foo/finalize'), 'true|update||v1|foo|namespaces|foo|finalize');
    assert.equal(pick('DELETE', '/api/v1/namespaces/a/configmaps'), 'true|deletecollection||v1|a|configmaps||');
    assert.equal(pick('POST', '/apis/example.loft.sh/v1/namespaces/a/cars'), 'true|create|example.loft.sh|v1|a|cars||');
    assert.equal(pick('GET', '/api/v1/nodes/n1'), 'true|get||v1||nodes|n1|');
    assert.equal(pick('GET', '/healthz'), 'false|get||||||');
    // As the apiserver: a group's discovery path is not a resource request and names no group.
    assert.equal(pick('GET', '/apis/apps/v1'), 'false|get||||||');
    // A path the apiserver fails on (the front door answers it): read as a non-resource request.
    assert.equal(pick('GET', '/api/v1/watch'), 'false|get||||||');
  });
});

describe('InterceptorRegistry', () => {
  const noop: Interceptor['handle'] = (_req, res) => res.object({});
  it('refuses rules vCluster would refuse, naming the interceptor and the rule', () => {
    const registry = new InterceptorRegistry();
    assert.throws(() => registry.add({ name: 'a', rules: [{ verbs: [] }], handle: noop }), /interceptor a rule 0: verbs must not be empty/);
    assert.throws(() => registry.add({ name: 'a', rules: [{ apiGroups: ['*', 'apps'], resources: ['pods'], verbs: ['get'] }], handle: noop }), /"\*" must stand alone in apiGroups/);
    assert.throws(() => registry.add({ name: 'a', rules: [{ resources: ['pods'], verbs: ['get'] }], handle: noop }), /both resources and apiGroups must be set/);
    assert.throws(() => registry.add({ name: 'a', rules: [{ nonResourceURLs: ['/a*b'], verbs: ['get'] }], handle: noop }), /only as the last character/);
    assert.throws(() => registry.add({ name: '', rules: [{ nonResourceURLs: ['/a'], verbs: ['get'] }], handle: noop }), /name must be a non-empty string/);
    registry.add({ name: 'a', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], handle: noop });
    assert.throws(() => registry.add({ name: 'a', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], handle: noop }), /registered twice/);
    assert.deepEqual(registry.config(), { a: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] });
  });

  it('serves on 127.0.0.1: dispatch by header, objects, lists, Status errors; a throw is a 500 Status and an error in the log', async () => {
    const registry = new InterceptorRegistry();
    const logged: string[] = [];
    const log: Log = { info: () => {}, warn: () => {}, error: (m) => logged.push(m) };
    registry.add({
      name: 'pods', rules: [{ apiGroups: ['*'], resources: ['pods'], verbs: ['get', 'list', 'create'] }],
      async handle(req, res) {
        if (req.info.verb === 'list') return res.list([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'one' } }], { apiVersion: 'v1', kind: 'Pod' });
        if (req.info.verb === 'create') return res.object(await req.json(), 201);
        if (req.info.name === 'missing') return res.notFound();
        if (req.info.name === 'boom') throw new Error('the handler broke');
        return res.object({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'definitelynotstuff', namespace: req.info.namespace } });
      },
    });
    const server = await registry.listen(0, log);
    const { address, port } = server.address() as AddressInfo;
    assert.equal(address, '127.0.0.1');
    const call = async (path: string, init: RequestInit & { handler?: string } = {}) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { ...(init.handler === undefined ? { 'Vcluster-Plugin-Handler-Name': 'pods' } : init.handler ? { 'Vcluster-Plugin-Handler-Name': init.handler } : {}), ...init.headers as Record<string, string> } });
      return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as Record<string, unknown> };
    };
    try {
      const got = await call('/api/v1/namespaces/test/pods/stuff', { headers: { accept: 'application/vnd.kubernetes.protobuf, */*' } });
      assert.equal(got.status, 200);
      assert.equal(got.type, 'application/json');
      assert.deepEqual(got.body, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'definitelynotstuff', namespace: 'test' } });
      const list = await call('/api/v1/namespaces/test/pods');
      assert.deepEqual(list.body, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '' }, items: [{ metadata: { name: 'one' } }] });
      const created = await call('/api/v1/namespaces/test/pods', { method: 'POST', body: JSON.stringify({ metadata: { name: 'x' } }) });
      assert.equal(created.status, 201);
      assert.deepEqual(created.body, { metadata: { name: 'x' } });
      const missing = await call('/api/v1/namespaces/test/pods/missing');
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, statusFailure('NotFound', 'pods "missing" not found', { name: 'missing', kind: 'pods' }));
      const boom = await call('/api/v1/namespaces/test/pods/boom');
      assert.equal(boom.status, 500);
      assert.equal(boom.body['reason'], 'InternalError');
      assert.equal(boom.body['message'], 'interceptor pods failed on GET /api/v1/namespaces/test/pods/boom: the handler broke');
      assert.ok(logged.includes('interceptor pods failed on GET /api/v1/namespaces/test/pods/boom: the handler broke'), logged.join('\n'));
      const unknown = await call('/api/v1/namespaces/test/pods/x', { handler: 'nope' });
      assert.equal(unknown.status, 500);
      assert.match(String(unknown.body['message']), /no interceptor named nope in this plugin \(it has pods\)/);
      const none = await call('/api/v1/namespaces/test/pods/x', { handler: '' });
      assert.equal(none.status, 500);
      assert.match(String(none.body['message']), /no Vcluster-Plugin-Handler-Name header/);
      const protobufOnly = await call('/api/v1/namespaces/test/pods/x', { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
      assert.equal(protobufOnly.status, 406);
      assert.equal(protobufOnly.body['reason'], 'NotAcceptable');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
