import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { RestClient, loadKubeconfig } from '@kubenest/kube';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { clusterLayout, prepareDataDir } from '../controlplane/control-plane.ts';
import { daemonPid, daemonStatus, runHostDaemon, stopDaemon, type HostState, type Phase } from '../controlplane/daemon.ts';
import { runInBackground, supervisedCommand } from './background.ts';
import { CliError, say } from './output.ts';

export function defaultHostDir(): string {
  return process.env['KUBENEST_HOST_DIR'] ?? join(process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'kubenest', 'host');
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new InvalidArgumentError('expected a whole number from 0 to 1000');
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a TCP port from 1 to 65535');
  return n;
}

export function hostCommand(): Command {
  const host = new Command('host').description('a local host cluster: real kube-apiserver, controller-manager, scheduler, kine and kwok nodes');
  const dataDirOption = ['--data-dir <dir>', 'where the cluster keeps its state, logs and kubeconfig (env KUBENEST_HOST_DIR)', defaultHostDir()] as const;

  host.command('up')
    .description('start the host cluster (in the background) and print how to use it with kubectl')
    .option(...dataDirOption)
    .option('--nodes <n>', 'number of simulated (kwok) nodes', parseCount, 1)
    .option('--port <port>', 'kube-apiserver port on 127.0.0.1 (default: the last one used, else a free one)', parsePort)
    .option('--bin-dir <dir>', 'directory holding the Kubernetes binaries (env KUBENEST_BIN_DIR; default: the cache, built on first use)')
    .option('--foreground', 'run in the foreground until Ctrl-C instead of in the background')
    .action(async (options) => {
      const dataDir = resolve(options.dataDir);
      prepareDataDir(clusterLayout(dataDir));
      const { keeper, supervisor } = daemonPid(clusterLayout(dataDir));
      if (keeper !== undefined || supervisor !== undefined) {
        throw new CliError(`a host cluster is already running from ${dataDir} (${supervisor !== undefined ? `supervisor pid ${supervisor}` : `being recovered by keeper pid ${keeper}`}); ` +
          `\`kubenest host status --data-dir ${dataDir}\` shows it, \`kubenest host down --data-dir ${dataDir}\` stops it`);
      }
      const binaries = await resolveBinaries({ binDir: options.binDir, progress: say });
      if (options.foreground) {
        const code = await runHostDaemon(
          { dataDir, binaries, nodes: options.nodes, apiserverPort: options.port },
          { progress: say, ready: (state) => printReady(state, dataDir, true) },
        );
        process.exit(code);
      }
      await startHostInBackground(dataDir, binaries.dir, options.nodes, options.port);
    });

  // The background process that `host up` starts; not meant to be typed by hand.
  host.command('run', { hidden: true })
    .requiredOption('--data-dir <dir>')
    .requiredOption('--bin-dir <dir>')
    .option('--nodes <n>', '', parseCount, 1)
    .option('--port <port>', '', parsePort)
    .action(async (options) => {
      const binaries = await resolveBinaries({ binDir: options.binDir });
      await supervisedCommand((events) => runHostDaemon(
        { dataDir: options.dataDir, binaries, nodes: options.nodes, apiserverPort: options.port }, events));
    });

  host.command('down')
    .description('stop the host cluster; its objects stay in the data dir for the next `host up`')
    .option(...dataDirOption)
    .action(async (options) => {
      const result = await stopDaemon(options.dataDir, say);
      say(result === 'stopped' ? 'host cluster stopped' : `no host cluster is running from ${resolve(options.dataDir)}`);
    });

  host.command('status')
    .description('show whether the host cluster runs, its components, and its nodes (exit 0 running, 1 starting, recovering, degraded or stopping, 2 failed, 3 stopped)')
    .option(...dataDirOption)
    .option('--json', 'print the status as JSON')
    .action(async (options) => {
      const report = await hostStatus(options.dataDir);
      if (options.json) console.log(JSON.stringify(report, null, 2));
      else printStatus(report);
      process.exitCode = { running: 0, starting: 1, recovering: 1, degraded: 1, stopping: 1, failed: 2, stopped: 3 }[report.status];
    });
  return host;
}

export async function startHostInBackground(dataDir: string, binDir: string, nodes: number, port: number | undefined, print = true): Promise<HostState> {
  const args = ['host', 'run', '--data-dir', dataDir, '--bin-dir', binDir, '--nodes', String(nodes)];
  if (port !== undefined) args.push('--port', String(port));
  const state = await runInBackground<HostState>(args, clusterLayout(dataDir));
  if (print) printReady(state, dataDir, false);
  return state;
}

