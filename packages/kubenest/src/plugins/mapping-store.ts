import { connect as connectUnix, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { ensurePki } from '../controlplane/pki.ts';
import type { MappingStoreEndpoint } from './init-config.ts';

/**
 * The mapping store as a Go SDK plugin reaches it: an etcd v3 client (prefix
 * `/vcluster/mappings/`) that, in vcluster v0.33.1, leaves `/data/kine.sock` only for an external
 * etcd over TLS. So this virtual cluster's kine (a unix socket, plaintext gRPC) is put behind a
 * TLS listener on a loopback port that admits only clients with this virtual cluster's plugin
 * certificate; kubenest's syncers and the plugins then share kine as the one store.
 */
export class MappingStoreProxy {
  readonly endpoint: MappingStoreEndpoint;
  private readonly server: Server;
  private readonly open: Set<{ destroy(): void }>;

  private constructor(endpoint: MappingStoreEndpoint, server: Server, open: Set<{ destroy(): void }>) {
    this.endpoint = endpoint;
    this.server = server;
    this.open = open;
  }

  static async start(pkiDir: string, kineSocket: string): Promise<MappingStoreProxy> {
    const pki = await ensurePki(pkiDir, [
      { name: 'mapping-store', commonName: 'kubenest-mapping-store', server: { dnsNames: ['localhost'], ips: ['127.0.0.1'] } },
      { name: 'plugin-client', commonName: 'kubenest-plugin', client: true },
    ]);
    const open = new Set<{ destroy(): void }>();
    const server = createServer({
      cert: readFileSync(pki.cert('mapping-store')), key: readFileSync(pki.key('mapping-store')), ca: readFileSync(pki.caCert),
      requestCert: true, rejectUnauthorized: true,
      // gRPC clients insist on HTTP/2 by ALPN; the bytes behind TLS are kine's own h2c.
      ALPNProtocols: ['h2'],
    }, (tlsSocket) => {
      const upstream = connectUnix(kineSocket);
      tlsSocket.pipe(upstream).pipe(tlsSocket);
      const pair = { destroy: (): void => { tlsSocket.destroy(); upstream.destroy(); open.delete(pair); } };
      open.add(pair);
      const end = (): void => pair.destroy();
      tlsSocket.on('error', end);
      upstream.on('error', end);
      tlsSocket.on('close', end);
      upstream.on('close', end);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the mapping-store listener has no TCP address');
    return new MappingStoreProxy({
      endpoint: `127.0.0.1:${address.port}`, caFile: pki.caCert, certFile: pki.cert('plugin-client'), keyFile: pki.key('plugin-client'),
    }, server, open);
  }

  async stop(): Promise<void> {
    for (const connection of [...this.open]) connection.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
