import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';

/**
 * The local host's kubelet API (ADR 27): kwok serves logs, exec, attach and port-forward for its
 * simulated pods on 127.0.0.1, following the ClusterLogs, ClusterExec, ClusterAttach and
 * ClusterPortForward documents written here; the host apiserver dials each node's InternalIP
 * (127.0.1.x), where kubenest forwards the connection to kwok.
 */

/** A pod port that forwards to a port on 127.0.0.1 (kwok's port-forward simulation has fixed targets). */
export interface PortForwardRule {
  podPort: number;
  loopbackPort: number;
}

export interface KubeletSimulation {
  /** The file every simulated container's log is (followed with `-f`). */
  logsFile: string;
  /** Run exec'd commands as this user and group (when kwok runs as root): nobody. */
  runAs?: { uid: number; gid: number } | undefined;
  portForwards?: PortForwardRule[] | undefined;
}

/**
 * What a simulated container "logs": the same lines for every container, saying what they are,
 * in the CRI log format a kubelet reads (`<RFC 3339 time> stdout F <line>`), stamped `now`.
 */
export function simulatedLogLines(now = new Date()): string {
  const time = now.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  return [
    'kubenest local host: this container runs on a simulated node (kwok); no process runs, so every container shows these lines.',
    'kubenest local host: kubectl exec runs its command on this machine, outside any container (see "What the local host simulates").',
    'kubenest local host: kubectl port-forward reaches only the pod ports the host was started with a target for.',
  ].map((line) => `${time} stdout F ${line}\n`).join('');
}

/** kwok's --config documents for logs, exec, attach and port-forward (appended to the stages). */
export function kubeletSimulationConfig(sim: KubeletSimulation): string {
  const doc = (kind: string, spec: unknown): string => stringify({ apiVersion: 'kwok.x-k8s.io/v1alpha1', kind, metadata: { name: `kubenest-${kind.toLowerCase()}` }, spec });
  const local = {
    workDir: tmpdir(),
    ...(sim.runAs ? { securityContext: { runAsUser: sim.runAs.uid, runAsGroup: sim.runAs.gid } } : {}),
  };
  const docs = [
    doc('ClusterLogs', { logs: [{ logsFile: sim.logsFile, follow: true }] }),
    doc('ClusterExec', { execs: [{ local }] }),
    doc('ClusterAttach', { attaches: [{ logsFile: sim.logsFile }] }),
  ];
  const forwards = (sim.portForwards ?? []).map((rule) => ({ ports: [rule.podPort], target: { port: rule.loopbackPort, address: '127.0.0.1' } }));
  if (forwards.length > 0) docs.push(doc('ClusterPortForward', { forwards }));
  return docs.map((d) => d.trim()).join('\n---\n') + '\n';
}

/** The InternalIP of simulated node `index` (ADR 5). */
export function nodeIp(index: number): string {
  return `127.0.1.${index + 1}`;
}

/**
 * Listeners on each node's loopback address and kwok's port, piping every connection to kwok on
 * 127.0.0.1 (kwok listens on one address; the nodes each have their own). TLS passes through
 * untouched: kwok's certificate names every node address.
 */
export class NodeKubeletForwarders {
  private readonly servers: Server[];
  private readonly sockets = new Set<Socket>();

  private constructor(servers: Server[]) {
    this.servers = servers;
  }

  static async start(nodeIps: string[], port: number): Promise<NodeKubeletForwarders> {
    const forwarders = new NodeKubeletForwarders([]);
    try {
      for (const ip of nodeIps) {
        const server = createServer({ allowHalfOpen: true }, (client) => forwarders.pipe(client, port));
        forwarders.servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: ip, port, exclusive: true }, () => { server.off('error', reject); resolve(); });
        });
      }
    } catch (error) {
      await forwarders.stop();
      throw error;
    }
    return forwarders;
  }

  private pipe(client: Socket, port: number): void {
    // Half-open both ways: each side's end is passed on by pipe(), after what was written before it.
    const kwok = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
    for (const socket of [client, kwok]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => { client.destroy(); kwok.destroy(); });
    }
    client.on('close', () => kwok.end());
    kwok.on('close', () => client.end());
    client.pipe(kwok);
    kwok.pipe(client);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}
