import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { RestClient, loadKubeconfig } from '@kubenest/kube';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { clusterLayout, prepareDataDir } from '../controlplane/control-plane.ts';
import { readLockPid, readState, runHostDaemon, stopDaemon, type HostState } from '../controlplane/daemon.ts';
import { isAlive } from '../controlplane/pids.ts';
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
      const running = readLockPid(clusterLayout(dataDir));
      if (running !== undefined && isAlive(running)) {
        throw new CliError(`a host cluster is already running from ${dataDir} (supervisor pid ${running}); ` +
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
    .description('show whether the host cluster runs, its components, and its nodes (exit 0 running, 1 starting or degraded, 3 stopped)')
    .option(...dataDirOption)
    .option('--json', 'print the status as JSON')
    .action(async (options) => {
      const report = await hostStatus(options.dataDir);
      if (options.json) console.log(JSON.stringify(report, null, 2));
      else printStatus(report);
      process.exitCode = report.status === 'running' ? 0 : report.status === 'degraded' ? 1 : 3;
    });
  return host;
}

export async function startHostInBackground(dataDir: string, binDir: string, nodes: number, port: number | undefined, print = true): Promise<HostState> {
  const args = ['host', 'run', '--data-dir', dataDir, '--bin-dir', binDir, '--nodes', String(nodes)];
  if (port !== undefined) args.push('--port', String(port));
  const state = await runInBackground<HostState>(args, clusterLayout(dataDir).logsDir);
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
  status: 'running' | 'starting' | 'degraded' | 'stopped';
  dataDir: string;
  supervisorPid?: number | undefined;
  server?: string | undefined;
  kubeconfig?: string | undefined;
  /** 'ready', or why not. */
  apiserver?: string;
  nodes?: { name: string; ready: boolean }[];
  components?: HostState['components'];
}

async function hostStatus(dataDirOption: string): Promise<StatusReport> {
  const layout = clusterLayout(dataDirOption);
  const pid = readLockPid(layout);
  const state = readState(layout);
  if (pid === undefined || !isAlive(pid)) return { status: 'stopped', dataDir: layout.dataDir };
  // The supervisor writes its state once the cluster is ready; until then it is starting.
  if (!state) return { status: 'starting', dataDir: layout.dataDir, supervisorPid: pid };
  const report: StatusReport = {
    status: 'running', dataDir: layout.dataDir, supervisorPid: pid, server: state.server, kubeconfig: state.kubeconfig,
    components: state.components,
  };
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
  const componentsUp = state.components.every((c) => c.state === 'running' || c.state === 'starting');
  if (report.apiserver !== 'ready' || !componentsUp || report.nodes?.some((n) => !n.ready)) report.status = 'degraded';
  return report;
}

function printStatus(report: StatusReport): void {
  if (report.status === 'stopped' || report.status === 'starting') {
    console.log(`host cluster: ${report.status} (data dir ${report.dataDir}${report.supervisorPid ? `, supervisor pid ${report.supervisorPid}` : ''})`);
    return;
  }
  const nodes = report.nodes ?? [];
  console.log([
    `host cluster: ${report.status} (supervisor pid ${report.supervisorPid})`,
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
