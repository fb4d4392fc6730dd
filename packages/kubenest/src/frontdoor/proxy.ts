import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { bearerToken, callerFromCertificate, websocketBearerToken, forwardedRequestHeaders, forwardedResponseHeaders, type TokenAuthenticator } from './authn.ts';
import { parseRequestInfo, RequestInfoError } from '@kubenest/kube';
import { UNAUTHORIZED, failure, rawStatusResponse, writeStatus } from './status.ts';
import type { Caller, FrontDoorHandler, FrontDoorRequest } from './types.ts';

/** Request headers larger than this are refused (431, a Status): Node's default is 16 KiB, Go's 1 MiB. */
export const MAX_HEADER_BYTES = 64 * 1024;

export interface FrontDoorOptions {
  /** The loopback port to listen on; 0 for any free one. */
  port: number;
  /** The serving certificate and key (PEM), from the virtual cluster's CA. */
  servingCert: Buffer;
  servingKey: Buffer;
  /** The CA whose client certificates are users (the virtual cluster's, the apiserver's `--client-ca-file`). */
  clientCa: Buffer;
  /** The virtual kube-apiserver, reached with the front-proxy client certificate. */
  apiserver: { url: string; ca: Buffer; cert: Buffer; key: Buffer };
  tokens: TokenAuthenticator;
  handlers?: FrontDoorHandler[];
  /** Failures worth a line in the log (an apiserver that cannot be reached, a handler that threw). */
  log?: (line: string) => void;
}

/**
 * The virtual cluster's front door: a TLS server on 127.0.0.1 that authenticates each request as
 * the kube-apiserver would (client certificates of the virtual CA, bearer tokens by TokenReview,
 * nobody anonymous), lets its handlers answer it, and otherwise forwards it to the virtual
 * apiserver as an authenticating front proxy, streamed both ways, upgrades (exec, attach,
 * port-forward over SPDY or WebSocket) included.
 */
export class FrontDoor {
  readonly port: number;
  private handlers: FrontDoorHandler[];
  private readonly server: Server;
  /** Requests to the apiserver (undici: less CPU per request than node:https's client). */
  private readonly agent: Agent;
  /** Upgrades to the apiserver (node:https hands over the upgraded socket). */
  private readonly upgradeAgent: HttpsAgent;
  private readonly target: URL;
  /** The user of each connection's verified client certificate, read once per connection. */
  private readonly certificateCallers = new WeakMap<TLSSocket, Caller | undefined>();
  private readonly tokens: TokenAuthenticator;
  private readonly log: (line: string) => void;
  private readonly sockets = new Set<Duplex>();

