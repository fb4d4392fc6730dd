import type * as apps from 'kubernetes-types/apps/v1.js';
import type * as batch from 'kubernetes-types/batch/v1.js';
import type * as core from 'kubernetes-types/core/v1.js';
import type * as networking from 'kubernetes-types/networking/v1.js';
import type * as rbac from 'kubernetes-types/rbac/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

/**
 * The 10 hook types vCluster's host sends in `Mutate` (plugin-protocol.md §2.3). The Go SDK offers
 * the first 8; `Apply*` are ours too, since the host sends them.
 */
export const HOOK_TYPES = [
  'CreatePhysical', 'UpdatePhysical', 'DeletePhysical', 'GetPhysical', 'ApplyPhysical',
  'CreateVirtual', 'UpdateVirtual', 'DeleteVirtual', 'GetVirtual', 'ApplyVirtual',
] as const;
export type HookType = typeof HOOK_TYPES[number];

/** The authoring name of each hook type: `createPhysical` for `CreatePhysical`. */
type MethodOf<T extends HookType> = T extends `${infer F}${infer R}` ? `${Lowercase<F>}${R}` : never;
export type HookMethod = MethodOf<HookType>;
const methodOf = (type: HookType): HookMethod => `${type[0]!.toLowerCase()}${type.slice(1)}` as HookMethod;

/** Any Kubernetes object, as the host sends it (JSON; unknown fields kept). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** The typed objects hooks receive for the kinds people hook most; any other kind is a `KubeObject`. */
interface KnownKinds {
  'v1': {
    Pod: core.Pod; Service: core.Service; ConfigMap: core.ConfigMap; Secret: core.Secret; Endpoints: core.Endpoints;
    Namespace: core.Namespace; Node: core.Node; PersistentVolumeClaim: core.PersistentVolumeClaim;
    PersistentVolume: core.PersistentVolume; ServiceAccount: core.ServiceAccount; Event: core.Event;
  };
  'apps/v1': { Deployment: apps.Deployment; StatefulSet: apps.StatefulSet; DaemonSet: apps.DaemonSet; ReplicaSet: apps.ReplicaSet };
  'batch/v1': { Job: batch.Job; CronJob: batch.CronJob };
  'networking.k8s.io/v1': { Ingress: networking.Ingress; NetworkPolicy: networking.NetworkPolicy };
  'rbac.authorization.k8s.io/v1': { Role: rbac.Role; RoleBinding: rbac.RoleBinding; ClusterRole: rbac.ClusterRole; ClusterRoleBinding: rbac.ClusterRoleBinding };
}
export type ObjectOf<A extends string, K extends string> =
  A extends keyof KnownKinds ? K extends keyof KnownKinds[A] ? KnownKinds[A][K] & KubeObject : KubeObject : KubeObject;

/** What a hook is told besides the object. */
export interface HookContext {
  type: HookType;
  apiVersion: string;
  kind: string;
}

/**
 * A hook gets the current object (its own copy) and returns the object to pass on, or nothing to
 * pass on the one it was given (changed in place). Throwing refuses the operation with the message.
 */
export type HookFn<T> = (object: T, context: HookContext) => T | void | Promise<T | void>;

/** One `p.hook({...})`: the kind it is for and any of the 10 hook types. */
export type Hook<A extends string = string, K extends string = string> =
  { apiVersion: A; kind: K; name?: string } & { [M in HookMethod]?: HookFn<ObjectOf<A, K>> };

export class HookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HookError';
  }
}

/** `GetPluginConfig`'s `clientHooks` entry, as vCluster reads it. */
export interface ClientHookConfig {
  apiVersion: string;
  kind: string;
  types: HookType[];
}

interface Registered {
  apiVersion: string;
  kind: string;
  name: string;
  fns: Partial<Record<HookType, HookFn<KubeObject>>>;
}

/**
 * The hooks a plugin registered, in registration order, and what the Go SDK does with them:
 * `clientHooks()` for GetPluginConfig and `mutate()` for Mutate.
 */
export class HookRegistry {
  private readonly hooks: Registered[] = [];

