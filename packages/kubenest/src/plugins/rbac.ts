import { ApiError, isAlreadyExists, isNotFound, type KubeClient, type KubeObject, type ResourceRef, type RestConfig } from '@kubenest/kube';
import { NameTranslator, safeConcatName } from '@kubenest/sync';
import type { Values } from '../config/values.ts';
import type { PluginEntry } from './entries.ts';

/**
 * Least privilege for plugins (issue 9 §6, ADR 22; beyond vCluster, where a plugin holds the
 * syncer's own host rights): each plugin gets a host ServiceAccount of its own, bound to a Role
 * (and a ClusterRole when it asks for cluster rules) made of exactly its `rbac.role.extraRules` /
 * `rbac.clusterRole.extraRules` plus what the Go SDK's own start-up reads, and the host
 * credentials in its InitConfig are a bound token of that ServiceAccount.
 */

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

/**
 * What a vcluster-sdk v0.6.9 plugin (vCluster v0.33.1's plugin path) does on the host before its
 * own syncers run, given the config kubenest sends it (`pluginVClusterConfig`), and so the only
 * namespaced rule every plugin gets:
 * - `pkg/setup/config.EnsureBackingStoreChanges`: GET Secret `vc-config-NAME` (start-up fails
 *   without it). It would also UPDATE the Secret, but only when it already carries a
 *   `vcluster.loft.sh/store` annotation, which kubenest's Secret never has: no update.
 * Not granted, because the SDK does not need them here:
 * - `SetGlobalOwner` GETs Service `NAME` only with `experimental.syncSettings.setOwner`, which
 *   kubenest sends as false.
 * - Discovery (`DisableMissingAPIs`, the manager's REST mapper) reads `/api`, `/apis`: every
 *   authenticated user may, through the host's bootstrap ClusterRole `system:discovery`.
 * - The host manager runs without leader election (`LeaderElection: false`) and without a
 *   metrics server; its cache starts informers only for the kinds a plugin's syncers use
 *   (their rules are the plugin's `extraRules`, as in vCluster's chart).
 * - The mapping store is this virtual cluster's kine (etcd API through kubenest's TLS front), not
 *   the host API; its garbage collection, which reads host objects, runs only in vCluster's own
 *   syncer (`pkg/setup/controllers.go`), not in a plugin.
 */
export function sdkStartupRules(vclusterName: string): PolicyRule[] {
  return [{ apiGroups: [''], resources: ['secrets'], resourceNames: [`vc-config-${vclusterName}`], verbs: ['get'] }];
}

/** How long a plugin's host token lives; a new one is minted at every (re)start of the plugin. */
export const PLUGIN_TOKEN_SECONDS = 365 * 24 * 3600;

