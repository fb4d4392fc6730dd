import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestInfo, RequestInfoError } from './request-info.ts';

// The cases of the kube-apiserver's own requestinfo_test.go (TestGetAPIRequestInfo,
// TestGetNonAPIRequestInfo, TestFieldSelectorParsing), with what RequestInfo must say for each.
describe('RequestInfo, as the kube-apiserver parses requests', () => {
  const cases: [method: string, url: string, verb: string, prefix: string, group: string, version: string, namespace: string, resource: string, subresource: string, name: string][] = [
    // resource paths
    ['GET', '/api/v1/namespaces', 'list', 'api', '', 'v1', '', 'namespaces', '', ''],
    ['GET', '/api/v1/namespaces/other', 'get', 'api', '', 'v1', 'other', 'namespaces', '', 'other'],
    ['GET', '/api/v1/namespaces/other/pods', 'list', 'api', '', 'v1', 'other', 'pods', '', ''],
    ['GET', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo'],
    ['HEAD', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo'],
    ['GET', '/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', ''],
    ['HEAD', '/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', ''],
    // special verbs
    ['GET', '/api/v1/proxy/namespaces/other/pods/foo', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo'],
    ['GET', '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo'],
    ['GET', '/api/v1/watch/pods', 'watch', 'api', '', 'v1', '', 'pods', '', ''],
    ['GET', '/api/v1/pods?watch=true', 'watch', 'api', '', 'v1', '', 'pods', '', ''],
    ['GET', '/api/v1/pods?watch=false', 'list', 'api', '', 'v1', '', 'pods', '', ''],
    ['GET', '/api/v1/watch/namespaces/other/pods', 'watch', 'api', '', 'v1', 'other', 'pods', '', ''],
    ['GET', '/api/v1/namespaces/other/pods?watch=1', 'watch', 'api', '', 'v1', 'other', 'pods', '', ''],
    ['GET', '/api/v1/namespaces/other/pods?watch=0', 'list', 'api', '', 'v1', 'other', 'pods', '', ''],
    // subresource identification
    ['GET', '/api/v1/namespaces/other/pods/foo/status', 'get', 'api', '', 'v1', 'other', 'pods', 'status', 'foo'],
    ['GET', '/api/v1/namespaces/other/pods/foo/proxy/subpath', 'get', 'api', '', 'v1', 'other', 'pods', 'proxy', 'foo'],
    ['GET', '/api/v1/namespaces/other/pods/foo/log', 'get', 'api', '', 'v1', 'other', 'pods', 'log', 'foo'],
    ['PUT', '/api/v1/namespaces/other/finalize', 'update', 'api', '', 'v1', 'other', 'namespaces', 'finalize', 'other'],
    ['PUT', '/api/v1/namespaces/other/status', 'update', 'api', '', 'v1', 'other', 'namespaces', 'status', 'other'],
    // verb identification
    ['PATCH', '/api/v1/namespaces/other/pods/foo', 'patch', 'api', '', 'v1', 'other', 'pods', '', 'foo'],
    ['DELETE', '/api/v1/namespaces/other/pods/foo', 'delete', 'api', '', 'v1', 'other', 'pods', '', 'foo'],
    ['POST', '/api/v1/namespaces/other/pods', 'create', 'api', '', 'v1', 'other', 'pods', '', ''],
    ['OPTIONS', '/api/v1/namespaces/other/pods', '', 'api', '', 'v1', 'other', 'pods', '', ''],
    // deletecollection verb identification
    ['DELETE', '/api/v1/nodes', 'deletecollection', 'api', '', 'v1', '', 'nodes', '', ''],
    ['DELETE', '/api/v1/namespaces', 'deletecollection', 'api', '', 'v1', '', 'namespaces', '', ''],
    ['DELETE', '/api/v1/namespaces/other/pods', 'deletecollection', 'api', '', 'v1', 'other', 'pods', '', ''],
    ['DELETE', '/apis/extensions/v1/namespaces/other/pods', 'deletecollection', 'apis', 'extensions', 'v1', 'other', 'pods', '', ''],
    // api group and version identification
    ['POST', '/apis/extensions/v1/namespaces/other/pods', 'create', 'apis', 'extensions', 'v1', 'other', 'pods', '', ''],
    ['POST', '/apis/extensions/v1beta3/namespaces/other/pods', 'create', 'apis', 'extensions', 'v1beta3', 'other', 'pods', '', ''],
    ['GET', '/apis/apps/v1/namespaces/other/deployments/web/scale', 'get', 'apis', 'apps', 'v1', 'other', 'deployments', 'scale', 'web'],
  ];
  for (const [method, url, verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name] of cases) {
    it(`${method} ${url}`, () => {
      const info = parseRequestInfo(method, url);
      assert.deepEqual(info, { isResourceRequest: true, path: url.split('?')[0], verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name });
    });
  }

  it('the proxy verb takes no subresource: the rest of the path is the proxied path', () => {
    assert.equal(parseRequestInfo('GET', '/api/v1/proxy/namespaces/other/pods/foo/log').subresource, '');
  });

  it('non-resource requests: the path, and the lower-case method as the verb', () => {
    const resource = ['/api/version/resource', '/apis/group/version/resource/name/subresource', '/api/version/resource/name/subresource', '/apis/batch/v1/job', '/apis/batch/v1/job/foo', '/apis/batch/v1/job/foo/scale'];
    for (const url of resource) assert.equal(parseRequestInfo('GET', url).isResourceRequest, true, url);
    const nonResource = ['/not-api/version/resource', '/apis/extensions/v1beta1', '/apis/extensions/v1beta1/', '/api/version', '/api', '/', '', '/badprefix/version/resource', '/apis/version/resource', '/api/version/', '/apis/group/version/'];
    for (const url of nonResource) assert.equal(parseRequestInfo('GET', url).isResourceRequest, false, url);
    assert.deepEqual(parseRequestInfo('GET', '/healthz?verbose'), {
      isResourceRequest: false, path: '/healthz', verb: 'get', apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '',
    });
    assert.equal(parseRequestInfo('POST', '/version').verb, 'post');
  });

  it('a field selector on metadata.name names the object of a list or watch', () => {
    const at = (url: string): [string, string] => {
      const info = parseRequestInfo('GET', url);
      return [info.verb, info.name];
    };
    assert.deepEqual(at('/apis/group/version/resource'), ['list', '']);
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=metadata.name=name1'), ['list', 'name1']);
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=metadata.name%3D%3Dname1'), ['list', 'name1']);
    assert.deepEqual(at('/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1'), ['watch', 'name1']);
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=foo=bar'), ['list', '']);
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=metadata.name!=name1'), ['list', '']);
    // An invalid selector is ignored, watch is still read.
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=metadata.name=name1,foo'), ['list', '']);
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true'), ['watch', '']);
    assert.deepEqual(at('/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false'), ['list', '']);
    // A name that is not a valid path segment is not taken.
    assert.deepEqual(at('/api/v1/pods?fieldSelector=metadata.name=..'), ['list', '']);
    assert.deepEqual(at('/api/v1/pods?fieldSelector=metadata.name=a%25b'), ['list', '']);
    // Other options that fail to decode make the apiserver drop the selector too.
    assert.deepEqual(at('/api/v1/pods?limit=ten&fieldSelector=metadata.name=x'), ['list', '']);
  });

  it('watch=... is true for anything but 0 and false', () => {
    assert.equal(parseRequestInfo('GET', '/api/v1/pods?watch=').verb, 'watch');
    assert.equal(parseRequestInfo('GET', '/api/v1/pods?watch=FALSE').verb, 'list');
    assert.equal(parseRequestInfo('GET', '/api/v1/pods?watch=yes').verb, 'watch');
  });

  it('paths are percent-decoded as Go decodes them; a special verb with nothing after it fails as in the apiserver', () => {
    assert.equal(parseRequestInfo('GET', '/api/v1/namespaces/a/pods/b%3Ac').name, 'b:c');
    assert.equal(parseRequestInfo('GET', '//evil.example/api/v1/pods').path, '//evil.example/api/v1/pods', 'a path, not a host');
    assert.equal(parseRequestInfo('GET', '//evil.example/api/v1/pods').isResourceRequest, false);
    assert.throws(() => parseRequestInfo('GET', '/api/v1/watch'), RequestInfoError);
    assert.throws(() => parseRequestInfo('GET', '/api/v1/pods/%zz'), RequestInfoError);
  });
});
