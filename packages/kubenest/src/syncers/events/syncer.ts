import { CORE, isNotFound, type KubeObject, type ResourceRef } from '@kubenest/kube';
import { MARKER_LABEL, NAMESPACE_ANNOTATION, NAME_ANNOTATION, type FromHostSyncer, type SyncContext } from '@kubenest/sync';
import { FORCE_SYNC_ANNOTATION } from '../configmaps/syncer.ts';

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export type Event = KubeObject & { involvedObject?: ObjectReference; message?: string; related?: ObjectReference };

/** The kinds whose host events are shown on their virtual objects (vCluster's list, with Endpoints spelled right). */
const ACCEPTED_KINDS: Record<string, ResourceRef> = {
  Pod: CORE['pods']!, Service: CORE['services']!, Endpoints: CORE['endpoints']!, Secret: CORE['secrets']!, ConfigMap: CORE['configmaps']!,
};

interface Named {
  namespace: string;
  name: string;
}

/** A host event's virtual name: the host object's name at its start replaced by the virtual one. */
export function virtualEventName(hostEventName: string, hostObjectName: string, virtualObjectName: string): string {
  return hostEventName.startsWith(hostObjectName) ? virtualObjectName + hostEventName.slice(hostObjectName.length) : hostEventName;
}

/** A host event's message with the host object's names (`namespace/name`, then `name`) replaced by the virtual ones. */
export function virtualEventMessage(message: string, host: Named, virtual: Named): string {
  return message.replaceAll(`${host.namespace}/${host.name}`, `${virtual.namespace}/${virtual.name}`).replaceAll(host.name, virtual.name);
}

async function getOrNothing(ctx: SyncContext, side: 'host' | 'virtual', ref: ResourceRef, namespace: string, name: string): Promise<KubeObject | undefined> {
  try {
    return await ctx[side].resourceFor(ref).get(name, { namespace });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The virtual object a host event is about, if that is one of this virtual cluster's objects
 * synced to the host: found by reading the host object's markers, never by parsing its name.
 */
async function involvedVirtualObject(ctx: SyncContext, event: Event): Promise<{ host: Named; virtual: KubeObject } | undefined> {
  const involved = event.involvedObject ?? {};
  const ref = involved.kind ? ACCEPTED_KINDS[involved.kind] : undefined;
  if (!ref || (involved.apiVersion ?? 'v1') !== 'v1' || !involved.name) return undefined;
  const namespace = involved.namespace || event.metadata?.namespace || '';
  if (namespace !== ctx.hostNamespace) return undefined;
  const host = await getOrNothing(ctx, 'host', ref, namespace, involved.name);
  const meta = host?.metadata;
  const virtualName = meta?.annotations?.[NAME_ANNOTATION];
  const virtualNamespace = meta?.annotations?.[NAMESPACE_ANNOTATION];
  if (!meta || meta.labels?.[MARKER_LABEL] !== ctx.vclusterName || !virtualName || !virtualNamespace) return undefined;
  // A copy or rename of one of our objects carries our annotations but not the name they translate to.
  if (ctx.names.hostName(virtualName, virtualNamespace) !== meta.name) return undefined;
  const virtual = await getOrNothing(ctx, 'virtual', ref, virtualNamespace, virtualName);
  return virtual ? { host: { namespace, name: involved.name }, virtual } : undefined;
}

/** The fields of a host event a virtual copy keeps as they are. */
function copiedFields(host: Event): Event {
  const rest: Record<string, unknown> = { ...host };
  // Rewritten by the caller, or (related) about host objects the virtual cluster does not know.
  for (const field of ['metadata', 'involvedObject', 'message', 'related']) delete rest[field];
  const metadata = host.metadata;
  const annotations = { ...metadata?.annotations };
  delete annotations[FORCE_SYNC_ANNOTATION];
  return {
    ...structuredClone(rest),
    metadata: {
      ...(metadata?.labels ? { labels: { ...metadata.labels } } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
  };
}

/**
 * `sync.fromHost.events`: events about this virtual cluster's objects on the host, shown on the
 * virtual objects they concern, with host names turned into virtual ones. An event the host
 * marks `vcluster.loft.sh/force-sync: "true"` that is about none of them goes to `default`,
 * detached. Virtual events are left to expire as the virtual cluster's own do.
 */
export function eventSyncer(options: { hostNamespace: string }): FromHostSyncer<Event> {
  return {
    name: 'event',
    hostResource: CORE['events']!,
    virtualResource: CORE['events']!,
    hostNamespaces: [options.hostNamespace],
    ownsCopies: false,
    namespaces: 'existing',
    async toVirtual(ctx, host) {
      const hostName = host.metadata?.name ?? '';
      const found = await involvedVirtualObject(ctx, host);
      if (found) {
        const vMeta = found.virtual.metadata ?? {};
        const virtual = { namespace: vMeta.namespace ?? '', name: vMeta.name ?? '' };
        const event = copiedFields(host);
        event.metadata = { ...event.metadata, namespace: virtual.namespace, name: virtualEventName(hostName, found.host.name, virtual.name) };
        event.involvedObject = {
          ...host.involvedObject, namespace: virtual.namespace, name: virtual.name,
          ...(vMeta.uid ? { uid: vMeta.uid } : {}), ...(vMeta.resourceVersion ? { resourceVersion: vMeta.resourceVersion } : {}),
        };
        if (host.message !== undefined) event.message = virtualEventMessage(host.message, found.host, virtual);
        return event;
      }
      if (host.metadata?.annotations?.[FORCE_SYNC_ANNOTATION] !== 'true') return undefined;
      const event = copiedFields(host);
      event.metadata = { ...event.metadata, namespace: 'default', name: hostName };
      event.involvedObject = {};
      if (host.message !== undefined) event.message = host.message;
      return event;
    },
  };
}