function printReady(state: HostState, dataDir: string, foreground: boolean): void {
  const dirFlag = dataDir === defaultHostDir() ? '' : ` --data-dir ${dataDir}`;
  console.log([
    '',
    `host cluster ready: ${state.server}, ${state.nodes.length} node(s)`,
    '',
    'use it with kubectl:',
    `  export KUBECONFIG=${state.kubeconfig}`,
    '  kubectl get nodes',
    '  kubectl create deployment web --image=nginx --replicas=3',
    '',
    foreground ? 'press Ctrl-C to stop it' : `stop it with: kubenest host down${dirFlag}    status: kubenest host status${dirFlag}`,
    `logs: ${join(dataDir, 'logs')}/`,
  ].join('\n'));
}

interface StatusReport {
  status: Phase;
  /** recovering: since when and why; degraded: what is down; failed: why. */
  detail?: string | undefined;
  dataDir: string;
  supervisorPid?: number | undefined;
  keeperPid?: number | undefined;
  /** Times the supervisor was started again after a crash, and the last time. */
  supervisorRestarts: number;
  lastRestartAt?: string | undefined;
  server?: string | undefined;
  kubeconfig?: string | undefined;
  /** 'ready', or why not. */
  apiserver?: string;
  nodes?: { name: string; ready: boolean }[];
  components?: HostState['components'];
}

async function hostStatus(dataDirOption: string): Promise<StatusReport> {
  const layout = clusterLayout(dataDirOption);
  const daemon = daemonStatus<HostState>(layout);
  const report: StatusReport = {
    status: daemon.phase, detail: daemon.detail, dataDir: layout.dataDir, supervisorPid: daemon.supervisorPid, keeperPid: daemon.keeperPid,
    supervisorRestarts: daemon.supervisorRestarts, lastRestartAt: daemon.lastRestartAt,
  };
  const state = daemon.state;
  if (!state) return report;
  report.server = state.server;
  report.kubeconfig = state.kubeconfig;
  report.components = state.components;
  const client = new RestClient(loadKubeconfig(state.kubeconfig));
  try {
    const readyz = await client.raw('GET', '/readyz', { timeoutMs: 3_000 });
    report.apiserver = readyz.status === 200 ? 'ready' : `not ready (${readyz.status})`;
    const nodes = await client.get<{ items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] }>(
      '/api/v1/nodes', { timeoutMs: 3_000, query: { labelSelector: 'type=kwok' } });
    report.nodes = nodes.items.map((n) => ({ name: n.metadata.name, ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false }));
  } catch (error) {
    report.apiserver = `unreachable (${(error as Error).message})`;
  } finally {
    await client.close();
  }
  if (report.status === 'running') {
    const notReady = (report.nodes ?? []).filter((n) => !n.ready).map((n) => n.name);
    const problems = [...(report.apiserver !== 'ready' ? [`apiserver ${report.apiserver}`] : []), ...(notReady.length > 0 ? [`node(s) not Ready: ${notReady.join(', ')}`] : [])];
    if (problems.length > 0) {
      report.status = 'degraded';
      report.detail = problems.join('; ');
    }
  }
  return report;
}

function printStatus(report: StatusReport): void {
  const restarts = report.supervisorRestarts > 0 ? `, supervisor restarted ${report.supervisorRestarts}x, last at ${report.lastRestartAt}` : '';
  const hint = report.status === 'failed' ? `; start it again with \`kubenest host up${report.dataDir === resolve(defaultHostDir()) ? '' : ` --data-dir ${report.dataDir}`}\`` : '';
  const headline = `host cluster: ${report.status}${report.detail ? ` (${report.detail}${hint})` : ''}`;
  if (!report.components) {
    const pids = [report.supervisorPid ? `supervisor pid ${report.supervisorPid}` : '', report.keeperPid ? `keeper pid ${report.keeperPid}` : ''].filter(Boolean);
    console.log(`${headline}\n  data dir:   ${report.dataDir}${pids.length ? `\n  processes:  ${pids.join(', ')}` : ''}${restarts ? `\n  restarts:   ${restarts.slice(2)}` : ''}`);
    return;
  }
  const nodes = report.nodes ?? [];
  console.log([
    headline,
    `  supervisor: pid ${report.supervisorPid}${report.keeperPid ? ` (keeper pid ${report.keeperPid})` : ''}${restarts}`,
    `  data dir:   ${report.dataDir}`,
    `  server:     ${report.server}  (apiserver ${report.apiserver})`,
    `  kubeconfig: ${report.kubeconfig}`,
    `  nodes:      ${nodes.filter((n) => n.ready).length} Ready of ${nodes.length}`,
    '  components:',
    ...(report.components ?? []).map((c) =>
      `    ${c.name.padEnd(24)} ${c.state.padEnd(10)} pid ${String(c.pid ?? '-').padEnd(8)} restarts ${c.restarts}` +
      (c.lastExit && (c.state !== 'running' || c.restarts > 0) ? `  last exit: code ${c.lastExit.code} signal ${c.lastExit.signal} at ${c.lastExit.at}` : '')),
  ].join('\n'));
}
