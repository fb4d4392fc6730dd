// kubectl logs, exec and port-forward on a virtual pod reach the host pod (issue 10, ADR 27): the
// virtual apiserver dials kubenest's kubelet endpoint, which goes through the host API to the host
// pod, whose node's kubelet is kwok's simulation on the local host.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { eventually, killProcess, kubenest, run, startHostCluster, tempDir, testBinaries, type TestHostCluster } from '@kubenest/testing';

const FIRST_LINE = 'kubenest local host: this container runs on a simulated node (kwok); no process runs, so every container shows these lines.';
const LAST_LINE = 'kubenest local host: kubectl port-forward reaches only the pod ports the host was started with a target for.';

/** Starts a command and collects its output; `stop` ends it by its pid. */
function start(command: string, args: string[], input?: string): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) child.stdin?.write(input);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child, output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) killProcess(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

describe('logs, exec and port-forward on virtual pods', () => {
  const dir = tempDir('kn-logs-');
  let host: TestHostCluster;
  let env: NodeJS.ProcessEnv;
  let target: Server;
  const cli = (...args: string[]) => kubenest(args, { env, timeoutMs: 240_000 });
  const vcDir = join(dir.path, 'vclusters', 'demo');
  const virtual = (...args: string[]) => run('kubectl', ['--kubeconfig', join(vcDir, 'kubeconfig'), ...args], { timeoutMs: 60_000 });
  let pod = '';

  before(async () => {
    // What a port-forward to port 80 of any simulated pod reaches: a server of this test, on loopback.
    target = createServer((req, res) => res.end(`hello from the test's server: ${req.url}\n`));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const loopbackPort = (target.address() as { port: number }).port;
    host = await startHostCluster({ nodes: 1, portForwards: [{ podPort: 80, loopbackPort }] });
    env = { ...process.env, KUBENEST_VCLUSTERS_DIR: join(dir.path, 'vclusters'), KUBENEST_BIN_DIR: (await testBinaries()).dir, KUBECONFIG: host.kubeconfig };
    const created = await cli('create', 'demo');
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await virtual('create', 'deployment', 'web', '--image=nginx', '--replicas=1')).code, 0);
    const rollout = await virtual('rollout', 'status', 'deployment/web', '--timeout=180s');
    assert.equal(rollout.code, 0, rollout.stderr);
    pod = (await virtual('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}')).stdout;
    assert.notEqual(pod, '');
  });
  after(async () => {
    if (env) await cli('delete', 'demo');
    await host?.dispose();
    await new Promise<void>((resolve) => (target ? target.close(() => resolve()) : resolve()));
    dir.remove();
  });

  it('the virtual node\'s kubelet is kubenest\'s endpoint, on loopback', async () => {
    const node = JSON.parse((await virtual('get', 'pod', pod, '-o', 'json')).stdout) as { spec: { nodeName: string } };
    const got = await virtual('get', 'node', node.spec.nodeName, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address} {.status.daemonEndpoints.kubeletEndpoint.Port}');
    const port = (JSON.parse(readFileSync(join(vcDir, 'kubelet-endpoint.json'), 'utf8')) as { port: number }).port;
    assert.equal(got.stdout, `127.0.0.1 ${port}`);
  });

  it('kubectl logs prints the host pod\'s log; --tail and --timestamps pass through', async () => {
    const logs = await virtual('logs', 'deploy/web');
    assert.equal(logs.code, 0, logs.stderr);
    const lines = logs.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], FIRST_LINE);
    const tail = await virtual('logs', pod, '--tail=1', '--timestamps');
    assert.equal(tail.code, 0, tail.stderr);
    assert.match(tail.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z ${LAST_LINE.replace(/[.()]/g, '\\$&')}\\n$`));
  });

  it('kubectl logs -f keeps following until it is stopped', async () => {
    const follow = start('kubectl', ['--kubeconfig', join(vcDir, 'kubeconfig'), 'logs', '-f', pod]);
    try {
      await eventually(() => assert.match(follow.output(), new RegExp(LAST_LINE.replace(/[.()]/g, '\\$&'))), { timeoutMs: 60_000 });
      // Still connected after the whole file: the follow ends only when kubectl is stopped.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(follow.child.exitCode, null, follow.output());
    } finally {
      await follow.stop();
    }
  });

  it('kubectl exec runs the command (prints hi)', async () => {
    const exec = await virtual('exec', pod, '--', 'echo', 'hi');
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'hi\n');
    // stdin reaches the command. (Its end does not end it on the local host: kwok v0.8.0 never
    // closes the command's stdin when the SPDY stream ends, pkg/utils/exec/exec.go, and an
    // apiserver speaks SPDY to kubelets; `kubectl exec -i` on the host pod with SPDY hangs alike.)
    const cat = start('kubectl', ['--kubeconfig', join(vcDir, 'kubeconfig'), 'exec', '-i', pod, '--', 'cat'], 'through stdin\n');
    try {
      await eventually(() => assert.equal(cat.output(), 'through stdin\n'), { timeoutMs: 60_000 });
    } finally {
      await cat.stop();
    }
  });

  it('kubectl port-forward reaches what the pod port forwards to', async () => {
    const forward = start('kubectl', ['--kubeconfig', join(vcDir, 'kubeconfig'), 'port-forward', `pod/${pod}`, ':80']);
    try {
      const local = await eventually(() => {
        const match = /Forwarding from 127\.0\.0\.1:(\d+) -> 80/.exec(forward.output());
        assert.ok(match, forward.output());
        return Number(match[1]);
      }, { timeoutMs: 60_000 });
      const response = await request(`http://127.0.0.1:${local}/through-the-pod`);
      assert.equal(await response.body.text(), 'hello from the test\'s server: /through-the-pod\n');
    } finally {
      await forward.stop();
    }
  });

  it('a virtual pod that is not on the host gets a clear error', async () => {
    // Host access is refused by default (ADR 10): the pod stays in the virtual cluster only.
    const nodeName = (await virtual('get', 'pod', pod, '-o', 'jsonpath={.spec.nodeName}')).stdout;
    const manifest = JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'not-synced' },
      spec: { nodeName, hostNetwork: true, containers: [{ name: 'c', image: 'nginx' }] },
    });
    const applied = await run('kubectl', ['--kubeconfig', join(vcDir, 'kubeconfig'), 'apply', '-f', '-'], { input: manifest });
    assert.equal(applied.code, 0, applied.stderr);
    const exec = await virtual('exec', 'not-synced', '--', 'echo', 'hi');
    assert.notEqual(exec.code, 0);
    assert.match(exec.stderr, /pod default\/not-synced is not on the host cluster \(host pod vcluster-demo\/not-synced-x-default-x-demo not found\)/);
    // The apiserver turns a kubelet's 404 on logs into its own NotFound, without the kubelet's text.
    const logs = await virtual('logs', 'not-synced');
    assert.notEqual(logs.code, 0);
    assert.match(logs.stderr, /NotFound/);
  });

  it('the endpoint lets in only the virtual apiserver\'s kubelet client certificate', async () => {
    const port = (JSON.parse(readFileSync(join(vcDir, 'kubelet-endpoint.json'), 'utf8')) as { port: number }).port;
    const pki = join(vcDir, 'pki');
    const ca = readFileSync(join(pki, 'ca.crt'));
    const ask = async (path: string, client?: { cert: Buffer; key: Buffer }): Promise<{ status: number; message: string }> => {
      const agent = new Agent({ connect: { ca, ...(client ?? {}) } });
      try {
        const response = await request(`https://127.0.0.1:${port}${path}`, { dispatcher: agent });
        const text = await response.body.text();
        try {
          return { status: response.statusCode, message: (JSON.parse(text) as { message: string }).message };
        } catch {
          return { status: response.statusCode, message: text };
        }
      } finally {
        await agent.close();
      }
    };
    const logs = `/containerLogs/default/${pod}/nginx`;
    const anonymous = await ask(logs);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.message, /a client certificate is required/);
    const admin = await ask(logs, { cert: readFileSync(join(pki, 'admin.crt')), key: readFileSync(join(pki, 'admin.key')) });
    assert.equal(admin.status, 403);
    assert.match(admin.message, /"kubenest-admin" may not use this kubelet endpoint/);
    const hostPki = join(host.dataDir, 'pki');
    const foreign = await ask(logs, { cert: readFileSync(join(hostPki, 'apiserver-kubelet-client.crt')), key: readFileSync(join(hostPki, 'apiserver-kubelet-client.key')) });
    assert.equal(foreign.status, 401, 'the host\'s apiserver certificate is of another CA');
    const apiserver = { cert: readFileSync(join(pki, 'apiserver-kubelet-client.crt')), key: readFileSync(join(pki, 'apiserver-kubelet-client.key')) };
    const allowed = await ask(`${logs}?tailLines=1`, apiserver);
    assert.deepEqual(allowed, { status: 200, message: `${LAST_LINE}\n` });
    const other = await ask('/stats/summary', apiserver);
    assert.equal(other.status, 404);
    assert.match(other.message, /only for \/containerLogs, \/exec, \/attach and \/portForward/);
  });

  // Last: it writes to the simulated containers' log file.
  it('kubectl attach streams what the container writes from then on (on the local host: new lines of its log file)', async () => {
    const attach = start('kubectl', ['--kubeconfig', join(vcDir, 'kubeconfig'), 'attach', pod, '-c', 'nginx']);
    try {
      await eventually(() => assert.match(attach.output(), /If you don't see a command prompt/), { timeoutMs: 60_000 });
      // kwok's attach follows the file from its end, as an attach shows only what comes next; the
      // line is written again until it shows, in case the first came before kwok began to follow.
      await eventually(() => {
        if (/written while attached/.test(attach.output())) return;
        appendFileSync(join(host.dataDir, 'kwok', 'container.log'), `${new Date().toISOString().replace(/Z$/, '000000Z')} stdout F written while attached\n`);
        assert.fail(`not yet: ${attach.output()}`);
      }, { timeoutMs: 60_000, intervalMs: 1_000 });
    } finally {
      await attach.stop();
    }
  });
});
