import { join } from 'node:path';
import { EventRecorder, type KubeClient } from '@kubenest/kube';
import type { Values } from '../config/values.ts';
import { kineSocketPath } from '../controlplane/components.ts';
import type { ClusterLayout } from '../controlplane/control-plane.ts';
import { pluginEntries } from './entries.ts';
import { PluginHost, PluginRefusedError } from './host.ts';
import { ensureConfigSecret } from './init-config.ts';
import { MappingStoreProxy } from './mapping-store.ts';
import { ensurePluginAccess, pluginHostCredentials } from './rbac.ts';

export { PluginHost, PluginRefusedError, type PluginStatus } from './host.ts';
export { pluginStatusFile, pluginPidsFile } from './files.ts';
export { NO_PLUGINS, type Plugins } from './plugins.ts';
import { NO_PLUGINS, type Plugins } from './plugins.ts';
export { pluginEntries, pluginEntryProblems, resolvePluginPaths, pluginExecutable, type PluginEntry } from './entries.ts';

/**
 * Starts the plugins the values name (none: nothing runs): the host objects their start-up reads
 * (`vc-config-NAME`), the mapping store's TLS front to kine, then each plugin in load order.
 */
export async function startPlugins(o: {
  name: string; hostNamespace: string; values: Values; layout: ClusterLayout; host: KubeClient; progress: (line: string) => void;
}): Promise<Plugins> {
  if (pluginEntries(o.values).length === 0) return NO_PLUGINS;
  await ensureConfigSecret(o.host, o.name, o.hostNamespace, o.values);
  // Each plugin's own host ServiceAccount and rules (least privilege, ADR 22).
  for (const entry of pluginEntries(o.values)) await ensurePluginAccess(o.host, { vclusterName: o.name, hostNamespace: o.hostNamespace, entry });
  const mappingStore = await MappingStoreProxy.start(join(o.layout.dataDir, 'plugins', 'pki'), kineSocketPath(o.layout.dataDir));
  let host: PluginHost;
  let recorder: EventRecorder | undefined;
  try {
    host = await PluginHost.start({
      vclusterName: o.name, hostNamespace: o.hostNamespace, values: o.values,
      hostCredentials: (plugin) => pluginHostCredentials(o.host, { vclusterName: o.name, hostNamespace: o.hostNamespace, plugin }),
      virtualKubeconfigFile: o.layout.kubeconfig, mappingStore: mappingStore.endpoint, dataDir: o.layout.dataDir, logsDir: o.layout.logsDir,
      progress: o.progress,
    });
  } catch (error) {
    await mappingStore.stop();
    throw error;
  }
  return {
    hooks: host,
    reportError: (virtualKey, error, virtual) => {
      if (!(error instanceof PluginRefusedError)) return;
      recorder ??= new EventRecorder(virtual.rest, 'kubenest-plugins');
      const [namespace, name] = virtualKey.includes('/') ? virtualKey.split('/') : [undefined, virtualKey];
      const object = { apiVersion: error.apiVersion, kind: error.kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
      void recorder.record(object, 'Warning', 'PluginRefused', error.message).catch(() => {});
    },
    setLeader: () => host.setLeader(),
    endTerm: () => host.endTerm(),
    stop: async () => {
      await host.stop();
      await mappingStore.stop();
    },
    host,
  };
}
