import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { KubeClient, loadKubeconfig } from '@kubenest/kube';
import { cliSandbox, eventually, run, type CliSandbox } from '@kubenest/testing';

interface Service { metadata: { name: string; uid: string; annotations?: Record<string, string> }; spec: { type?: string; clusterIP?: string } }
interface List<T> { items: T[] }

const PAIRS = 200;

/**
 * Issue 10: a Service created through the front door is created on the host first and is born
 * in the virtual cluster with the host's ClusterIP (ADR 26), so Endpoints created with it in the
 * same instant stay, and nothing ever sees the Service with another IP.
 */
describe('front door: Services in one request', () => {
  let sandbox: CliSandbox;
  let kubeconfig: string;
  let client: KubeClient;
  /** Ends the test's watch, whatever the test's outcome (an open watch would hold the client open). */
  const watching = new AbortController();
  const vkubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args]);
  const hkubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-demo', ...args]);

  before(async () => {
    sandbox = await cliSandbox('kn-fdsvc-');
    const up = await sandbox.cli('up', '--nodes', '1');
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
    client = new KubeClient(loadKubeconfig(kubeconfig));
  });
  after(async () => {
    watching.abort();
    await client?.close();
    await sandbox?.dispose(['demo']);
  });

  it(`${PAIRS} Services created with their Endpoints in the same instant: none lost, each born with its host copy's ClusterIP`, async () => {
    assert.equal((await vkubectl('create', 'namespace', 'fd')).code, 0);
    // Every change any Service in the namespace goes through, from before the first is created.
    const events: { type: string; object: Service }[] = [];
    const stream = await client.rest.stream('/api/v1/namespaces/fd/services', { query: { watch: true, allowWatchBookmarks: false }, signal: watching.signal });
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim()) events.push(JSON.parse(line) as { type: string; object: Service });
      }
    });
    stream.on('error', () => {});

    // The Endpoints name TEST-NET addresses: data only, never dialled (the API refuses loopback ones).
    const docs: string[] = [];
    for (let i = 0; i < PAIRS; i++) {
      docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: ext-${i}, namespace: fd}\nspec: {ports: [{port: 80, targetPort: 8080}]}`);
      docs.push(`apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext-${i}, namespace: fd}\nsubsets: [{addresses: [{ip: 192.0.2.${i % 250 + 1}}], ports: [{port: 8080}]}]`);
    }
    const created = await run('kubectl', ['--kubeconfig', kubeconfig, 'create', '-f', '-'], { input: docs.join('\n---\n') + '\n', timeoutMs: 600_000 });
    assert.equal(created.code, 0, created.stderr);

    const virtualServices = async (): Promise<Map<string, Service>> => {
      const list = JSON.parse((await vkubectl('get', 'services', '-n', 'fd', '-o', 'json')).stdout) as List<Service>;
      return new Map(list.items.map((s) => [s.metadata.name, s]));
    };
    const endpointUids = async (): Promise<Map<string, string>> => {
      const list = JSON.parse((await vkubectl('get', 'endpoints', '-n', 'fd', '-o', 'json')).stdout) as List<Service>;
      return new Map(list.items.map((e) => [e.metadata.name, e.metadata.uid]));
    };
    const servicesAtFirst = await virtualServices();
    const endpointsAtFirst = await endpointUids();
    assert.equal(servicesAtFirst.size, PAIRS);
    assert.equal(endpointsAtFirst.size, PAIRS);

    // The host copies: all there, each with the ClusterIP its virtual Service was created with.
    let host = new Map<string, Service>();
    await eventually(async () => {
      const list = JSON.parse((await hkubectl('get', 'services', '-l', 'vcluster.loft.sh/managed-by=demo', '-o', 'json')).stdout) as List<Service>;
      host = new Map(list.items.filter((s) => s.metadata.annotations?.['vcluster.loft.sh/object-namespace'] === 'fd').map((s) => [s.metadata.annotations!['vcluster.loft.sh/object-name']!, s]));
      assert.equal(host.size, PAIRS);
      // Once synced, the front door's mark is gone.
      assert.deepEqual([...host.values()].filter((s) => s.metadata.annotations?.['vcluster.loft.sh/block-deletion']).map((s) => s.metadata.name), []);
    }, { timeoutMs: 300_000, intervalMs: 2_000 });
    for (const [name, service] of servicesAtFirst) {
      assert.ok(service.spec.clusterIP && service.spec.clusterIP !== 'None', `${name} has a ClusterIP`);
      assert.equal(service.spec.clusterIP, host.get(name)?.spec.clusterIP, `${name}: the virtual ClusterIP is the host's`);
    }
    // Host Endpoints too: the syncer has seen every pair.
    await eventually(async () => {
      const list = JSON.parse((await hkubectl('get', 'endpoints', '-l', 'vcluster.loft.sh/managed-by=demo', '-o', 'json')).stdout) as List<Service>;
      assert.equal(list.items.filter((e) => e.metadata.annotations?.['vcluster.loft.sh/object-namespace'] === 'fd').length, PAIRS);
    }, { timeoutMs: 300_000, intervalMs: 2_000 });
    await sleep(5_000); // room for anything that would still replace or remove an object

    const servicesAfter = await virtualServices();
    const endpointsAfter = await endpointUids();
    assert.equal(endpointsAfter.size, PAIRS, 'no Endpoints lost');
    for (const [name, uid] of endpointsAtFirst) assert.equal(endpointsAfter.get(name), uid, `Endpoints ${name} are the ones created`);
    for (const [name, service] of servicesAtFirst) {
      assert.equal(servicesAfter.get(name)?.metadata.uid, service.metadata.uid, `Service ${name} is the one created`);
      assert.equal(servicesAfter.get(name)?.spec.clusterIP, service.spec.clusterIP, `Service ${name} kept its ClusterIP`);
    }
    watching.abort();
    // From creation on: no watcher ever saw a Service with another IP, or passing through ExternalName.
    const seen = events.filter((e) => e.type === 'ADDED' || e.type === 'MODIFIED');
    assert.ok(seen.filter((e) => e.type === 'ADDED').length >= PAIRS, `${seen.length} events watched`);
    const strays = seen.filter((e) => e.object.spec.type === 'ExternalName' || e.object.spec.clusterIP !== host.get(e.object.metadata.name)?.spec.clusterIP);
    assert.deepEqual(strays.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.spec.type} ${e.object.spec.clusterIP}`), []);
  });

  it('a caller the virtual cluster does not let create Services gets the apiserver\'s 403, and nothing is made on the host', async () => {
    assert.equal((await vkubectl('create', 'serviceaccount', 'nobody', '-n', 'fd')).code, 0);
    const token = (await vkubectl('create', 'token', 'nobody', '-n', 'fd')).stdout.trim();
    const state = JSON.parse(readFileSync(join(sandbox.vclustersDir, 'demo', 'run', 'state.json'), 'utf8')) as { server: string };
    const caFile = join(sandbox.dir, 'ca.crt');
    writeFileSync(caFile, Buffer.from(/certificate-authority-data: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))![1]!, 'base64'));
    writeFileSync(join(sandbox.dir, 'empty'), 'apiVersion: v1\nkind: Config\n');
    const refused = await run('kubectl', ['--kubeconfig', join(sandbox.dir, 'empty'), '--server', state.server, '--certificate-authority', caFile, '--token', token,
      '-n', 'fd', 'create', 'service', 'clusterip', 'sneaky', '--tcp=80:80']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /services is forbidden: User "system:serviceaccount:fd:nobody" cannot create resource "services"/);
    assert.equal((await hkubectl('get', 'service', 'sneaky-x-fd-x-demo')).code, 1, 'no host Service');
  });

  it('a Service the front door does not make on the host first (headless) is created as it was sent, and synced', async () => {
    const created = await vkubectl('-n', 'fd', 'create', 'service', 'clusterip', 'headless', '--clusterip=None', '--tcp=80:80');
    assert.equal(created.code, 0, created.stderr);
    await eventually(async () => {
      const hostCopy = await hkubectl('get', 'service', 'headless-x-fd-x-demo', '-o', 'jsonpath={.spec.clusterIP}');
      assert.equal(hostCopy.stdout, 'None');
    }, { timeoutMs: 60_000 });
  });
});
