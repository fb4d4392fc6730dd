import { readFileSync } from 'node:fs';
import { request as httpsRequest, createServer, type RequestOptions, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { isNotFound, type KubeObject, type RestConfig } from '@kubenest/kube';
import { MARKER_LABEL, type NameTranslator } from '@kubenest/sync';
import { writeFileAtomic } from '../controlplane/files.ts';
import { freePort } from '../controlplane/ports.ts';
import { hostApiPath, parseKubeletPath } from './paths.ts';

/** The common name of the client certificate the virtual kube-apiserver presents to kubelets. */
export const APISERVER_KUBELET_CLIENT_CN = 'kube-apiserver-kubelet-client';

export interface KubeletEndpointOptions {
  /** PEM: the serving certificate (from the virtual cluster's CA, with IP SAN 127.0.0.1), its key, and the CA. */
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** Port on 127.0.0.1; 0 for any free one. */
  port: number;
  /** The host cluster the requests go to, with the syncer's credentials. */
  hostConfig: RestConfig;
  /** Reads a host pod (through the host side's hooked client); throws the API's error. */
  getHostPod: (name: string, namespace: string) => Promise<KubeObject>;
  names: NameTranslator;
}

type Answer = { status: number; reason: string; message: string };

/**
 * Stands in for the kubelet of every virtual node (ADR 27): the virtual kube-apiserver sends a
 * pod's logs, exec, attach and port-forward here, and this forwards each to the host pod (its
 * translated name, in the host namespace) through the host API's pod subresources, streamed;
 * upgraded connections (SPDY, WebSocket) are piped both ways. Only the virtual apiserver's kubelet
 * client certificate is let in.
 */
export class KubeletEndpoint {
  private readonly server: Server;
  private readonly options: KubeletEndpointOptions;
  private readonly open = new Set<Duplex>();

  private constructor(server: Server, options: KubeletEndpointOptions) {
    this.server = server;
    this.options = options;
  }

  static async start(options: KubeletEndpointOptions): Promise<KubeletEndpoint> {
    const server = createServer({
      cert: options.cert, key: options.key, ca: options.ca,
      // Verified here rather than in the handshake, so a refused client gets an HTTP answer that says why.
      requestCert: true, rejectUnauthorized: false,
    });
    const endpoint = new KubeletEndpoint(server, options);
    // A failure of one request (the host's credentials could not be had, say) answers that request only.
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      endpoint.onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) answer(res, { status: 500, reason: 'InternalError', message: `kubelet endpoint: ${(error as Error).message}` });
        else res.destroy();
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      endpoint.onUpgrade(req, socket, head).catch((error: unknown) => {
        const a = { status: 500, reason: 'InternalError', message: `kubelet endpoint: ${(error as Error).message}` };
        writeRaw(socket, a.status, 'Internal Server Error', { 'content-type': 'application/json' }, statusBody(a));
      });
    });
    server.on('connection', (socket: Duplex) => endpoint.track(socket));
    server.on('secureConnection', (socket: Duplex) => endpoint.track(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    return endpoint;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.open) socket.destroy();
    await closed;
  }

  private track(socket: Duplex): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  }

  /** 401 without a client certificate of the virtual CA, 403 with one that is not the apiserver's. */
  private refusal(req: IncomingMessage): Answer | undefined {
    const socket = req.socket as TLSSocket;
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) {
      return { status: 401, reason: 'Unauthorized', message: 'a client certificate is required: this kubelet endpoint serves the virtual cluster\'s kube-apiserver only' };
    }
    if (!socket.authorized) {
      return { status: 401, reason: 'Unauthorized', message: `the client certificate is not from the virtual cluster's CA (${String(socket.authorizationError)})` };
    }
    const cn = cert.subject?.CN;
    if (cn !== APISERVER_KUBELET_CLIENT_CN) {
      return { status: 403, reason: 'Forbidden', message: `"${String(cn)}" may not use this kubelet endpoint: only the virtual kube-apiserver (${APISERVER_KUBELET_CLIENT_CN}) may` };
    }
    return undefined;
  }

  /** The host pod a kubelet request is about, or why there is none. */
  private async target(req: IncomingMessage): Promise<{ path: string } | Answer> {
    const refused = this.refusal(req);
    if (refused) return refused;
    const parsed = parseKubeletPath(req.url ?? '/');
    if ('notServed' in parsed) return { status: 404, reason: 'NotFound', message: parsed.notServed };
    const hostName = this.options.names.hostName(parsed.pod, parsed.namespace);
    const hostNamespace = this.options.names.hostNamespace;
    const missing = (why: string): Answer => ({
      status: 404, reason: 'NotFound',
      message: `pod ${parsed.namespace}/${parsed.pod} is not on the host cluster (host pod ${hostNamespace}/${hostName} ${why}): it is not synced yet, was refused by the pod syncer, or is gone`,
    });
    try {
      const pod = await this.options.getHostPod(hostName, hostNamespace);
      if (pod.metadata?.labels?.[MARKER_LABEL] !== this.options.names.vclusterName) return missing(`is not one of virtual cluster ${this.options.names.vclusterName}'s`);
    } catch (error) {
      if (isNotFound(error)) return missing('not found');
      return { status: 502, reason: 'BadGateway', message: `could not look the host pod ${hostNamespace}/${hostName} up: ${(error as Error).message}` };
    }
    return { path: hostApiPath(parsed, hostNamespace, hostName) };
  }

  private async hostRequestOptions(path: string, method: string, headers: NodeJS.Dict<string[]>): Promise<RequestOptions> {
    const config = this.options.hostConfig;
    const server = new URL(config.server);
    const out: Record<string, string | string[]> = {};
    // Each header line as it came: X-Stream-Protocol-Version lists the protocols one per line.
    for (const [name, value] of Object.entries(headers)) {
      // The caller's own credentials and addressing stay here; the host sees kubenest's.
      if (value === undefined || ['host', 'authorization', 'content-length', 'transfer-encoding'].includes(name)) continue;
      if (name.startsWith('impersonate-') || name.startsWith('x-remote-')) continue;
      out[name] = value;
    }
    const token = config.tokenProvider ? await config.tokenProvider.token() : config.token;
    if (token) out['authorization'] = `Bearer ${token}`;
    const pair = await config.tokenProvider?.certificate?.();
    return {
      protocol: 'https:', hostname: server.hostname, port: Number(server.port || 443), method, path: `${server.pathname.replace(/\/$/, '')}${path}`,
      headers: out, agent: false,
      ...(config.caData ? { ca: config.caData } : {}),
      ...(pair ? { cert: pair.cert, key: pair.key } : config.clientCertData && config.clientKeyData ? { cert: config.clientCertData, key: config.clientKeyData } : {}),
      ...(config.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
      ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
    };
  }

  /** Logs (and anything else without an upgrade): the host's answer, streamed back as it comes. */
  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = await this.target(req);
    if ('status' in target) {
      answer(res, target);
      req.resume();
      return;
    }
    const upstream = httpsRequest(await this.hostRequestOptions(target.path, req.method ?? 'GET', req.headersDistinct));
    upstream.on('response', (hostRes) => {
      res.writeHead(hostRes.statusCode ?? 502, hostRes.headers);
      res.flushHeaders();
      hostRes.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) answer(res, { status: 502, reason: 'BadGateway', message: `the host API: ${error.message}` });
      else res.destroy(error);
    });
    // A follower that goes away (kubectl logs -f ended) ends the host stream too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  /** exec, attach, port-forward: the host's 101 and everything after it piped both ways. */
  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const target = await this.target(req);
    if ('status' in target) {
      writeRaw(socket, target.status, target.reason, { 'content-type': 'application/json' }, statusBody(target));
      return;
    }
    const upstream = httpsRequest(await this.hostRequestOptions(target.path, req.method ?? 'GET', req.headersDistinct));
    upstream.on('upgrade', (hostRes, hostSocket, hostHead) => {
      this.track(hostSocket);
      const lines = [`HTTP/1.1 ${hostRes.statusCode ?? 101} ${hostRes.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i + 1 < hostRes.rawHeaders.length; i += 2) lines.push(`${hostRes.rawHeaders[i]}: ${hostRes.rawHeaders[i + 1]}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      if (hostHead.length > 0) socket.write(hostHead);
      if (head.length > 0) hostSocket.write(head);
      hostSocket.on('error', () => socket.destroy());
      socket.on('error', () => hostSocket.destroy());
      socket.on('close', () => hostSocket.destroy());
      hostSocket.on('close', () => socket.destroy());
      hostSocket.pipe(socket);
      socket.pipe(hostSocket);
    });
    upstream.on('response', (hostRes) => {
      // The host refused the upgrade (no such container, forbidden...): its answer, as it is.
      const chunks: Buffer[] = [];
      hostRes.on('data', (chunk: Buffer) => chunks.push(chunk));
      hostRes.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(hostRes.headers)) if (typeof value === 'string' && !['connection', 'transfer-encoding', 'content-length'].includes(name)) headers[name] = value;
        writeRaw(socket, hostRes.statusCode ?? 502, hostRes.statusMessage ?? '', headers, Buffer.concat(chunks));
      });
    });
    upstream.on('error', (error) => writeRaw(socket, 502, 'Bad Gateway', { 'content-type': 'text/plain' }, Buffer.from(`the host API: ${error.message}\n`)));
    upstream.end();
  }
}

