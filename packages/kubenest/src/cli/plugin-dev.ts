/**
 * `kubenest plugin dev [DIR]`: the plugin from source in a local virtual cluster, restarted when a
 * file of it changes, its log streamed. The virtual cluster (`demo` unless --name) is made with the
 * plugin when missing, host included. The plugin runs from an esbuild bundle of its entry
 * (DIR/.kubenest/dev/plugin.mjs, with a source map), made again on each save: starting one bundled
 * module takes Node a fraction of what loading the SDK's TypeScript files one by one takes. A save
 * that does not bundle is reported and the plugin keeps running its last good build; one that does
 * ends the plugin's process, and the plugin host starts it again (after 200 ms, ADR 17) on the new
 * bundle: Initialize, GetPluginConfig, SetLeader, as after a crash (ADR 29).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { clusterLayout } from '../controlplane/control-plane.ts';
import { isDaemonRunning } from '../controlplane/daemon.ts';
import { signalProcess } from '../controlplane/pids.ts';
import { readSpec } from '../controlplane/virtual-cluster.ts';
import { pluginStatusFile } from '../plugins/files.ts';
import type { PluginStatus } from '../plugins/host.ts';
import { PluginBuildError, bundlePlugin, pluginEntry } from '../plugins/build/index.ts';
import { pluginProjectEntry } from '../plugins/build/scaffold.ts';
import { defaultHostDir, startHostInBackground } from './host.ts';
import { CliError, say } from './output.ts';
import { createVirtualCluster, isRunning, startInBackground, vclustersRoot } from './vcluster.ts';

/** Paths under the project that are not its source. */
const IGNORED = /(^|\/)(node_modules|dist|\.git|\.kubenest)(\/|$)|(^|\/)\.[^/]*$|~$|\.swp$/;

export interface DevOptions { dir: string; name: string; binDir?: string | undefined; nodes: number }

function readStatus(dataDir: string, plugin: string): PluginStatus | undefined {
  try {
    const rows = JSON.parse(readFileSync(pluginStatusFile(dataDir), 'utf8')) as PluginStatus[];
    return rows.find((r) => r.name === plugin);
  } catch {
    return undefined;
  }
}

/** Waits until the plugin runs in a process other than `notPid`; returns its status. */
async function running(dataDir: string, plugin: string, notPid: number | undefined, timeoutMs: number): Promise<PluginStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = readStatus(dataDir, plugin);
    if (status?.state === 'running' && status.pid !== undefined && status.pid !== notPid) return status;
    if (Date.now() > deadline) throw new CliError(`plugin "${plugin}" is not running after ${timeoutMs / 1000} s (${status ? `${status.state}${status.lastError ? `: ${status.lastError}` : ''}` : 'no status'}); see \`kubenest plugins\` and \`kubenest logs --component plugin/${plugin}\``);
    await sleep(25);
  }
}

/** Prints the plugin's log lines (the plugin host's JSON lines) as they are appended. */
function follow(file: string, print: (line: string) => void, fromStart: boolean): () => void {
  let offset = !fromStart && existsSync(file) ? statSync(file).size : 0;
  let pending = '';
  const timer = setInterval(() => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) offset = 0;
    if (size === offset) return;
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    closeSync(fd);
    offset = size;
    pending += buffer.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) print(line);
  }, 100);
  return () => clearInterval(timer);
}

export function formatLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown> & { level?: number; msg?: string; time?: string | number };
    const level = ({ 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[entry.level ?? 30] ?? 'info';
    const extra = Object.fromEntries(Object.entries(entry).filter(([k]) => !['level', 'msg', 'time', 'pid', 'hostname', 'name', 'component', 'plugin', 'pluginTime'].includes(k)));
    return `${level.padEnd(5)} ${entry.msg ?? ''}${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ''}`;
  } catch {
    return line;
  }
}

/** A word for /bin/sh: single-quoted. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** Bundles the plugin's entry into DIR/.kubenest/dev/plugin.mjs (written whole, then renamed into place). */
async function rebundle(entry: string, bundleFile: string): Promise<void> {
  const code = await bundlePlugin(entry, { forFile: true });
  writeFileSync(`${bundleFile}.tmp`, code);
  renameSync(`${bundleFile}.tmp`, bundleFile);
}

