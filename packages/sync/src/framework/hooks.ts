import type { KubeObject } from '@kubenest/kube';

/**
 * vCluster's 10 client hook types (plugin protocol v2, `Mutate.Request.type`): which operation on
 * which side. The Go SDK knows the first 8; the Apply pair exists in vCluster's host only.
 */
export const HOOK_TYPES = [
  'GetPhysical', 'GetVirtual', 'CreatePhysical', 'CreateVirtual', 'UpdatePhysical', 'UpdateVirtual',
  'DeletePhysical', 'DeleteVirtual', 'ApplyPhysical', 'ApplyVirtual',
] as const;
export type HookType = (typeof HOOK_TYPES)[number];

/**
 * The plugins' hook chain as the hooked clients see it. `wants` is asked first so an object no
 * plugin hooks costs no serialisation; `mutate` returns the object to use instead, or throws to
 * refuse the operation (the error names the plugin). `mutate` must not change the object it is
 * given (cached objects are passed as they are, without a copy).
 */
export interface ObjectHooks {
  wants(apiVersion: string, kind: string, type: HookType): boolean;
  mutate<T extends KubeObject>(type: HookType, object: T): Promise<T>;
}

/** No plugins: every operation passes unchanged. */
export const NO_HOOKS: ObjectHooks = {
  wants: () => false,
  mutate: (_type, object) => Promise.resolve(object),
};
