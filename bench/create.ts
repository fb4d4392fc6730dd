// Measures `kubenest create` to ready with a warm binary cache: the wall time of the CLI command
// (it returns once the virtual API answers and the syncers have synced once) on a running local
// host, over several rounds with a `kubenest delete` between them, plus the time until a first
// Deployment of that virtual cluster has a Running pod. Baseline in the same rounds: kine +
// kube-apiserver alone to /readyz, the floor of any control plane start.
//
//   ./bench/run create [--rounds 3]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cliSandbox, run, testBinaries } from '@kubenest/testing';
import { apiserverOnly } from './baselines.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const sandbox = await cliSandbox('kn-bench-create-');
try {
  if ((await sandbox.cli('host', 'up', '--nodes', '1')).code !== 0) throw new Error('host up failed');
  const createSeconds: number[] = [];
  const firstPodSeconds: number[] = [];
  const baselineSeconds: number[] = [];
  const binaries = await testBinaries();
  for (let round = 0; round < rounds; round++) {
    console.error(`round ${round + 1}/${rounds}`);
    const started = performance.now();
    const created = await sandbox.cli('create', 'bench', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'));
    if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
    createSeconds.push((performance.now() - started) / 1000);
    const kubeconfig = join(sandbox.vclustersDir, 'bench', 'kubeconfig');
    const podStarted = performance.now();
    await run('kubectl', ['--kubeconfig', kubeconfig, 'create', 'deployment', 'first', '--image=nginx']);
    const ready = await run('kubectl', ['--kubeconfig', kubeconfig, 'rollout', 'status', 'deployment/first', '--timeout=120s']);
    if (ready.code !== 0) throw new Error(`rollout failed: ${ready.stderr}`);
    firstPodSeconds.push((performance.now() - podStarted) / 1000);
    if ((await sandbox.cli('delete', 'bench')).code !== 0) throw new Error('delete failed');
    baselineSeconds.push((await apiserverOnly(binaries)) / 1000);
  }
  const round1 = (xs: number[]): number[] => xs.map((x) => Math.round(x * 10) / 10);
  console.log(JSON.stringify({
    rounds, createToReadySeconds: round1(createSeconds), firstDeploymentRunningSeconds: round1(firstPodSeconds),
    baselineBareApiserverSeconds: round1(baselineSeconds),
    ratios: createSeconds.map((c, i) => Math.round((c / baselineSeconds[i]!) * 100) / 100),
  }, null, 2));
} finally {
  await sandbox.dispose([]);
}
