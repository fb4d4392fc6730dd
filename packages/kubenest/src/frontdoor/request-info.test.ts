import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestInfo } from './request-info.ts';

describe('requestInfo (minimal)', () => {
  const pick = (method: string, url: string) => {
    const i = requestInfo(method, url);
    return [i.isResourceRequest, i.verb, i.apiGroup, i.apiVersion, i.namespace, i.resource, i.name, i.subresource].join('|');
  };
  it('reads resource requests as the apiserver does', () => {
    assert.equal(pick('GET', '/api/v1/namespaces/default/pods'), 'true|list||v1|default|pods||');
    assert.equal(pick('GET', '/api/v1/namespaces/default/pods?watch=true'), 'true|watch||v1|default|pods||');
    assert.equal(pick('GET', '/api/v1/namespaces/default/pods/p/log'), 'true|get||v1|default|pods|p|log');
    assert.equal(pick('POST', '/apis/apps/v1/namespaces/ns/deployments'), 'true|create|apps|v1|ns|deployments||');
    assert.equal(pick('DELETE', '/api/v1/namespaces/ns/configmaps'), 'true|deletecollection||v1|ns|configmaps||');
    assert.equal(pick('GET', '/api/v1/namespaces/ns'), 'true|get||v1|ns|namespaces|ns|');
    assert.equal(pick('PUT', '/api/v1/namespaces/ns/finalize'), 'true|update||v1|ns|namespaces|ns|finalize');
    assert.equal(pick('GET', '/api/v1/nodes'), 'true|list||v1||nodes||');
  });
  it('reads everything else as a non-resource request with the method as verb', () => {
    assert.equal(pick('GET', '/healthz'), 'false|get||||||');
    assert.equal(pick('GET', '/apis'), 'false|get||||||');
    assert.equal(pick('GET', '/apis/apps/v1'), 'false|get||||||');
    assert.equal(requestInfo('GET', '/version?x=1').path, '/version');
    assert.equal(requestInfo('GET', '//evil.example/api/v1/pods').path, '//evil.example/api/v1/pods', 'a path, not a host');
  });
});
