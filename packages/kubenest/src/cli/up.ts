import { join } from 'node:path';
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { clusterLayout } from '../controlplane/control-plane.ts';
import { isDaemonRunning } from '../controlplane/daemon.ts';
import { defaultHostDir, startHostInBackground } from './host.ts';
import { say } from './output.ts';
import { createVirtualCluster, exists, isRunning, startInBackground, vclustersRoot } from './vcluster.ts';

/** The main job in one command: a local host cluster and a virtual cluster on it, ready for kubectl. */
export function upCommand(): Command<[], { name: string; nodes: number; values?: string[]; binDir?: string }> {
  return new Command('up')
    .description('start a local host cluster and a virtual cluster on it (both in the background), ready for kubectl')
    .option('--name <name>', 'the virtual cluster\'s name', 'demo')
    .option('--nodes <n>', 'simulated nodes of the host cluster (when it is started here)', (value) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
      return n;
    }, 2)
    .option('-f, --values <file...>', 'values files for the virtual cluster (when it is created here)')
    .option('--bin-dir <dir>', 'directory holding the Kubernetes binaries (env KUBENEST_BIN_DIR)')
    .action(async (options) => {
      const binaries = await resolveBinaries({ binDir: options.binDir, progress: say });
      const hostDir = defaultHostDir();
      const hostKubeconfig = clusterLayout(hostDir).kubeconfig;
      if (isDaemonRunning(clusterLayout(hostDir))) say(`host cluster already running (${hostDir})`);
      else await startHostInBackground(hostDir, binaries.dir, options.nodes, undefined, false);

      const name = options.name;
      if (!exists(name)) {
        await createVirtualCluster({ name, values: options.values, kubeconfig: hostKubeconfig, binDir: binaries.dir });
      } else if (!isRunning(name)) {
        say(`virtual cluster "${name}" exists; starting it`);
        await startInBackground(name, binaries.dir);
      } else {
        say(`virtual cluster "${name}" already running`);
      }
      const virtualKubeconfig = clusterLayout(join(vclustersRoot(), name)).kubeconfig;
      console.log([
        '',
        'ready. The virtual cluster:',
        `  export KUBECONFIG=${virtualKubeconfig}`,
        '  kubectl create deployment web --image=nginx --replicas=3',
        '  kubectl get pods -o wide            # Running, on virtual nodes',
        'The host cluster it syncs to (the same pods, under translated names):',
        `  kubectl --kubeconfig ${hostKubeconfig} get pods -n vcluster-${name}`,
        '',
        `stop: kubenest delete ${name}; kubenest host down    status: kubenest list; kubenest host status`,
      ].join('\n'));
    });
}
