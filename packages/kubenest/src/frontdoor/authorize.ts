import type { IncomingHttpHeaders } from 'node:http';
import type { RestClient } from '@kubenest/kube';
import { failure, type StatusObject } from './status.ts';
import type { Caller, RequestInfo } from './types.ts';

/**
 * Authorisation of requests the front door answers itself (plugin interceptors): the question the
 * kube-apiserver's authorizer would have been asked, put to the virtual apiserver as a
 * SubjectAccessReview. Impersonation is resolved first, as the apiserver's filter does, so the
 * question is about the user the request acts as.
 */

export interface Decision {
  allowed: boolean;
  /** The authorizer's reason (RBAC's explanation), when it gave one. */
  reason?: string | undefined;
}

export interface ResourceAttributes { namespace: string; verb: string; group: string; version: string; resource: string; subresource: string; name: string }
export interface NonResourceAttributes { path: string; verb: string }
export type Attributes = { resource: ResourceAttributes } | { nonResource: NonResourceAttributes };

/** Asks whether `user` may do what `attributes` describe. */
export type Authorizer = (user: Caller, attributes: Attributes) => Promise<Decision>;

/** The authorizer of the virtual apiserver, through SubjectAccessReviews made with `client` (admin). */
export function subjectAccessReviewer(client: RestClient): Authorizer {
  return async (user, attributes) => {
    const review = await client.create<{ status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string } }>(
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
        spec: {
          user: user.user, groups: user.groups, extra: user.extra, ...(user.uid ? { uid: user.uid } : {}),
          ...('resource' in attributes ? { resourceAttributes: attributes.resource } : { nonResourceAttributes: attributes.nonResource }),
        },
      },
    );
    return { allowed: review.status?.allowed === true, reason: review.status?.reason || review.status?.evaluationError || undefined };
  };
}

/** The attributes the apiserver authorises a request by. */
export function attributesOf(info: RequestInfo): Attributes {
  if (!info.isResourceRequest) return { nonResource: { path: info.path, verb: info.verb } };
  const { namespace, verb, apiGroup: group, apiVersion: version, resource, subresource, name } = info;
  return { resource: { namespace, verb, group, version, resource, subresource, name } };
}

/** A request refused: the HTTP code and the message of the apiserver's Status. */
export class Refusal extends Error {
  readonly code: number;
  readonly reason: 'Forbidden' | 'BadRequest';
  readonly details: { name?: string; group?: string; kind?: string };
  constructor(code: 403 | 400, message: string, details: Refusal['details'] = {}) {
    super(message);
    this.code = code;
    this.reason = code === 403 ? 'Forbidden' : 'BadRequest';
    this.details = details;
  }

  /** The Status object the apiserver would send. */
  status(): StatusObject {
    return { ...failure(this.code, this.reason, this.message), details: this.details };
  }
}

const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

/**
 * The user a request acts as: the caller, or whom its `Impersonate-*` headers name once the
 * caller may impersonate each of them (verb `impersonate` on users, serviceaccounts, groups,
 * uids, userextras, as the apiserver checks it). Throws a `Refusal` as the apiserver would.
 */
export async function actingUser(caller: Caller, headers: IncomingHttpHeaders, authorize: Authorizer): Promise<Caller> {
  const user = single(headers['impersonate-user']);
  const groups = many(headers['impersonate-group']);
  const uid = single(headers['impersonate-uid']);
  const extra: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('impersonate-extra-')) continue;
    extra[decodeURIComponent(name.slice('impersonate-extra-'.length)).toLowerCase()] = many(value);
  }
  if (user === undefined) {
    if (groups.length > 0 || uid !== undefined || Object.keys(extra).length > 0) {
      throw new Refusal(400, 'requested impersonation of groups, uid or extra without impersonating a user: set Impersonate-User');
    }
    return caller;
  }
  const checks: { attributes: ResourceAttributes; what: string }[] = [];
  const check = (group: string, resource: string, name: string, what: string, namespace = '', subresource = ''): void => {
    checks.push({ attributes: { namespace, verb: 'impersonate', group, version: '', resource, subresource, name }, what });
  };
  const account = user.startsWith(SERVICE_ACCOUNT_PREFIX) ? user.slice(SERVICE_ACCOUNT_PREFIX.length).split(':') : undefined;
  if (account && account.length === 2) check('', 'serviceaccounts', account[1]!, `serviceaccount "${user}"`, account[0]);
  else check('', 'users', user, `user "${user}"`);
  for (const group of groups) check('', 'groups', group, `group "${group}"`);
  if (uid !== undefined) check('authentication.k8s.io', 'uids', uid, `uid "${uid}"`);
  for (const [key, values] of Object.entries(extra)) for (const value of values) check('authentication.k8s.io', 'userextras', value, `userextras/${key} "${value}"`, '', key);
  for (const { attributes, what } of checks) {
    const decision = await authorize(caller, { resource: attributes });
    if (!decision.allowed) {
      throw new Refusal(403, `${attributes.resource} "${attributes.name}" is forbidden: User "${caller.user}" cannot impersonate resource "${attributes.resource}${attributes.subresource ? `/${attributes.subresource}` : ''}" in API group "${attributes.group}"${attributes.namespace ? ` in the namespace "${attributes.namespace}"` : ' at the cluster scope'} (impersonating ${what})`,
        { name: attributes.name, group: attributes.group, kind: attributes.resource });
    }
  }
  const acting = [...groups];
  if (account && account.length === 2) for (const group of ['system:serviceaccounts', `system:serviceaccounts:${account[0]}`]) if (!acting.includes(group)) acting.push(group);
  const always = user === 'system:anonymous' ? 'system:unauthenticated' : 'system:authenticated';
  if (!acting.includes(always)) acting.push(always);
  return { user, groups: acting, uid, extra };
}

/** The apiserver's Forbidden message for a request the authorizer refused. */
export function forbidden(user: Caller, info: RequestInfo, reason: string | undefined): Refusal {
  const why = reason ? `: ${reason}` : '';
  if (!info.isResourceRequest) return new Refusal(403, `forbidden: User "${user.user}" cannot ${info.verb} path "${info.path}"${why}`);
  const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  const subject = info.name ? `${resource} "${info.name}"` : resource;
  const scope = info.namespace ? `in the namespace "${info.namespace}"` : 'at the cluster scope';
  return new Refusal(403, `${subject} is forbidden: User "${user.user}" cannot ${info.verb} resource "${resource}" in API group "${info.apiGroup}" ${scope}${why}`,
    { ...(info.name ? { name: info.name } : {}), group: info.apiGroup, kind: info.resource });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function many(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  // Node joins repeated headers it does not know with ", "; groups are sent one header each.
  return (Array.isArray(value) ? value : value.split(', ')).filter((v) => v !== '');
}
