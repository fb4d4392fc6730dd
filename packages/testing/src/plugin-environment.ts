/**
 * For plugin authors: `startPluginEnvironment({ plugin: dir })` inside node:test gives a real local
 * host cluster, a virtual cluster on it and the plugin loaded from source (its executable `plugin`,
 * which `kubenest plugin init` writes: it runs plugin.ts on Node), all through the kubenest CLI
 * as a user runs them, in a private directory; `stop()` ends every process and removes it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { KubeClient, loadKubeconfig } from '@kubenest/kube';
import { pluginProjectEntry, pluginStatusFile, type PluginStatus } from '@kubenest/kubenest';
import { NameTranslator } from '@kubenest/sync';
import { kubenest, run, tempDir, testBinaries, type CommandResult } from './index.ts';

export interface PluginEnvironmentOptions {
  /** The plugin project's directory (holding the executable `plugin`, and plugin.yaml if any). */
  plugin: string;
  /** The plugin's name; default the first key of plugin.yaml's `plugins:`, else the directory's name. */
  name?: string;
  /** `PLUGIN_CONFIG` for the plugin; default plugin.yaml's `config:` for it. */
  config?: unknown;
  /** More values for the virtual cluster (vcluster.yaml), merged under the plugin's. */
  values?: Record<string, unknown>;
  /** Simulated host nodes; default 1. */
  nodes?: number;
}

export interface ClusterHandle {
  kubeconfig: string;
  client: KubeClient;
  /** kubectl against this cluster (the host's already in the virtual cluster's host namespace when `-n` is not given). */
  kubectl(...args: string[]): Promise<CommandResult>;
}

export interface PluginEnvironment {
  /** The virtual cluster's name (`test`) and the host namespace it syncs into. */
  vclusterName: string;
  hostNamespace: string;
  pluginName: string;
  host: ClusterHandle;
  virtual: ClusterHandle;
  /** The host name of a virtual object (vCluster's `name-x-namespace-x-vcluster`). */
  hostName(name: string, namespace?: string): string;
  /** The plugin's state as the plugin host reports it (`kubenest plugins --json`). */
  status(): PluginStatus;
  /** The plugin's log (JSON lines, as `kubenest logs NAME --component plugin/P`). */
  logs(): Promise<string>;
  /** Runs the kubenest CLI in this environment. */
  cli(...args: string[]): Promise<CommandResult>;
  /** Deletes the virtual cluster, stops the host, removes every file; safe to call twice. */
  stop(): Promise<void>;
}

const VCLUSTER = 'test';

export async function startPluginEnvironment(options: PluginEnvironmentOptions): Promise<PluginEnvironment> {
  const dir = resolve(options.plugin);
  const executable = join(dir, 'plugin');
  if (!existsSync(executable)) throw new Error(`${executable} is missing: the plugin's directory needs its executable \`plugin\` (\`kubenest plugin init\` writes one that runs plugin.ts)`);
  const project = pluginProjectEntry(dir);
  const pluginName = options.name ?? project.name;
  const sandbox = tempDir('kn-plugin-env-');
  const hostDir = join(sandbox.path, 'host');
  const vclustersDir = join(sandbox.path, 'vclusters');
  const env: NodeJS.ProcessEnv = {
    ...process.env, KUBENEST_HOST_DIR: hostDir, KUBENEST_VCLUSTERS_DIR: vclustersDir, KUBENEST_BIN_DIR: (await testBinaries()).dir,
    // The plugin's launcher runs plugin.ts on this Node.
    KUBENEST_NODE: process.execPath,
  };
  const cli = (...args: string[]): Promise<CommandResult> => kubenest(args, { env, timeoutMs: 300_000 });
  // The executable itself (a file, not the directory): the plugin runs from its sources in place.
  const entry: Record<string, unknown> = { ...project.entry, path: executable };
  delete entry['image'];
  if (options.config !== undefined) entry['config'] = options.config;
  const valuesFile = join(sandbox.path, 'values.yaml');
  writeFileSync(valuesFile, stringify({ ...options.values, plugins: { [pluginName]: entry } }));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await cli('delete', VCLUSTER);
    await cli('host', 'down');
    sandbox.remove();
  };
  try {
    const up = await cli('up', '--name', VCLUSTER, '--nodes', String(options.nodes ?? 1), '-f', valuesFile);
    if (up.code !== 0) throw new Error(`kubenest up with plugin "${pluginName}" (${executable}) failed:\n${up.stderr.slice(-4000)}`);
  } catch (error) {
    await stop();
    throw error;
  }
  const hostKubeconfig = join(hostDir, 'kubeconfig');
  const virtualKubeconfig = join(vclustersDir, VCLUSTER, 'kubeconfig');
  const hostNamespace = `vcluster-${VCLUSTER}`;
  const hostClient = new KubeClient(loadKubeconfig(hostKubeconfig));
  const virtualClient = new KubeClient(loadKubeconfig(virtualKubeconfig));
  const names = new NameTranslator(VCLUSTER, hostNamespace);
  return {
    vclusterName: VCLUSTER, hostNamespace, pluginName,
    host: {
      kubeconfig: hostKubeconfig, client: hostClient,
      kubectl: (...args) => run('kubectl', ['--kubeconfig', hostKubeconfig, ...(args.some((a) => a === '-n' || a.startsWith('--namespace') || a === '-A') ? [] : ['-n', hostNamespace]), ...args]),
    },
    virtual: { kubeconfig: virtualKubeconfig, client: virtualClient, kubectl: (...args) => run('kubectl', ['--kubeconfig', virtualKubeconfig, ...args]) },
    hostName: (name, namespace = 'default') => names.hostName(name, namespace),
    status: () => {
      const rows = JSON.parse(readFileSync(pluginStatusFile(join(vclustersDir, VCLUSTER)), 'utf8')) as PluginStatus[] | { plugins: PluginStatus[] };
      const list = Array.isArray(rows) ? rows : rows.plugins;
      const row = list.find((r) => r.name === pluginName);
      if (!row) throw new Error(`plugin "${pluginName}" is not in the plugin host's status (${list.map((r) => r.name).join(', ')})`);
      return row;
    },
    logs: async () => (await cli('logs', VCLUSTER, '--component', `plugin/${pluginName}`)).stdout,
    cli,
    stop: async () => {
      await hostClient.close();
      await virtualClient.close();
      await stop();
    },
  };
}
