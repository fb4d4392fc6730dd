import type { RequestInfo } from './types.ts';

/**
 * The kube-apiserver's RequestInfo for a request (its `RequestInfoFactory`, prefixes `api` and
 * `apis`): a minimal reading, replaced by issue 10b's full parser.
 */
export function requestInfo(method: string, url: string): RequestInfo {
  // Prefixed, not resolved against a base: a path starting with `//` stays a path, never a host.
  const parsed = new URL(`https://front-door.invalid${url}`);
  const path = parsed.pathname;
  const nonResource: RequestInfo = {
    isResourceRequest: false, path, verb: method.toLowerCase(), apiPrefix: '', apiGroup: '', apiVersion: '',
    namespace: '', resource: '', subresource: '', name: '',
  };
  let parts = path.replace(/^\/+|\/+$/g, '').split('/').filter((p, i, all) => p !== '' || all.length === 1);
  const prefix = parts[0];
  if (prefix !== 'api' && prefix !== 'apis') return nonResource;
  parts = parts.slice(1);
  const info: RequestInfo = { ...nonResource, apiPrefix: prefix };
  if (prefix === 'apis') {
    if (parts.length < 2) return nonResource;
    info.apiGroup = parts[0]!;
    parts = parts.slice(1);
  } else if (parts.length < 1) {
    return nonResource;
  }
  info.apiVersion = parts[0]!;
  parts = parts.slice(1);
  if (parts.length === 0) return nonResource; // discovery of a group version
  info.isResourceRequest = true;
  info.verb = ({ POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method.toUpperCase()] ?? '';
  if (parts[0] === 'watch' || parts[0] === 'proxy') {
    info.verb = parts[0];
    parts = parts.slice(1);
  }
  if (parts[0] === 'namespaces' && parts.length > 1) {
    info.namespace = parts[1]!;
    // `namespaces/NAME/status` and `/finalize` are the namespace's own subresources.
    if (parts.length > 2 && parts[2] !== 'status' && parts[2] !== 'finalize') parts = parts.slice(2);
  }
  info.resource = parts[0] ?? '';
  info.name = parts[1] ?? '';
  info.subresource = parts[2] ?? '';
  if (info.name === '' && info.verb === 'get') {
    const watch = parsed.searchParams.get('watch');
    info.verb = watch === 'true' || watch === '1' ? 'watch' : 'list';
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}
