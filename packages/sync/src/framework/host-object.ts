import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '@kubenest/kube';
import type { SyncContext, SyncEvent } from './controller.ts';

/** Fields the API server owns or that only make sense on one side. */
const NOT_COPIED = new Set(['metadata', 'status']);

/**
 * The host copy of a virtual object: every field but metadata and status as it is, the
 * translated name (in the host namespace; a cluster-scoped object, one without a namespace, named
 * by hostNameCluster), translated labels with the markers, and the marker annotations that tie it
 * to its virtual original.
 */
export function hostCopy<T extends KubeObject>(ctx: SyncContext, virtual: T): T {
  const meta = virtual.metadata ?? {};
  const out: KubeObject = {};
  for (const [key, value] of Object.entries(virtual)) if (!NOT_COPIED.has(key)) out[key] = structuredClone(value);
  const host: KubeObject = meta.namespace
    ? { ...out, metadata: { name: ctx.names.hostName(meta.name ?? '', meta.namespace), namespace: ctx.hostNamespace } }
    : { ...out, metadata: { name: ctx.names.hostNameCluster(meta.name ?? '') } };
  host.metadata!.labels = ctx.meta.hostLabels(meta.labels, undefined, meta.namespace ?? '', true);
  host.metadata!.annotations = ctx.meta.hostAnnotations(virtual, host);
  return host as T;
}

/**
 * Labels and annotations, both ways: a change on the virtual side is translated onto the host;
 * a change made on the host alone is translated back; the markers are always put back.
 * Mutates the objects it is given and reports which ones changed.
 */
export function syncMetadata<T extends KubeObject>(ctx: SyncContext, event: SyncEvent<T>): { virtualChanged: boolean; hostChanged: boolean } {
  const { virtual, host, virtualOld, hostOld } = event;
  const vMeta = virtual.metadata!;
  const hMeta = host.metadata!;
  const namespace = vMeta.namespace ?? '';
  const virtualLabelsChanged = !isDeepStrictEqual(virtualOld?.metadata?.labels, vMeta.labels);
  const hostLabelsChanged = hostOld !== undefined && !isDeepStrictEqual(hostOld.metadata?.labels, hMeta.labels);
  const virtualAnnotationsChanged = !isDeepStrictEqual(virtualOld?.metadata?.annotations, vMeta.annotations);
  const hostAnnotationsChanged = hostOld !== undefined && !isDeepStrictEqual(hostOld.metadata?.annotations, hMeta.annotations);

  let virtualChanged = false;
  if (!virtualLabelsChanged && hostLabelsChanged) {
    const labels = ctx.meta.virtualLabels(hMeta.labels, vMeta.labels);
    if (!isDeepStrictEqual(labels, vMeta.labels ?? {})) { vMeta.labels = labels; virtualChanged = true; }
  }
  if (!virtualAnnotationsChanged && hostAnnotationsChanged) {
    const annotations = ctx.meta.virtualAnnotations(host, virtual);
    if (!isDeepStrictEqual(annotations, vMeta.annotations ?? {})) { vMeta.annotations = annotations; virtualChanged = true; }
  }
  // The host side always follows the (possibly just updated) virtual side, markers included.
  const labels = ctx.meta.hostLabels(vMeta.labels, hMeta.labels, namespace, true);
  const annotations = ctx.meta.hostAnnotations(virtual, host);
  let hostChanged = false;
  if (!isDeepStrictEqual(labels, hMeta.labels ?? {})) { hMeta.labels = labels; hostChanged = true; }
  if (!isDeepStrictEqual(annotations, hMeta.annotations ?? {})) { hMeta.annotations = annotations; hostChanged = true; }
  return { virtualChanged, hostChanged };
}
