import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { KubeClient, KubeconfigError, isAlreadyExists, isNotFound, loadRestConfig, CORE, type KubeObject } from '@kubenest/kube';
import { loadValues, mergeValues, type Values } from '../config/values.ts';
import { pluginEntries, pluginExecutable, resolvePluginPaths } from '../plugins/entries.ts';
import { pluginStatusFile } from '../plugins/files.ts';
import type { PluginStatus } from '../plugins/host.ts';
import { validateValues } from '../config/validate.ts';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { clusterLayout } from '../controlplane/control-plane.ts';
import { daemonStatus, isDaemonRunning, runSupervised, stopDaemon } from '../controlplane/daemon.ts';
import {
  deleteHostObjects, detectServiceCidr, readSpec, startVirtualCluster, writeSpec, type VirtualClusterSpec, type VirtualClusterState,
} from '../controlplane/virtual-cluster.ts';
import { runInBackground, supervisedCommand } from './background.ts';
import { CliError, say } from './output.ts';

const NAME = /^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/;

export function vclustersRoot(): string {
  return process.env['KUBENEST_VCLUSTERS_DIR'] ?? join(process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'kubenest', 'vclusters');
}

function dataDirOf(name: string): string {
  if (!NAME.test(name)) {
    throw new CliError(`"${name}" is not a valid virtual cluster name: use at most 52 lower-case letters, digits and "-", starting and ending with a letter or digit`);
  }
  return join(vclustersRoot(), name);
}

function existing(name: string): { dataDir: string; spec: VirtualClusterSpec } {
  const dataDir = dataDirOf(name);
  const spec = readSpec(dataDir);
  if (!spec) throw new CliError(`no virtual cluster named "${name}" (see \`kubenest list\`)`);
  return { dataDir, spec };
}

function hostClient(kubeconfig: string | undefined, context: string | undefined): KubeClient {
  try {
    return new KubeClient(loadRestConfig({ ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}) }));
  } catch (error) {
    if (error instanceof KubeconfigError) throw new CliError(`${error.message}\n  (the host cluster is taken from --kubeconfig/--context, else KUBECONFIG or ~/.kube/config; \`kubenest host up\` makes a local one)`);
    throw error;
  }
}

export interface CreateOptions {
  name: string;
  namespace?: string | undefined;
  values?: string[] | undefined;
  kubeconfig?: string | undefined;
  context?: string | undefined;
  binDir?: string | undefined;
}

/**
 * Creates the host namespace unless it exists; true if this call made it. A namespace still
 * being deleted (a `kubenest delete` moments ago) is waited for, then made again: objects
 * cannot be created in it while it terminates.
 */
