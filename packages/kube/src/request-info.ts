/**
 * The kube-apiserver's RequestInfo (its `RequestInfoFactory` with the prefixes `api` and `apis`,
 * `api` without a group): what a request is about, from its method, path and query alone. Plugin
 * interceptors and authorisation are decided on it, so it must agree with the apiserver's own.
 */

/** The apiserver's RequestInfo: what a request is about, parsed from method, path and query. */
export interface RequestInfo {
  isResourceRequest: boolean;
  /** The URL path without the query. */
  path: string;
  /** get, list, watch, create, update, patch, delete, deletecollection, proxy (resource requests); the lower-case HTTP method otherwise. */
  verb: string;
  apiPrefix: string;
  /** `''` for the core group. */
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

/** Verbs that may come as the first path segment after the version: `/api/v1/watch/pods`. */
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
/** After `proxy/…/NAME` the rest of the path is the proxied path, not a subresource. */
const SPECIAL_VERBS_WITHOUT_SUBRESOURCES = new Set(['proxy']);
/** `/namespaces/NAME/status` and `/finalize` are subresources of the namespace itself. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** A path the apiserver refuses to parse (`/api/v1/watch` with nothing after it): it answers 500. */
export class RequestInfoError extends Error {}

/**
 * Parses a request as the apiserver does. `url` is the request target (path and query, as in
 * `IncomingMessage.url`). Throws `RequestInfoError` only where the apiserver itself fails.
 */
export function parseRequestInfo(method: string, url: string): RequestInfo {
  const { path, searchParams } = splitTarget(url);
  const info: RequestInfo = {
    isResourceRequest: false, path, verb: method.toLowerCase(),
    apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '',
  };
  let parts = splitPath(path);
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return info;
  const apiPrefix = parts[0];
  parts = parts.slice(1);
  let apiGroup = '';
  if (apiPrefix === 'apis') {
    // The prefix is consumed: a group path needs group, version and something more.
    if (parts.length < 3) return info;
    apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  Object.assign(info, { isResourceRequest: true, apiPrefix, apiGroup, apiVersion: parts[0] });
  parts = parts.slice(1);

  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) throw new RequestInfoError(`unable to determine kind and namespace from url ${url}`);
    info.verb = parts[0]!;
    parts = parts.slice(1);
  } else {
    info.verb = VERB_OF_METHOD[method.toUpperCase()] ?? '';
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1]!;
      // `/namespaces/NS/pods/...`: the namespace scopes the resource after it; `/namespaces/NS` and
      // `/namespaces/NS/status` are about the namespace object itself.
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }

  // resource / name / subresource / anything further (not interpreted)
  if (parts.length >= 3 && !SPECIAL_VERBS_WITHOUT_SUBRESOURCES.has(info.verb)) info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  if (parts.length >= 1) info.resource = parts[0]!;

  // A get without a name reads a collection: list, or watch with ?watch=...; a field selector on
  // metadata.name names the one object the caller may be asking about (as RBAC then sees it).
  if (info.name === '' && info.verb === 'get') {
    const options = listOptions(searchParams);
    info.verb = options.watch ? 'watch' : 'list';
    if (options.name !== undefined && isValidPathSegmentName(options.name)) info.name = options.name;
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}

/**
 * The path as Go's `URL.Path` has it (percent-decoded, dot segments kept) and the query. A request
 * in absolute form (`http://host/path`) is read for its path.
 */
function splitTarget(url: string): { path: string; searchParams: URLSearchParams } {
  const target = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') : url;
  const queryAt = target.search(/[?#]/);
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 || target[queryAt] === '#' ? '' : target.slice(queryAt + 1).split('#')[0]!;
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new RequestInfoError(`malformed path ${JSON.stringify(rawPath)}: invalid percent-encoding`);
  }
  return { path, searchParams: new URLSearchParams(query) };
}

const VERB_OF_METHOD: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

/**
 * The two list options RequestInfo reads, decoded as the apiserver's parameter codec does. When any
 * option fails to decode (an invalid field selector, say), the apiserver keeps only `watch`.
 */
function listOptions(query: URLSearchParams): { watch: boolean; name?: string } {
  const watchValues = query.getAll('watch');
  const watch = watchValues.length > 0 && !(watchValues[0] === '0' || watchValues[0]!.toLowerCase() === 'false');
  for (const integer of ['limit', 'timeoutSeconds']) {
    const value = query.getAll(integer)[0];
    if (value !== undefined && value !== '' && !/^[+-]?\d+$/.test(value)) return { watch };
  }
  const selector = query.getAll('fieldSelector')[0];
  if (selector === undefined || selector === '') return { watch };
  const terms = parseFieldSelector(selector);
  if (terms === undefined) return { watch };
  const match = terms.find((t) => t.field === 'metadata.name' && t.operator !== '!=');
  return match ? { watch, name: match.value } : { watch };
}

interface FieldTerm { field: string; operator: '=' | '==' | '!='; value: string }

/** A field selector as the apiserver parses it (`a=b,c!=d`, `\` escapes `\`, `,` and `=`); undefined when invalid. */
export function parseFieldSelector(selector: string): FieldTerm[] | undefined {
  const terms: FieldTerm[] = [];
  for (const term of splitUnescaped(selector, ',')) {
    if (term === '') continue;
    const split = splitTerm(term);
    if (!split) return undefined;
    const value = unescapeValue(split.value);
    if (value === undefined) return undefined;
    terms.push({ field: split.field, operator: split.operator, value });
  }
  return terms;
}

function splitUnescaped(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\' && i + 1 < text.length) {
      current += char + text[i + 1]!;
      i++;
    } else if (char === separator) {
      out.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  out.push(current);
  return out;
}

/** The first operator not inside an escape; `!=` and `==` are tried before `=`, as the apiserver does. */
function splitTerm(term: string): { field: string; operator: FieldTerm['operator']; value: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    if (term[i] === '\\') { i++; continue; }
    for (const operator of ['!=', '==', '='] as const) {
      if (term.startsWith(operator, i)) return { field: term.slice(0, i), operator, value: term.slice(i + operator.length) };
    }
  }
  return undefined;
}

function unescapeValue(value: string): string | undefined {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === '\\') {
      const next = value[i + 1];
      if (next === undefined || !['\\', ',', '='].includes(next)) return undefined;
      out += next;
      i++;
    } else if (char === ',' || char === '=') {
      return undefined;
    } else {
      out += char;
    }
  }
  return out;
}

/** The apiserver's `path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`. */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}
