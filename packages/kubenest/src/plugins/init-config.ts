import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { CORE, isAlreadyExists, type KubeClient, type KubeObject, type RestConfig } from '@kubenest/kube';
import type { Values } from '../config/values.ts';

/**
 * vCluster's `InitConfig` (plugin-protocol.md §2.1): JSON with Go's base64 for byte fields, the
 * legacy fields included because older v2 plugins read them.
 */
export interface InitConfig {
  pro: { enabled?: boolean; features?: Record<string, boolean> };
  syncerConfig: string;
  workloadConfig: string;
  controlPlaneConfig: string;
  config: string;
  workingDir: string;
  port: number;
  options: string;
  currentNamespace: string;
  physicalClusterConfig: string;
}

/** Where a plugin's mapping-store client finds this virtual cluster's kine (see mapping-store.ts). */
export interface MappingStoreEndpoint {
  endpoint: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface InitConfigInput {
  name: string;
  hostNamespace: string;
  values: Values;
  /** The host cluster as this process reaches it (certificates inlined into the plugin's kubeconfig). */
  host: RestConfig;
  /** The virtual cluster's admin kubeconfig file (the Go SDK reads it from disk). */
  virtualKubeconfigFile: string;
  mappingStore: MappingStoreEndpoint;
  workingDir: string;
  port: number;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** A kubeconfig (YAML) for a REST config, certificates inlined, as vCluster's `ConvertRestConfigToClientConfig` writes it. */
export function kubeconfigYaml(config: RestConfig, name = 'local'): string {
  if (config.tokenProvider && !config.token) throw new Error('the host credentials come from an exec plugin or a rotating token file, which cannot be handed to a plugin yet; use a kubeconfig with a client certificate or a static token');
  const cluster: Record<string, unknown> = { server: config.server };
  if (config.caData) cluster['certificate-authority-data'] = config.caData.toString('base64');
  if (config.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
  if (config.tlsServerName) cluster['tls-server-name'] = config.tlsServerName;
  const user: Record<string, unknown> = {};
  if (config.clientCertData) user['client-certificate-data'] = config.clientCertData.toString('base64');
  if (config.clientKeyData) user['client-key-data'] = config.clientKeyData.toString('base64');
  if (config.token) user['token'] = config.token;
  return stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name, cluster }], users: [{ name, user }], contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

/**
 * The vcluster config a plugin is given: the merged values, plus `name` and `hostNamespace`, with
 * what the Go SDK's start-up needs on one machine: the virtual kubeconfig's file, the backing store
 * described as the TLS endpoint in front of this virtual cluster's kine (v0.33.1 leaves `/data`
 * only for `etcd.external`), and no owner Service (kubenest has none; vCluster defaults it on).
 */
export function pluginVClusterConfig(input: Pick<InitConfigInput, 'name' | 'hostNamespace' | 'values' | 'virtualKubeconfigFile' | 'mappingStore'>): Values {
  const values = structuredClone(input.values);
  const experimental = (values['experimental'] ?? {}) as Values;
  const controlPlane = (values['controlPlane'] ?? {}) as Values;
  const store = input.mappingStore;
  return {
    ...values,
    controlPlane: {
      ...controlPlane,
      backingStore: {
        etcd: { external: { enabled: true, endpoint: store.endpoint, tls: { caFile: store.caFile, certFile: store.certFile, keyFile: store.keyFile } } },
      },
    },
    experimental: {
      ...experimental,
      syncSettings: { ...((experimental['syncSettings'] ?? {}) as Values), setOwner: false },
      virtualClusterKubeConfig: { ...((experimental['virtualClusterKubeConfig'] ?? {}) as Values), kubeConfig: input.virtualKubeconfigFile },
    },
    name: input.name,
    hostNamespace: input.hostNamespace,
  };
}

export function buildInitConfig(input: InitConfigInput): InitConfig {
  const hostKubeconfig = b64(kubeconfigYaml(input.host));
  const virtualKubeconfig = b64(readFileSync(input.virtualKubeconfigFile, 'utf8'));
  const config = pluginVClusterConfig(input);
  // LegacyVirtualClusterOptions (plugin-protocol.md §2.1), what the oldest v2 SDK reads.
  const options = {
    name: input.name, serviceName: input.name, kubeConfig: input.virtualKubeconfigFile, pluginListenAddress: 'localhost:10099',
    syncNodeChanges: false,
  };
  return {
    pro: {},
    syncerConfig: virtualKubeconfig,
    workloadConfig: hostKubeconfig,
    controlPlaneConfig: hostKubeconfig,
    config: b64(JSON.stringify(config)),
    workingDir: input.workingDir,
    port: input.port,
    options: b64(JSON.stringify(options)),
    currentNamespace: input.hostNamespace,
    physicalClusterConfig: hostKubeconfig,
  };
}

/**
 * The host Secret `vc-config-NAME` holding the merged values as `config.yaml`, where vCluster keeps
 * its config; a Go SDK plugin's start-up reads it (and may annotate its store type).
 */
export async function ensureConfigSecret(host: KubeClient, name: string, hostNamespace: string, values: Values): Promise<void> {
  const secrets = host.resourceFor<KubeObject>(CORE['secrets']!);
  const secret: KubeObject = {
    metadata: { name: `vc-config-${name}`, namespace: hostNamespace, labels: { 'vcluster.loft.sh/managed-by': name } },
    type: 'Opaque',
    data: { 'config.yaml': b64(stringify(values)) },
  };
  try {
    await secrets.create(secret);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const current = await secrets.get(secret.metadata!.name!, { namespace: hostNamespace });
    await secrets.update({ ...current, data: secret['data'] });
  }
}