const MANAGED_BY = 'vcluster.loft.sh/managed-by';
const PLUGIN_LABEL = 'vcluster.loft.sh/plugin';
const RBAC = 'rbac.authorization.k8s.io';
export const RBAC_REFS: Record<'roles' | 'rolebindings' | 'clusterroles' | 'clusterrolebindings', ResourceRef> = {
  roles: { group: RBAC, version: 'v1', resource: 'roles', kind: 'Role', namespaced: true },
  rolebindings: { group: RBAC, version: 'v1', resource: 'rolebindings', kind: 'RoleBinding', namespaced: true },
  clusterroles: { group: RBAC, version: 'v1', resource: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  clusterrolebindings: { group: RBAC, version: 'v1', resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
};
const SERVICE_ACCOUNTS: ResourceRef = { group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true };

/** Host names of a plugin's objects: namespaced ones in the host namespace, cluster-scoped ones naming it too. */
export function pluginAccessNames(vclusterName: string, hostNamespace: string, plugin: string): { namespaced: string; cluster: string } {
  return {
    namespaced: safeConcatName('vc-plugin', vclusterName, plugin),
    cluster: safeConcatName('vc-plugin', hostNamespace, 'x', vclusterName, 'x', plugin),
  };
}

/** A plugin entry's `rbac.role.extraRules` / `rbac.clusterRole.extraRules`, checked. */
export function pluginExtraRules(entry: Pick<PluginEntry, 'name' | 'raw'>): { role: PolicyRule[]; clusterRole: PolicyRule[] } {
  const rbac = (entry.raw['rbac'] ?? {}) as Values;
  const rules = (key: 'role' | 'clusterRole'): PolicyRule[] => {
    const list = ((rbac[key] ?? {}) as Values)['extraRules'] ?? [];
    const where = `plugins.${entry.name}.rbac.${key}.extraRules`;
    if (!Array.isArray(list)) throw new Error(`${where} must be a list of RBAC rules (apiGroups, resources, verbs)`);
    return list.map((rule, i) => {
      if (rule === null || typeof rule !== 'object' || !Array.isArray((rule as PolicyRule).verbs)) {
        throw new Error(`${where}[${i}] must be an RBAC rule with a list of verbs`);
      }
      return rule as PolicyRule;
    });
  };
  return { role: rules('role'), clusterRole: rules('clusterRole') };
}

async function ensure(host: KubeClient, ref: ResourceRef, object: KubeObject): Promise<void> {
  const client = host.resourceFor<KubeObject>(ref);
  try {
    await client.create(object);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const current = await client.get(object.metadata!.name!, { namespace: object.metadata?.namespace });
    await client.update({ ...object, metadata: { ...object.metadata, resourceVersion: current.metadata?.resourceVersion } });
  }
}

async function remove(host: KubeClient, ref: ResourceRef, name: string, namespace?: string): Promise<void> {
  try {
    await host.resourceFor(ref).delete(name, namespace ? { namespace } : {});
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * Makes (or brings up to date) a plugin's ServiceAccount, Role and RoleBinding in the host
 * namespace and, when it has cluster rules, its ClusterRole and ClusterRoleBinding, all labelled
 * with the virtual cluster's marker so that `kubenest delete` removes them.
 */
export async function ensurePluginAccess(host: KubeClient, o: { vclusterName: string; hostNamespace: string; entry: Pick<PluginEntry, 'name' | 'raw'> }): Promise<void> {
  const names = pluginAccessNames(o.vclusterName, o.hostNamespace, o.entry.name);
  const extra = pluginExtraRules(o.entry);
  const namespace = o.hostNamespace;
  const labels = { [MANAGED_BY]: o.vclusterName, [PLUGIN_LABEL]: o.entry.name };
  const clusterLabels = { [MANAGED_BY]: new NameTranslator(o.vclusterName, o.hostNamespace).clusterMarker(), [PLUGIN_LABEL]: o.entry.name };
  const subjects = [{ kind: 'ServiceAccount', name: names.namespaced, namespace }];
  try {
    await ensure(host, SERVICE_ACCOUNTS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: names.namespaced, namespace, labels } });
    await ensure(host, RBAC_REFS.roles, {
      apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name: names.namespaced, namespace, labels },
      rules: [...sdkStartupRules(o.vclusterName), ...extra.role],
    });
    await ensure(host, RBAC_REFS.rolebindings, {
      apiVersion: `${RBAC}/v1`, kind: 'RoleBinding', metadata: { name: names.namespaced, namespace, labels },
      roleRef: { apiGroup: RBAC, kind: 'Role', name: names.namespaced }, subjects,
    });
    if (extra.clusterRole.length > 0) {
      await ensure(host, RBAC_REFS.clusterroles, {
        apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: names.cluster, labels: clusterLabels }, rules: extra.clusterRole,
      });
      await ensure(host, RBAC_REFS.clusterrolebindings, {
        apiVersion: `${RBAC}/v1`, kind: 'ClusterRoleBinding', metadata: { name: names.cluster, labels: clusterLabels },
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: names.cluster }, subjects,
      });
    } else {
      await remove(host, RBAC_REFS.clusterrolebindings, names.cluster);
      await remove(host, RBAC_REFS.clusterroles, names.cluster);
    }
  } catch (error) {
    const detail = error instanceof ApiError ? error.message : String(error);
    throw new Error(`plugin "${o.entry.name}": cannot make its host ServiceAccount and RBAC rules (rbac.role/clusterRole.extraRules) in namespace ${namespace}: ${detail}`, { cause: error });
  }
}

/**
 * The host credentials a plugin is given: a bound token of its ServiceAccount (TokenRequest,
 * valid `PLUGIN_TOKEN_SECONDS`) with the host's address and CA; never the syncer's own credentials.
 */
export async function pluginHostCredentials(host: KubeClient, o: { vclusterName: string; hostNamespace: string; plugin: string }): Promise<RestConfig & { expiresAt?: number }> {
  const sa = pluginAccessNames(o.vclusterName, o.hostNamespace, o.plugin).namespaced;
  const path = `/api/v1/namespaces/${encodeURIComponent(o.hostNamespace)}/serviceaccounts/${encodeURIComponent(sa)}/token`;
  let answer: { status?: { token?: string; expirationTimestamp?: string } };
  try {
    answer = await host.rest.request('POST', path, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: PLUGIN_TOKEN_SECONDS } },
    });
  } catch (error) {
    throw new Error(`plugin "${o.plugin}": cannot get a token for its host ServiceAccount ${o.hostNamespace}/${sa}: ${(error as Error).message}`, { cause: error });
  }
  const token = answer.status?.token;
  if (!token) throw new Error(`plugin "${o.plugin}": the host answered the TokenRequest for ${o.hostNamespace}/${sa} without a token`);
  const config = host.rest.config;
  const expiresAt = answer.status?.expirationTimestamp ? Date.parse(answer.status.expirationTimestamp) : NaN;
  return {
    ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
    server: config.server,
    ...(config.caData ? { caData: config.caData } : {}),
    ...(config.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
    ...(config.tlsServerName ? { tlsServerName: config.tlsServerName } : {}),
    token,
  };
}
