import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '@kubenest/kube';
import { mergeBidirectional } from './bidirectional.ts';
import type { SyncContext, SyncEvent } from './controller.ts';
import { syncMetadata } from './host-object.ts';

/**
 * The sync of objects that are metadata plus data maps (ConfigMaps, Secrets): labels and
 * annotations both ways, and each named map merged both ways key by key.
 */
export function syncMetadataAndMaps<T extends KubeObject>(ctx: SyncContext, event: SyncEvent<T>, fields: string[]): { virtual?: T; host?: T } {
  const virtual = structuredClone(event.virtual);
  const host = structuredClone(event.host);
  let { virtualChanged, hostChanged } = syncMetadata(ctx, { ...event, virtual, host });
  const v = virtual as Record<string, unknown>;
  const h = host as Record<string, unknown>;
  for (const field of fields) {
    const merged = mergeBidirectional(
      event.virtualOld?.[field] as Record<string, unknown> | undefined, v[field] as Record<string, unknown> | undefined,
      event.hostOld?.[field] as Record<string, unknown> | undefined, h[field] as Record<string, unknown> | undefined,
    );
    if (!isDeepStrictEqual(merged.virtual, v[field] ?? {})) { v[field] = merged.virtual; virtualChanged = true; }
    if (!isDeepStrictEqual(merged.host, h[field] ?? {})) { h[field] = merged.host; hostChanged = true; }
  }
  return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
}
