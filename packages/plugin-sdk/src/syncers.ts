import { isDeepStrictEqual } from 'node:util';
import type { KubeObject, ResourceRef } from '@kubenest/kube';
import { hostCopy, syncMetadata, type SyncContext, type SyncEvent, type SyncResult, type Syncer } from '@kubenest/sync';

/** Top-level fields that are not content: the server's, or the side's own. */
const NOT_CONTENT = new Set(['apiVersion', 'kind', 'metadata', 'status']);

/**
 * The content of a virtual object carried onto its host copy: every top-level field but metadata
 * and status replaced by the virtual one (a field gone from the virtual object goes from the host
 * copy). Pure; returns whether the host object changed.
 */
export function copyContent(virtual: KubeObject, host: KubeObject): boolean {
  let changed = false;
  for (const [key, value] of Object.entries(virtual)) {
    if (NOT_CONTENT.has(key) || isDeepStrictEqual(host[key], value)) continue;
    host[key] = structuredClone(value);
    changed = true;
  }
  for (const key of Object.keys(host)) {
    if (!NOT_CONTENT.has(key) && !(key in virtual)) {
      delete host[key];
      changed = true;
    }
  }
  return changed;
}

/**
 * The decision of a plain to-host syncer for one key where both sides exist: labels and
 * annotations both ways with the markers (syncMetadata), the content from virtual to host.
 */
export function decideCopy<T extends KubeObject>(ctx: SyncContext, event: SyncEvent<T>): SyncResult<T> {
  const virtual = structuredClone(event.virtual);
  const host = structuredClone(event.host);
  const { virtualChanged, hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
  const contentChanged = copyContent(virtual, host);
  return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged || contentChanged ? { host } : {}) };
}

/**
 * A to-host syncer that copies a kind (namespaced or cluster-scoped) to the host under vCluster's
 * names and markers, its content following the virtual object. The same `Syncer` the built-in
 * syncers are; spread it and override `toHost` / `sync` / `wants` for more.
 */
export function copyToHost<T extends KubeObject = KubeObject>(name: string, resource: ResourceRef): Syncer<T> {
  return {
    name,
    resource,
    toHost: (ctx, virtual) => hostCopy(ctx, virtual),
    sync: (ctx, event) => decideCopy(ctx, event),
  };
}

/**
 * A typed object as syncers handle it: the fields of a `kubernetes-types` kind (`SyncObject<Secret>`)
 * over the framework's `KubeObject` (whose metadata keeps unknown fields).
 */
export type SyncObject<T> = Omit<T, 'apiVersion' | 'kind' | 'metadata'> & KubeObject;
