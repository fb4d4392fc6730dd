import { CORE, type KubeObject, type ResourceRef } from '@kubenest/kube';
import { MARKER_LABEL, type FromHostSyncer } from '@kubenest/sync';
import type { ConfigMap } from '../configmaps/syncer.ts';
import { FromHostMappings } from '../../config/from-host-mappings.ts';

export interface FromHostOptions {
  /** `mappings.byName` from the config. */
  byName: Record<string, string>;
  /** The virtual cluster's host namespace, which the keys "" and "/name" stand for. */
  hostNamespace: string;
}

/**
 * The shared part of importing ConfigMaps and Secrets: the mapped host objects, with their labels,
 * annotations and the named fields, copied to where the mappings say. Objects a virtual cluster
 * synced to the host (they carry the managed-by marker) are never imported, nor the host's own
 * `kube-root-ca.crt`.
 */
export function importSyncer<T extends KubeObject>(name: string, resource: ResourceRef, fields: string[], options: FromHostOptions): FromHostSyncer<T> {
  const mappings = new FromHostMappings(options.byName, options.hostNamespace);
  return {
    name,
    hostResource: resource,
    virtualResource: resource,
    hostNamespaces: mappings.hostNamespaces(),
    // Keeps every virtual cluster's to-host copies out of the cache to begin with.
    hostLabelSelector: `!${MARKER_LABEL}`,
    ownsCopies: true,
    namespaces: 'create',
    toVirtual(_ctx, host) {
      const meta = host.metadata ?? {};
      if (meta.labels?.[MARKER_LABEL] !== undefined || meta.name === 'kube-root-ca.crt') return undefined;
      const target = mappings.virtualOf(meta.namespace ?? '', meta.name ?? '');
      if (!target) return undefined;
      const virtual: KubeObject = {
        apiVersion: host.apiVersion ?? 'v1', kind: host.kind ?? resource.kind,
        metadata: {
          name: target.name, namespace: target.namespace,
          ...(meta.labels ? { labels: { ...meta.labels } } : {}), ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
        },
      };
      for (const field of fields) if (host[field] !== undefined) virtual[field] = structuredClone(host[field]);
      return virtual as T;
    },
  };
}

/** `sync.fromHost.configMaps`: host ConfigMaps copied into the virtual cluster, read-only there. */
export function fromHostConfigMapSyncer(options: FromHostOptions): FromHostSyncer<ConfigMap> {
  return importSyncer<ConfigMap>('from-host-configmap', CORE['configmaps']!, ['data', 'binaryData', 'immutable'], options);
}