  add(hook: Hook): void {
    const { apiVersion, kind } = hook;
    const where = `hook ${hook.name ?? this.hooks.length + 1}`;
    if (typeof apiVersion !== 'string' || apiVersion === '' || apiVersion.split('/').length > 2) {
      throw new HookError(`${where}: apiVersion must be the group/version the host sends, like "v1" or "apps/v1" (got ${JSON.stringify(apiVersion)})`);
    }
    if (typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
      throw new HookError(`${where}: kind must be a Kind like "Pod" (got ${JSON.stringify(kind)})`);
    }
    const known = new Set<string>(['apiVersion', 'kind', 'name', ...HOOK_TYPES.map(methodOf)]);
    const unknown = Object.keys(hook).filter((key) => !known.has(key));
    if (unknown.length) {
      throw new HookError(`${where} (${apiVersion} ${kind}): unknown field ${unknown.map((u) => `"${u}"`).join(', ')}; hook types are ${HOOK_TYPES.map(methodOf).join(', ')}`);
    }
    const fns: Registered['fns'] = {};
    for (const type of HOOK_TYPES) {
      const fn = (hook as Record<string, unknown>)[methodOf(type)];
      if (fn === undefined) continue;
      if (typeof fn !== 'function') throw new HookError(`${where} (${apiVersion} ${kind}): ${methodOf(type)} must be a function`);
      fns[type] = fn as HookFn<KubeObject>;
    }
    if (Object.keys(fns).length === 0) {
      throw new HookError(`${where} (${apiVersion} ${kind}) has no hook function; give at least one of ${HOOK_TYPES.map(methodOf).join(', ')}`);
    }
    this.hooks.push({ apiVersion, kind, name: hook.name ?? `${kind.toLowerCase()}-hook`, fns });
  }

  get size(): number {
    return this.hooks.length;
  }

  /** One entry per (apiVersion, kind) in registration order, its types in HOOK_TYPES order. */
  clientHooks(): ClientHookConfig[] {
    const out: ClientHookConfig[] = [];
    for (const hook of this.hooks) {
      let entry = out.find((e) => e.apiVersion === hook.apiVersion && e.kind === hook.kind);
      if (!entry) out.push(entry = { apiVersion: hook.apiVersion, kind: hook.kind, types: [] });
      for (const type of HOOK_TYPES) if (hook.fns[type] && !entry.types.includes(type)) entry.types.push(type);
    }
    for (const entry of out) entry.types.sort((a, b) => HOOK_TYPES.indexOf(a) - HOOK_TYPES.indexOf(b));
    return out;
  }

  /**
   * Runs every hook registered for exactly (apiVersion, kind, type), in registration order, each
   * on the previous one's result; answers as the Go SDK does: `mutated` only when the result
   * differs from what came in. Unknown fields are kept (the Go SDK drops them). A hook that throws
   * or returns something that is not an object rejects with a `HookError` naming the hook.
   */
  async mutate(request: { apiVersion: string; kind: string; type: string; object: string }): Promise<{ mutated: boolean; object: string }> {
    const type = request.type as HookType;
    const matching = this.hooks.filter((h) => h.apiVersion === request.apiVersion && h.kind === request.kind && h.fns[type]);
    if (matching.length === 0) return { mutated: false, object: '' };
    let current: unknown;
    try {
      current = JSON.parse(request.object);
    } catch (error) {
      throw new HookError(`error decoding object: ${(error as Error).message}`);
    }
    if (!isObject(current)) throw new HookError(`error decoding object: ${request.kind} is not a JSON object`);
    const before = JSON.stringify(current);
    for (const hook of matching) {
      const input = structuredClone(current) as KubeObject;
      let result: unknown;
      try {
        result = await hook.fns[type]!(input, { type, apiVersion: request.apiVersion, kind: request.kind });
      } catch (error) {
        throw new HookError(`error mutating object: ${hook.name} ${type}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (result === undefined) result = input;
      if (!isObject(result)) {
        throw new HookError(`error mutating object: ${hook.name} ${type} returned ${result === null ? 'null' : typeof result}, not the ${request.kind}; return the object or nothing`);
      }
      current = result;
    }
    const after = JSON.stringify(current);
    return after === before ? { mutated: false, object: '' } : { mutated: true, object: after };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
