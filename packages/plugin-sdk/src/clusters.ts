import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import {
  KubeClient, UnknownKindError, isNotFound, restConfigFromKubeconfig, type KubeObject, type ResourceRef,
} from '@kubenest/kube';
import { HookedClient, MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';

/** The two clusters a plugin works with, from its InitConfig. */
export interface Clusters {
  /** The host cluster, as the plugin's own host ServiceAccount (kubenest) or the syncer's (vCluster). */
  host: KubeClient;
  /** The virtual cluster's API server. */
  virtual: KubeClient;
  /** What syncers get: both clients (not hooked: a plugin's own calls never run plugin hooks, as in vCluster), names and markers. */
  sync: SyncContext;
}

export class ClusterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterConfigError';
  }
}

/**
 * Clients for both clusters from the InitConfig's kubeconfigs (`controlPlaneConfig` for the host,
 * `syncerConfig` for the virtual cluster) and the vcluster config's `name` and `hostNamespace`.
 */
export function clustersFrom(input: { hostKubeconfig: string; virtualKubeconfig: string; vcluster: { name?: string; hostNamespace?: string } }): Clusters {
  const name = input.vcluster.name;
  const hostNamespace = input.vcluster.hostNamespace;
  if (!name || !hostNamespace) {
    throw new ClusterConfigError(`the host's InitConfig has no ${!name ? 'config.name' : 'config.hostNamespace'}: the SDK cannot name host objects without the virtual cluster's name and host namespace`);
  }
  const client = (yaml: string, field: string): KubeClient => {
    if (!yaml.trim()) throw new ClusterConfigError(`the host's InitConfig has an empty ${field}: no kubeconfig to reach that cluster`);
    return new KubeClient(restConfigFromKubeconfig(parse(yaml) as unknown, `InitConfig.${field}`));
  };
  const host = client(input.hostKubeconfig, 'controlPlaneConfig');
  const virtual = client(input.virtualKubeconfig, 'syncerConfig');
  return {
    host, virtual,
    sync: {
      host: new HookedClient('host', host), virtual: new HookedClient('virtual', virtual),
      vclusterName: name, hostNamespace,
      names: new NameTranslator(name, hostNamespace), meta: new MetadataTranslator(name, hostNamespace),
    },
  };
}

/** The CRD of a kind is not on the host: nothing to copy into the virtual cluster. */
export class CrdMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CrdMissingError';
  }
}

const CRDS: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false };

/**
 * vCluster's `EnsureCRDFromPhysicalCluster`: finds the kind on the host (discovery), copies its
 * CRD's spec into the virtual cluster (created, or updated when the spec differs), and waits until
 * the virtual API server serves the kind. Returns the kind's resource.
 */
export async function ensureCrdFromHost(clusters: Pick<Clusters, 'host' | 'virtual'>, apiVersion: string, kind: string, options: { timeoutMs?: number } = {}): Promise<ResourceRef> {
  let ref: ResourceRef;
  try {
    clusters.host.discovery.invalidate();
    ref = await clusters.host.discovery.resourceFor(apiVersion, kind);
  } catch (error) {
    if (error instanceof UnknownKindError) {
      throw new CrdMissingError(`the host cluster has no CRD for ${apiVersion} ${kind}; apply its CustomResourceDefinition to the host cluster (the plugin copies it into the virtual cluster from there)`);
    }
    throw error;
  }
  const crdName = `${ref.resource}.${ref.group}`;
  let hostCrd: KubeObject;
  try {
    hostCrd = await clusters.host.resourceFor(CRDS).get(crdName);
  } catch (error) {
    if (isNotFound(error)) throw new CrdMissingError(`the host serves ${apiVersion} ${kind} but has no CustomResourceDefinition ${crdName} (a built-in or aggregated kind cannot be copied)`);
    throw new Error(`cannot read CustomResourceDefinition ${crdName} on the host: ${(error as Error).message}; the plugin needs get on customresourcedefinitions (rbac.clusterRole.extraRules in plugin.yaml)`, { cause: error });
  }
  const spec = structuredClone(hostCrd['spec']);
  const crds = clusters.virtual.resourceFor(CRDS);
  let current: KubeObject | undefined;
  try {
    current = await crds.get(crdName);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (!current) {
    await crds.create({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: crdName, labels: hostCrd.metadata?.labels ?? {} }, spec });
  } else if (JSON.stringify(current['spec']) !== JSON.stringify({ ...(current['spec'] as object), ...(spec as object) })) {
    await crds.update({ ...current, spec });
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    try {
      clusters.virtual.discovery.invalidate();
      return await clusters.virtual.discovery.resourceFor(apiVersion, kind);
    } catch (error) {
      if (!(error instanceof UnknownKindError) || Date.now() > deadline) throw error;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Applies the objects of a YAML file (one or more documents) with server-side apply, as vCluster's
 * `applier.ApplyManifestFile` does; a relative path is taken from the plugin's working directory.
 */
export async function applyManifestFile(client: KubeClient, file: string, fieldManager: string): Promise<KubeObject[]> {
  const path = isAbsolute(file) ? file : resolve(process.cwd(), file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read manifest ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const applied: KubeObject[] = [];
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length) throw new Error(`manifest ${path} document ${index + 1}: ${doc.errors[0]!.message}`);
    const object = doc.toJS() as KubeObject | null;
    if (!object) continue;
    if (!object.apiVersion || !object.kind || !object.metadata?.name) throw new Error(`manifest ${path} document ${index + 1}: an object needs apiVersion, kind and metadata.name`);
    const resource = await client.forObject(object);
    const namespace = resource.ref.namespaced ? object.metadata.namespace ?? 'default' : undefined;
    applied.push(await resource.apply({ ...object, metadata: { ...object.metadata, ...(namespace ? { namespace } : {}) } }, { fieldManager, force: true }));
  }
  return applied;
}
