import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Agent, request } from 'undici';
import type { RestConfig } from '@kubenest/kube';

/**
 * An HTTP proxy on 127.0.0.1 in front of a real API server, for fault-injection tests of the
 * client runtime. It forwards every request with the real cluster's credentials, and on demand
 * goes silent, drops connections, or rewrites a watch's resourceVersion so that the real server
 * answers 410 Gone.
 */
export class FaultProxy {
  url = '';
  /** Watch requests forwarded so far. */
  watchRequests = 0;
  private silent = false;
  private staleVersionForNextWatch: string | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly server: ReturnType<typeof createServer>;
  private readonly agent: Agent;
  private readonly target: RestConfig;

  private constructor(target: RestConfig) {
    this.target = target;
    this.agent = new Agent({ connect: { ca: target.caData, cert: target.clientCertData, key: target.clientKeyData } });
    this.server = createServer((req, res) => { void this.forward(req, res); });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(target: RestConfig): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.server.address() as { port: number };
    proxy.url = `http://127.0.0.1:${port}`;
    return proxy;
  }

  /** A client config that reaches the server through this proxy. */
  clientConfig(): RestConfig {
    return { server: this.url };
  }

  /** While silent, open watches stop delivering bytes and new requests get no answer. */
  setSilent(silent: boolean): void {
    this.silent = silent;
  }

  /** Ends every open connection abruptly, as a crashed server or a network cut would. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** The next watch asks the server for this (too old) resourceVersion; the server answers 410. */
  rewriteNextWatchVersion(resourceVersion: string): void {
    this.staleVersionForNextWatch = resourceVersion;
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.agent.close();
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.silent) return; // hold the request open with no answer
    const url = new URL(req.url ?? '/', this.target.server);
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      this.watchRequests += 1;
      if (this.staleVersionForNextWatch !== undefined) {
        url.searchParams.set('resourceVersion', this.staleVersionForNextWatch);
        this.staleVersionForNextWatch = undefined;
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = { ...req.headers };
    delete headers['host'];
    delete headers['connection'];
    try {
      const upstream = await request(url, {
        method: req.method as 'GET', headers, body: chunks.length ? Buffer.concat(chunks) : undefined,
        dispatcher: this.agent, bodyTimeout: 0,
      });
      res.writeHead(upstream.statusCode, Object.fromEntries(Object.entries(upstream.headers).filter(([k]) => k !== 'transfer-encoding' && k !== 'connection')));
      res.on('close', () => upstream.body.destroy());
      for await (const chunk of upstream.body) {
        if (this.silent) continue; // swallow: the client sees a live connection that says nothing
        res.write(chunk);
      }
      res.end();
    } catch {
      res.destroy();
    }
  }
}
