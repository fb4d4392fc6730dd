/**
 * `kubenest plugin dev [DIR]`: the plugin from source in a local virtual cluster, restarted when a
 * file of it changes, its log streamed. The virtual cluster (`demo` unless --name) is made with the
 * plugin (`path:` its executable `plugin`, which runs plugin.ts) when missing, host included. A
 * change ends the plugin's process; the plugin host starts it again (after 200 ms, ADR 17) with the
 * new source: Initialize, GetPluginConfig, SetLeader, as after a crash.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { clusterLayout } from '../controlplane/control-plane.ts';
import { isDaemonRunning } from '../controlplane/daemon.ts';
import { readSpec } from '../controlplane/virtual-cluster.ts';
import { pluginStatusFile } from '../plugins/files.ts';
import type { PluginStatus } from '../plugins/host.ts';
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

export async function pluginDev(options: DevOptions): Promise<void> {
  const dir = resolve(options.dir);
  const executable = join(dir, 'plugin');
  if (!existsSync(executable)) throw new CliError(`${executable} is missing: \`kubenest plugin dev\` runs the plugin's directory from source through its executable \`plugin\` (\`kubenest plugin init\` writes one that runs plugin.ts)`);
  const project = pluginProjectEntry(dir);
  const plugin = project.name;
  const binaries = await resolveBinaries({ binDir: options.binDir, progress: say });
  const hostDir = defaultHostDir();
  if (!isDaemonRunning(clusterLayout(hostDir))) await startHostInBackground(hostDir, binaries.dir, options.nodes, undefined, false);
  const dataDir = join(vclustersRoot(), options.name);
  const spec = readSpec(dataDir);
  const created = !spec;
  if (!spec) {
    // plugin.yaml's entry (config, rbac), run from source: `path:` the executable itself, so the
    // plugin host does not copy the project (node_modules, dist) at each start.
    const entry: Record<string, unknown> = { ...project.entry, path: executable };
    delete entry['image'];
    const tmp = mkdtempSync(join(tmpdir(), 'kn-dev-'));
    try {
      writeFileSync(join(tmp, 'values.yaml'), stringify({ plugins: { [plugin]: entry } }));
      say(`creating virtual cluster "${options.name}" with plugin ${plugin} from ${dir}`);
      await createVirtualCluster({ name: options.name, values: [join(tmp, 'values.yaml')], kubeconfig: clusterLayout(hostDir).kubeconfig, binDir: binaries.dir });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    const entry = (spec.values['plugins'] as Record<string, { path?: string }> | undefined)?.[plugin];
    if (!entry || resolve(entry.path ?? '') !== executable) {
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
        say(`${file} changed: restarting plugin ${plugin}`);
        if (old?.pid) {
          try { process.kill(old.pid, 'SIGTERM'); } catch { /* already gone */ }
        }
        try {
          status = await running(dataDir, plugin, old?.pid, 120_000);
          say(`plugin ${plugin} restarted in ${Math.round(performance.now() - changedAt)} ms (pid ${status.pid}; change to running with its hooks registered)`);
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
