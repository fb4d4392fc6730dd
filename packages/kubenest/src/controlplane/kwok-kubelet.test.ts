import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { NodeKubeletForwarders, kubeletSimulationConfig, nodeIp, simulatedLogLines } from './kwok-kubelet.ts';

describe('the local host\'s kubelet simulation', () => {
  it('logs are CRI log lines (what kwok parses), stamped with nanoseconds', () => {
    const lines = simulatedLogLines(new Date('2026-11-30T18:00:01.234Z')).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.match(line, /^2026-11-30T18:00:01\.234000000Z stdout F kubenest local host: /);
  });

  it('kwok gets one ClusterLogs, ClusterExec and ClusterAttach for every pod, and port-forwards only when asked', () => {
    const kinds = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as { kind: string; spec: Record<string, unknown> });
    const plain = kinds(kubeletSimulationConfig({ logsFile: '/d/kwok/container.log' }));
    assert.deepEqual(plain.map((d) => d.kind), ['ClusterLogs', 'ClusterExec', 'ClusterAttach']);
    assert.deepEqual(plain[0]!.spec, { logs: [{ logsFile: '/d/kwok/container.log', follow: true }] });
    const exec = plain[1]!.spec as { execs: { local: { securityContext?: unknown } }[] };
    assert.equal(exec.execs[0]!.local.securityContext, undefined);
    const asRoot = kinds(kubeletSimulationConfig({ logsFile: '/f', runAs: { uid: 65534, gid: 65534 }, portForwards: [{ podPort: 80, loopbackPort: 18080 }] }));
    assert.deepEqual((asRoot[1]!.spec as { execs: { local: { securityContext?: unknown } }[] }).execs[0]!.local.securityContext, { runAsUser: 65534, runAsGroup: 65534 });
    assert.deepEqual(asRoot[3], {
      apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'ClusterPortForward', metadata: { name: 'kubenest-clusterportforward' },
      spec: { forwards: [{ ports: [80], target: { port: 18080, address: '127.0.0.1' } }] },
    });
  });

  it('a node\'s address passes connections on to kwok\'s on 127.0.0.1, both ways', async () => {
    const kwok = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket)); // an echo server standing in for kwok
    await new Promise<void>((resolve) => kwok.listen(0, '127.0.0.1', resolve));
    const port = (kwok.address() as { port: number }).port;
    const forwarders = await NodeKubeletForwarders.start([nodeIp(41)], port);
    try {
      const client = createConnection({ host: '127.0.1.42', port });
      client.end('ping');
      let got = '';
      for await (const chunk of client) got += String(chunk);
      assert.equal(got, 'ping');
    } finally {
      await forwarders.stop();
      await new Promise<void>((resolve) => kwok.close(() => resolve()));
    }
  });
});
