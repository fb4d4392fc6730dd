// Issue 10 "Figures": an intercepted GET's round trip through the front door, with its baselines
// measured in the same run against the same virtual cluster (`kubenest up` with our Go test plugin
// kntest and its interceptors, in a private temporary host and virtual-cluster directory):
//   - intercepted: GET /api/v1/namespaces/default/pods/kntest-pod through the front door, which
//     authorises it (a SubjectAccessReview) and proxies it to the plugin's port;
//   - plugin direct: the same request straight to the plugin's port (plain HTTP on 127.0.0.1);
//   - forwarded: GET of a real ConfigMap through the front door (authenticated, forwarded);
//   - apiserver direct: the same ConfigMap straight from the virtual kube-apiserver.
// Sequential requests on one keep-alive connection each, after a warm-up.
//
//   ./bench/run interceptors [--requests 2000]
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadKubeconfig } from '@kubenest/kube';
import { cliSandbox, run, testPlugins } from '@kubenest/testing';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const requests = Number(values.requests);

const sandbox = await cliSandbox('kn-bench-icpt-');
try {
  const kntest = join(await testPlugins(), 'kntest');
  const valuesFile = join(sandbox.dir, 'values.yaml');
  writeFileSync(valuesFile, `plugins:\n  kntest:\n    path: ${kntest}\n    config: {label: bench, interceptor: true}\n`);
  process.stderr.write('  kubenest up (host, virtual cluster, kntest)\n');
  const up = await sandbox.cli('up', '--nodes', '1', '-f', valuesFile);
  if (up.code !== 0) throw new Error(`kubenest up failed: ${up.stderr}`);
  const kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
  const state = JSON.parse(readFileSync(join(sandbox.vclustersDir, 'demo', 'run', 'state.json'), 'utf8')) as { server: string; apiserver: string };
  const config = loadKubeconfig(kubeconfig);
  const tls = { ca: config.caData, cert: config.clientCertData, key: config.clientKeyData };
  const plugins = await sandbox.cli('plugins', 'demo', '--json');
  const port = (JSON.parse(plugins.stdout) as { port: number }[])[0]!.port;
  await run('kubectl', ['--kubeconfig', kubeconfig, 'create', 'configmap', 'bench', '--from-literal=k=v']);

  const pod = '/api/v1/namespaces/default/pods/kntest-pod';
  const configMap = '/api/v1/namespaces/default/configmaps/bench';
  const results = {
    requests, loadAverageAtStart: loadavg()[0],
    intercepted: await measure((agent) => get(state.server, pod, agent), () => new HttpsAgent({ keepAlive: true, maxSockets: 1, ...tls })),
    pluginDirect: await measure((agent) => get(`http://127.0.0.1:${port}`, pod, agent, { 'vcluster-plugin-handler-name': 'kntest-pods' }), () => new HttpAgent({ keepAlive: true, maxSockets: 1 })),
    forwarded: await measure((agent) => get(state.server, configMap, agent), () => new HttpsAgent({ keepAlive: true, maxSockets: 1, ...tls })),
    apiserverDirect: await measure((agent) => get(state.apiserver, configMap, agent), () => new HttpsAgent({ keepAlive: true, maxSockets: 1, ...tls })),
    loadAverageAtEnd: loadavg()[0],
  };
  console.log(JSON.stringify(results, null, 2));
  console.log('\n| request | p50 ms | p99 ms |\n|---|---|---|');
  for (const name of ['intercepted', 'pluginDirect', 'forwarded', 'apiserverDirect'] as const) {
    console.log(`| ${name} | ${results[name].p50Ms} | ${results[name].p99Ms} |`);
  }
  console.log(`\nintercepted p99 ÷ forwarded p99: ${(results.intercepted.p99Ms / results.forwarded.p99Ms).toFixed(2)}`);
} finally {
  await sandbox.dispose(['demo']);
}

async function measure(once: (agent: HttpAgent) => Promise<void>, agentOf: () => HttpAgent): Promise<{ p50Ms: number; p99Ms: number }> {
  const agent = agentOf();
  for (let i = 0; i < 100; i++) await once(agent);
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const start = process.hrtime.bigint();
    await once(agent);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 100) / 100;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

function get(base: string, path: string, agent: HttpAgent, headers: Record<string, string> = {}): Promise<void> {
  const url = new URL(path, base);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send({ host: url.hostname, port: url.port, path: url.pathname, agent, headers: { accept: 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${url.href}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}