  private constructor(server: Server, port: number, options: FrontDoorOptions) {
    this.server = server;
    this.port = port;
    this.handlers = options.handlers ?? [];
    this.tokens = options.tokens;
    this.log = options.log ?? (() => {});
    this.target = new URL(options.apiserver.url);
    const tls = { ca: options.apiserver.ca, cert: options.apiserver.cert, key: options.apiserver.key };
    // No timeouts of its own: a watch may be quiet for long; the caller's leaving ends a request.
    // HTTP/1.1 only: over HTTP/2 undici joins a header's values into one (X-Remote-Group would be
    // one group "a, b" to the apiserver).
    this.agent = new Agent({ connect: tls, allowH2: false, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
    this.upgradeAgent = new HttpsAgent({ ...tls, keepAlive: false });
  }

  static async start(options: FrontDoorOptions): Promise<FrontDoor> {
    const server = createServer({
      cert: options.servingCert, key: options.servingKey, ca: options.clientCa,
      // Asked for, checked per request: a caller without one may still bring a token.
      requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'],
      maxHeaderSize: MAX_HEADER_BYTES,
      // Longer than Go's idle timeout (90 s), so a client never reuses a connection being closed.
      keepAliveTimeout: 180_000,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: options.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const door = new FrontDoor(server, typeof address === 'object' && address ? address.port : options.port, options);
    door.serve();
    return door;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The handlers that may answer a request before it is forwarded, asked in this order. */
  setHandlers(handlers: FrontDoorHandler[]): void {
    this.handlers = [...handlers];
  }

  /** Stops listening and cuts every open connection (watches and upgraded streams too). */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    this.upgradeAgent.destroy();
    await this.agent.destroy();
    await closed;
  }

  private serve(): void {
    this.server.on('secureConnection', (socket: TLSSocket) => this.track(socket));
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => { void this.serveOne(req, res); });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A response object on the raw socket, so that refusals and handlers answer as for any request.
      const res = new ServerResponse(req);
      res.assignSocket(socket as Socket);
      res.shouldKeepAlive = false;
      void this.serveOne(req, res, { socket, head });
    });
    // What Node's parser refuses (a header too large, a request line that is not HTTP) gets a Status.
    const answered = new WeakSet<Duplex>();
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (answered.has(socket)) return; // the parser reports the rest of a refused request again
      answered.add(socket);
      if (error.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const status = error.code === 'HPE_HEADER_OVERFLOW'
        ? failure(431, 'BadRequest', `request headers larger than ${MAX_HEADER_BYTES / 1024} KiB`)
        : failure(400, 'BadRequest', `malformed HTTP request (${error.code ?? error.message})`);
      // The answer, then a lingering close as Go's server does: reading what the client still sends
      // for a moment, so that closing does not reset the connection before it reads the answer.
      socket.write(rawStatusResponse(status));
      socket.on('data', () => {});
      socket.resume();
      const linger = setTimeout(() => socket.destroy(), 1_000);
      socket.once('close', () => clearTimeout(linger));
      socket.end();
    });
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** One request; a bug here answers 500 and is logged, never takes the daemon down. */
  private async serveOne(req: IncomingMessage, res: ServerResponse, upgrade?: FrontDoorRequest['upgrade']): Promise<void> {
    try {
      await this.onRequest(req, res, upgrade);
    } catch (error) {
      this.log(`front door: ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      writeStatus(res, failure(500, 'InternalError', `the front door failed: ${(error as Error).message}`));
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse, upgrade?: FrontDoorRequest['upgrade']): Promise<void> {
    const problem = malformedTarget(req.url ?? '');
    if (problem) {
      writeStatus(res, failure(400, 'BadRequest', problem));
      return;
    }
    let caller: Caller | undefined;
    try {
      caller = await this.authenticate(req);
    } catch (error) {
      this.log(`front door: could not check a bearer token: ${(error as Error).message}`);
      res.setHeader('retry-after', '1');
      writeStatus(res, failure(503, 'ServiceUnavailable', `could not check the bearer token with the virtual kube-apiserver: ${(error as Error).message}`));
      return;
    }
    if (!caller) {
      writeStatus(res, UNAUTHORIZED);
      return;
    }
    let info: FrontDoorRequest['info'];
    try {
      info = parseRequestInfo(req.method ?? 'GET', req.url ?? '/');
    } catch (error) {
      if (!(error instanceof RequestInfoError)) throw error;
      // As the apiserver's WithRequestInfo answers a path it cannot read.
      writeStatus(res, failure(500, 'InternalError', `failed to create RequestInfo: ${error.message}`));
      return;
    }
    const request: FrontDoorRequest = { req, res, caller, info, ...(upgrade ? { upgrade } : {}) };
    for (const handler of this.handlers) {
      try {
        if (await handler.handle(request, this.forward)) return;
      } catch (error) {
        this.log(`front door: handler ${handler.name} failed on ${req.method} ${req.url}: ${(error as Error).message}`);
        writeStatus(res, failure(500, 'InternalError', `${handler.name}: ${(error as Error).message}`));
        return;
      }
    }
    await this.forward(request);
  }

  /** Who is calling: a verified client certificate first, then a bearer token; undefined for nobody. */
  private async authenticate(req: IncomingMessage): Promise<Caller | undefined> {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      if (!this.certificateCallers.has(socket)) this.certificateCallers.set(socket, callerFromCertificate(socket.getPeerCertificate()));
      const caller = this.certificateCallers.get(socket);
      if (caller) return caller;
    }
    const token = bearerToken(req.headers) ?? websocketBearerToken(req.headers);
    return token === undefined ? undefined : this.tokens.authenticate(token);
  }

  /** See ForwardToApiserver. Resolves once the exchange is over (a watch: when either side ends it). */
  readonly forward = (request: FrontDoorRequest, body?: Buffer): Promise<void> =>
    request.upgrade ? this.forwardUpgrade(request, request.upgrade) : this.forwardRequest(request, body);

  private async forwardRequest(request: FrontDoorRequest, body?: Buffer): Promise<void> {
    const { req, res, caller } = request;
    const headers = forwardedRequestHeaders(req.headers, caller);
    if (body) headers['content-length'] = String(body.length);
    // The caller going away (a watch closed, say) ends the request to the apiserver.
    const abort = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const hasBody = body !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.agent.request({
        origin: this.target.origin, path: req.url ?? '/', method: req.method ?? 'GET',
        headers: headerLines(headers), body: body ?? (hasBody ? req : null), signal: abort.signal,
      });
    } catch (error) {
      res.off('close', onClose);
      if (abort.signal.aborted) return;
      this.apiserverUnreachable(req, res, error as Error);
      return;
    }
    res.writeHead(answer.statusCode, forwardedResponseHeaders(answer.headers));
    // A streamed answer's (a watch's) headers go out at once, before its first event.
    if (answer.headers['content-length'] === undefined) res.flushHeaders();
    await new Promise<void>((resolve) => {
      pipeline(answer.body, res, () => {
        res.off('close', onClose);
        resolve();
      });
    });
  }

  /** A 503 the client may retry: the virtual kube-apiserver did not answer (starting, or restarting). */
  private apiserverUnreachable(req: IncomingMessage, res: ServerResponse, error: Error): void {
    this.log(`front door: ${req.method} ${req.url}: the virtual kube-apiserver did not answer: ${error.message}`);
    res.setHeader('retry-after', '1');
    writeStatus(res, failure(503, 'ServiceUnavailable', `the virtual kube-apiserver is not reachable (${error.message}); it may be starting`));
  }

  private forwardUpgrade(request: FrontDoorRequest, upgrade: NonNullable<FrontDoorRequest['upgrade']>): Promise<void> {
    return new Promise<void>((resolve) => {
      const { req, res, caller } = request;
      const upstream = httpsRequest({
        protocol: 'https:', host: this.target.hostname, port: this.target.port, method: req.method, path: req.url,
        headers: forwardedRequestHeaders(req.headers, caller, { upgrade: true }), agent: this.upgradeAgent,
      });
      let done = false;
      const finish = (): void => {
        if (!done) resolve();
        done = true;
      };
      // Not upgraded after all (refused, say): the answer goes back as it is.
      upstream.on('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, forwardedResponseHeaders(answer.headers));
        pipeline(answer, res, () => finish());
      });
      upstream.on('upgrade', (answer, apiSocket, apiHead) => {
        res.detachSocket(upgrade.socket as Socket);
        this.track(apiSocket);
        let head = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
        for (let i = 0; i < answer.rawHeaders.length; i += 2) head += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
        upgrade.socket.write(head + '\r\n');
        if (apiHead.length > 0) upgrade.socket.write(apiHead);
        if (upgrade.head.length > 0) apiSocket.write(upgrade.head);
        apiSocket.setNoDelay(true);
        // Either side ending or failing ends both (plain pipes: an upgraded stream may be long-lived).
        const end = (): void => {
          apiSocket.destroy();
          upgrade.socket.destroy();
          finish();
        };
        for (const socket of [apiSocket, upgrade.socket]) {
          socket.once('close', end);
          socket.on('error', end);
        }
        apiSocket.pipe(upgrade.socket);
        upgrade.socket.pipe(apiSocket);
      });
      upstream.on('error', (error) => {
        if (!res.headersSent && !done) {
          this.apiserverUnreachable(req, res, error);
        } else {
          res.destroy();
        }
        finish();
      });
      upstream.end();
    });
  }
}

/**
 * Headers as undici's flat list, one entry per line: a header with several values (X-Remote-Group)
 * goes out as several lines, which the apiserver reads as several values (joined with commas they
 * would be one group).
 */
function headerLines(headers: OutgoingHttpHeaders): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines.push(name, String(one));
  }
  return lines;
}

/** Why a request target cannot be a Kubernetes API path, or undefined when it can be. */
export function malformedTarget(url: string): string | undefined {
  if (!url.startsWith('/')) return `malformed request path "${url.slice(0, 200)}": it must start with "/"`;
  const path = url.split('?')[0]!;
  try {
    decodeURIComponent(path);
  } catch {
    return `malformed request path "${path.slice(0, 200)}": invalid percent-encoding`;
  }
  return undefined;
}