/** A Kubernetes Status, as a kubelet's errors reach kubectl through the apiserver. */
function statusBody(a: Answer): Buffer {
  return Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: a.message, reason: a.reason, code: a.status }) + '\n');
}

function answer(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, { 'content-type': 'application/json' });
  res.end(statusBody(a));
}

function writeRaw(socket: Duplex, status: number, reason: string, headers: Record<string, string>, body: Buffer): void {
  if (socket.destroyed) return;
  const lines = [`HTTP/1.1 ${status} ${reason}`, ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`), `content-length: ${body.length}`, 'connection: close'];
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body]));
}

/**
 * Starts the endpoint on the port it had last time in this data dir when that port is free (the
 * virtual nodes already point there), else on a free one, and records the port in `file`.
 */
export async function startKubeletEndpoint(file: string, options: Omit<KubeletEndpointOptions, 'port'>): Promise<KubeletEndpoint> {
  let previous: number;
  try {
    previous = Number((JSON.parse(readFileSync(file, 'utf8')) as { port?: unknown }).port) || 0;
  } catch {
    previous = 0; // none yet, or unreadable: any free port will do, the node syncer points the nodes at it
  }
  let endpoint: KubeletEndpoint;
  try {
    endpoint = await KubeletEndpoint.start({ ...options, port: previous || await freePort() });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    endpoint = await KubeletEndpoint.start({ ...options, port: await freePort() });
  }
  if (endpoint.port !== previous) await writeFileAtomic(file, JSON.stringify({ port: endpoint.port }) + '\n');
  return endpoint;
}