async function ensureHostNamespace(host: KubeClient, namespace: string): Promise<boolean> {
  const namespaces = host.resourceFor(CORE['namespaces']!);
  const deadline = Date.now() + 120_000;
  let told = false;
  for (;;) {
    try {
      await namespaces.create({ metadata: { name: namespace } });
      return true;
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    let existing: KubeObject;
    try {
      existing = await namespaces.get(namespace);
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    if (!existing.metadata?.deletionTimestamp) return false;
    if (Date.now() > deadline) throw new CliError(`host namespace ${namespace} has been terminating for 2 minutes; check what holds it (\`kubectl get namespace ${namespace} -o yaml\`) or use another with -n`);
    if (!told) say(`waiting for host namespace ${namespace} to finish terminating`);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Checks everything a user can get wrong first, then starts the virtual cluster in the background. */
export async function createVirtualCluster(options: CreateOptions): Promise<VirtualClusterState> {
  const { name } = options;
  const dataDir = dataDirOf(name);
  if (readSpec(dataDir)) throw new CliError(`a virtual cluster named "${name}" already exists; use it (\`kubenest connect ${name}\`) or delete it first`);
  // A plugin's `path:` is relative to the values file that names it, which the merge forgets.
  const sources = (await loadValues(options.values ?? [])).sources.map(resolvePluginPaths);
  validateValues(sources);
  const merged = sources.reduce<Values>((acc, source) => mergeValues(acc, source.values), {});
  // Every plugin is found (and an image pulled into the cache) before anything is made.
  for (const entry of pluginEntries(merged)) {
    try {
      await pluginExecutable(entry, say);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  }
  const hostNamespace = options.namespace ?? `vcluster-${name}`;
  const kubeconfigPath = resolve(options.kubeconfig ?? process.env['KUBECONFIG']?.split(':')[0] ?? join(homedir(), '.kube', 'config'));
  const host = hostClient(kubeconfigPath, options.context);
  try {
    try {
      await host.rest.get('/version', { timeoutMs: 10_000 });
    } catch (error) {
      throw new CliError(`cannot reach the host cluster at ${host.rest.config.server} (${(error as Error).message}); start one with \`kubenest host up\` or pass --kubeconfig/--context`);
    }
    const createdNamespace = await ensureHostNamespace(host, hostNamespace);
    const serviceCidr = await detectServiceCidr(host, hostNamespace);
    say(`host ${host.rest.config.server}, namespace ${hostNamespace}${createdNamespace ? ' (created)' : ''}, service range ${serviceCidr}`);
    const binaries = await resolveBinaries({ binDir: options.binDir, progress: say });
    await writeSpec(dataDir, {
      name, hostNamespace, hostKubeconfig: kubeconfigPath, hostContext: options.context, createdNamespace, serviceCidr,
      values: merged, createdAt: new Date().toISOString(),
    });
    return await startInBackground(name, binaries.dir);
  } finally {
    await host.close();
  }
}

/** Starts an existing virtual cluster's supervisor (after `create`, or after a reboot). */
export function startInBackground(name: string, binDir: string): Promise<VirtualClusterState> {
  return runInBackground<VirtualClusterState>(['vcluster-run', name, '--bin-dir', binDir], clusterLayout(dataDirOf(name)));
}

export function isRunning(name: string): boolean {
  return isDaemonRunning(clusterLayout(dataDirOf(name)));
}

export function exists(name: string): boolean {
  return readSpec(dataDirOf(name)) !== undefined;
}

export function printVirtualReady(state: VirtualClusterState, name: string): void {
  console.log([
    '',
    `virtual cluster "${name}" ready: ${state.server} (syncing into ${state.hostNamespace})`,
    '',
    'use it with kubectl:',
    `  export KUBECONFIG=${state.kubeconfig}`,
    '  kubectl get namespaces',
    '',
    `list: kubenest list    delete: kubenest delete ${name}    logs: kubenest logs ${name}`,
  ].join('\n'));
}

/** The virtual-cluster commands, for the top-level program (typed loosely: each has its own arguments). */
export function vclusterCommands(): Command<unknown[], Record<string, unknown>>[] {
  const create = new Command('create')
    .description('create a virtual cluster on a host cluster and start it (in the background)')
    .argument('<name>', 'the virtual cluster\'s name (a DNS label)')
    .option('-n, --namespace <ns>', 'host namespace to sync into (default: vcluster-NAME; created if missing)')
    .option('-f, --values <file...>', 'vcluster.yaml-style values files or http(s) URLs, merged in order as Helm does')
    .option('--kubeconfig <file>', 'the host cluster\'s kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'context in that kubeconfig (default: its current context)')
    .option('--bin-dir <dir>', 'directory holding the Kubernetes binaries (env KUBENEST_BIN_DIR)')
    .action(async (name, options) => {
      const state = await createVirtualCluster({ name, ...options });
      printVirtualReady(state, name);
    });

  const runCommand = new Command('vcluster-run')
    .argument('<name>')
    .requiredOption('--bin-dir <dir>')
    .action(async (name, options) => {
      const { dataDir, spec } = existing(name);
      const binaries = await resolveBinaries({ binDir: options.binDir });
      await supervisedCommand<VirtualClusterState>((events) =>
        runSupervised(clusterLayout(dataDir), `virtual cluster ${name}`, () => startVirtualCluster(spec, dataDir, binaries, (line) => events.progress(line)), events));
    });

  const list = new Command('list')
    .description('list virtual clusters: name, host namespace, status, restarts, plugins running/configured, age')
    .option('--json', 'print as JSON')
    .action((options) => {
      const root = vclustersRoot();
      const rows = (existsSync(root) ? readdirSync(root) : []).flatMap((name) => {
        const dataDir = join(root, name);
        const spec = readSpec(dataDir);
        if (!spec) return [];
        const daemon = daemonStatus<VirtualClusterState>(clusterLayout(dataDir));
        // Component restarts by the supervisor, plus supervisor restarts by its keeper.
        const restarts = (daemon.state?.components.reduce((sum, c) => sum + c.restarts, 0) ?? 0) + daemon.supervisorRestarts;
        const configured = pluginEntries(spec.values).length;
        const plugins = daemon.phase === 'stopped' || daemon.phase === 'failed' ? [] : readPluginStatus(dataDir);
        return [{
          name, hostNamespace: spec.hostNamespace, status: daemon.phase, detail: daemon.detail, restarts,
          supervisorRestarts: daemon.supervisorRestarts, lastRestartAt: daemon.lastRestartAt, age: age(spec.createdAt),
          plugins: configured === 0 ? '-' : `${plugins.filter((p) => p.state === 'running').length}/${configured}`,
          pluginRestarts: plugins.reduce((sum, p) => sum + p.restarts, 0),
        }];
      });
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) {
        console.log('no virtual clusters (create one with `kubenest create NAME`)');
        return;
      }
      console.log(`${'NAME'.padEnd(20)} ${'HOST NAMESPACE'.padEnd(24)} ${'STATUS'.padEnd(12)} ${'RESTARTS'.padEnd(9)} ${'PLUGINS'.padEnd(8)} ${'AGE'.padEnd(5)} DETAIL`);
      for (const r of rows) {
        const detail = r.status === 'failed' ? `${r.detail ?? ''}; start it again with \`kubenest up --name ${r.name}\``
          : r.detail ?? (r.supervisorRestarts > 0 && r.lastRestartAt ? `supervisor restarted ${r.supervisorRestarts}x, last ${age(r.lastRestartAt)} ago` : '');
        console.log(`${r.name.padEnd(20)} ${r.hostNamespace.padEnd(24)} ${r.status.padEnd(12)} ${String(r.restarts).padEnd(9)} ${r.plugins.padEnd(8)} ${r.age.padEnd(5)} ${detail}`.trimEnd());
      }
    });

  const connect = new Command('connect')
    .description('print the kubeconfig of a virtual cluster, or how to use it')
    .argument('<name>')
    .option('--print', 'print the kubeconfig itself (to redirect into a file)')
    .action((name, options) => {
      const { dataDir } = existing(name);
      const kubeconfig = clusterLayout(dataDir).kubeconfig;
      if (options.print) process.stdout.write(readFileSync(kubeconfig, 'utf8'));
      else console.log(`export KUBECONFIG=${kubeconfig}`);
    });

  const remove = new Command('delete')
    .description('stop a virtual cluster and delete everything it created on the host (a host namespace that existed before is kept)')
    .argument('<name>')
    .action(async (name) => {
      const { dataDir, spec } = existing(name);
      await stopDaemon(dataDir, say);
      const host = hostClient(spec.hostKubeconfig, spec.hostContext);
      let namespace: Awaited<ReturnType<typeof deleteHostObjects>>;
      try {
        namespace = await deleteHostObjects(host, spec);
      } catch (error) {
        throw new CliError(`stopped "${name}", but could not clean up the host (${(error as Error).message}); its data dir ${dataDir} is kept, run \`kubenest delete ${name}\` again once the host is reachable`);
      } finally {
        await host.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
      const note = namespace === 'deleted' ? ` (and host namespace ${spec.hostNamespace})`
        : namespace === 'kept-shared' ? ` (host namespace ${spec.hostNamespace} kept: other virtual clusters use it)` : '';
      say(`virtual cluster "${name}" deleted${note}`);
    });

  const logs = new Command('logs')
    .description('print a virtual cluster\'s logs (the supervisor and syncer by default)')
    .argument('<name>')
    .option('--component <component>', 'kine, kube-apiserver, kube-controller-manager, or plugin/NAME (a plugin\'s own log)')
    .action((name, options) => {
      const { dataDir, spec } = existing(name);
      const component = options.component ?? 'kubenest';
      const plugins = pluginEntries(spec.values).map((entry) => `plugin/${entry.name}`);
      if (!['kubenest', 'kine', 'kube-apiserver', 'kube-controller-manager', ...plugins].includes(component)) {
        throw new CliError(`no component "${component}" in "${name}"; components: kine, kube-apiserver, kube-controller-manager${plugins.length ? `, ${plugins.join(', ')}` : ''}`);
      }
      const file = join(clusterLayout(dataDir).logsDir, `${component}.log`);
      if (!existsSync(file)) throw new CliError(`no log ${file} yet${component.startsWith('plugin/') ? ' (the plugin has not been started)' : ''}`);
      process.stdout.write(readFileSync(file, 'utf8'));
    });

  const plugins = new Command('plugins')
    .description('show a virtual cluster\'s plugins: state, pid, restarts, registered hooks and interceptors, last error')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action((name, options) => {
      const { dataDir, spec } = existing(name);
      const configured = pluginEntries(spec.values);
      const running = isRunning(name);
      const known = new Map(readPluginStatus(dataDir).map((p) => [p.name, p]));
      const rows = configured.map((entry) => {
        const status = known.get(entry.name);
        return {
          name: entry.name, source: entry.path ?? entry.image ?? '', state: running ? status?.state ?? 'not started' : 'stopped',
          pid: running ? status?.pid : undefined, restarts: status?.restarts ?? 0, leader: running && (status?.leader ?? false),
          failurePolicy: entry.failurePolicy, timeoutSeconds: entry.timeoutMs / 1000, port: status?.port,
          hooks: status?.hooks ?? [], interceptors: status?.interceptors ?? [], lastError: status?.lastError, startedAt: status?.startedAt,
        };
      });
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) {
        console.log(`"${name}" has no plugins (add them with \`kubenest create ${name} -f plugin.yaml\`)`);
        return;
      }
      const metrics = running ? readJson<{ metricsUrl?: string }>(clusterLayout(dataDir).stateFile)?.metricsUrl : undefined;
      if (metrics) console.log(`metrics (the syncer's endpoint: calls, refusals, latency per plugin and hook type): ${metrics}\n`);
      for (const r of rows) {
        console.log(`${r.name}: ${r.state}${r.pid ? ` (pid ${r.pid})` : ''}, restarts ${r.restarts}${r.leader ? ', leader' : ''}, failurePolicy ${r.failurePolicy}, timeout ${r.timeoutSeconds}s`);
        console.log(`  source:       ${r.source}`);
        console.log(`  hooks:        ${r.hooks.length ? r.hooks.map((h) => `${h.apiVersion}/${h.kind} [${h.types.join(', ')}]`).join('; ') : '(none)'}`);
        console.log(`  interceptors: ${r.interceptors.length ? r.interceptors.join(', ') : '(none)'}`);
        if (r.lastError) console.log(`  last error:   ${r.lastError}`);
        console.log(`  log:          kubenest logs ${name} --component plugin/${r.name}`);
      }
    });

  return [create, runCommand, list, connect, remove, logs, plugins];
}

function readPluginStatus(dataDir: string): PluginStatus[] {
  return readJson<PluginStatus[]>(pluginStatusFile(dataDir)) ?? [];
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function age(since: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