export async function pluginDev(options: DevOptions): Promise<void> {
  const dir = resolve(options.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`${dir} is not a directory; give the plugin project's directory`);
  let entry: string;
  try {
    entry = pluginEntry(dir);
  } catch (error) {
    if (error instanceof PluginBuildError) throw new CliError(error.message);
    throw error;
  }
  const project = pluginProjectEntry(dir);
  const plugin = project.name;
  // The executable the plugin host runs: Node on the current bundle.
  const devDir = join(dir, '.kubenest', 'dev');
  const bundleFile = join(devDir, 'plugin.mjs');
  const executable = join(devDir, 'plugin');
  mkdirSync(devDir, { recursive: true });
  try {
    await rebundle(entry, bundleFile);
  } catch (error) {
    if (error instanceof PluginBuildError) throw new CliError(error.message);
    throw error;
  }
  writeFileSync(executable, `#!/bin/sh\n# kubenest plugin dev: ${entry}, bundled on each save\nexec ${shellWord(process.execPath)} --enable-source-maps ${shellWord(bundleFile)}\n`);
  chmodSync(executable, 0o755);
  const binaries = await resolveBinaries({ binDir: options.binDir, progress: say });
  const hostDir = defaultHostDir();
  if (!isDaemonRunning(clusterLayout(hostDir))) await startHostInBackground(hostDir, binaries.dir, options.nodes, undefined, false);
  const dataDir = join(vclustersRoot(), options.name);
  const spec = readSpec(dataDir);
  const created = !spec;
  if (!spec) {
    // plugin.yaml's entry (config, rbac), run from the dev bundle: `path:` the executable itself, so
    // the plugin host does not copy the project (node_modules, dist) at each start.
    const values: Record<string, unknown> = { ...project.entry, path: executable };
    delete values['image'];
    const tmp = mkdtempSync(join(tmpdir(), 'kn-dev-'));
    try {
      writeFileSync(join(tmp, 'values.yaml'), stringify({ plugins: { [plugin]: values } }));
      say(`creating virtual cluster "${options.name}" with plugin ${plugin} from ${dir}`);
      await createVirtualCluster({ name: options.name, values: [join(tmp, 'values.yaml')], kubeconfig: clusterLayout(hostDir).kubeconfig, binDir: binaries.dir });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    const configured = (spec.values['plugins'] as Record<string, { path?: string }> | undefined)?.[plugin];
    if (!configured || resolve(configured.path ?? '') !== executable) {
      throw new CliError(`virtual cluster "${options.name}" exists without plugin "${plugin}" running ${executable}; pick another with --name NEW (made with the plugin), or \`kubenest delete ${options.name}\``);
    }
    if (!isRunning(options.name)) await startInBackground(options.name, binaries.dir);
  }
  let status = await running(dataDir, plugin, undefined, 300_000);
  const logFile = join(clusterLayout(dataDir).logsDir, 'plugin', `${plugin}.log`);
  // A cluster made here: its plugin's whole log; one that was there: from now on.
  const stopFollowing = follow(logFile, (line) => process.stdout.write(`[${plugin}] ${formatLogLine(line)}\n`), created);
  say(`plugin ${plugin} running (pid ${status.pid}) in virtual cluster "${options.name}": export KUBECONFIG=${clusterLayout(dataDir).kubeconfig}`);
  say(`watching ${dir} for changes (Ctrl-C stops watching; the cluster stays: kubenest delete ${options.name})`);

  let restarting = false;
  let again = false;
  const restart = async (file: string): Promise<void> => {
    if (restarting) { again = true; return; }
    restarting = true;
    try {
      do {
        again = false;
        const changedAt = performance.now();
        const old = readStatus(dataDir, plugin);
        try {
          await rebundle(entry, bundleFile);
        } catch (error) {
          say(`${file} changed, and ${(error as Error).message}\n  the plugin keeps running its last good build; fix the source and save again`);
          continue;
        }
        say(`${file} changed: restarting plugin ${plugin}`);
        if (old?.pid) {
          try { signalProcess(old.pid, 'SIGTERM'); } catch { /* already gone */ }
        }
        try {
          status = await running(dataDir, plugin, old?.pid, 120_000);
          say(`plugin ${plugin} restarted in ${Math.round(performance.now() - changedAt)} ms (pid ${status.pid}; change to bundled, restarted and running with its hooks registered)`);
        } catch (error) {
          say(`${(error as Error).message}; fix the source and save again`);
        }
      } while (again);
    } finally {
      restarting = false;
    }
  };
  let debounce: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dir, { recursive: true }, (_event, filename) => {
    if (!filename) return;
    const file = relative(dir, join(dir, filename.toString()));
    if (IGNORED.test(file)) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => { void restart(file); }, 50);
  });
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  watcher.close();
  clearTimeout(debounce);
  stopFollowing();
  say(`stopped watching; virtual cluster "${options.name}" and plugin ${plugin} keep running (kubenest delete ${options.name})`);
}
