import http2 from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { grpc } from '@kubenest/plugin-proto';

/**
 * Unary gRPC calls over one HTTP/2 connection, on node:http2 directly: the hook path's transport
 * (ADR 31). grpc-js spends about 190 µs of CPU per call in its layers (resolving, retrying,
 * load-balancing and subchannel calls, interceptors, async resources); this spends about 70, and a
 * hook call is made once per object the syncer writes. Everything else (Initialize, SetLeader,
 * the stdio stream, health) stays on grpc-js.
 *
 * What a unary call is on the wire (gRPC over HTTP/2): a POST to `/package.Service/Method` with
 * `content-type: application/grpc` and `te: trailers`, the message framed as one byte "compressed"
 * (0: we never offer compression) and four bytes of length; the answer the same, then trailers with
 * `grpc-status` (and `grpc-message`, percent-encoded), or headers alone carrying them ("trailers
 * only", how servers answer an error).
 */
export class UnaryChannel {
  private session: http2.ClientHttp2Session | undefined;
  private closed = false;
  private readonly connectTo: () => Socket;

  /** `address`: a unix socket path, or `127.0.0.1:port`. */
  constructor(network: 'unix' | 'tcp', address: string) {
    if (network === 'unix') {
      this.connectTo = () => netConnect(address);
    } else {
      const colon = address.lastIndexOf(':');
      this.connectTo = () => netConnect(Number(address.slice(colon + 1)), address.slice(0, colon));
    }
  }

  /**
   * One call; fails as grpc-js would (an Error with `code` and `details`), with DEADLINE_EXCEEDED
   * when `timeoutMs` passes first (the server is told the limit in `grpc-timeout` as well).
   */
  call<Req, Res>(path: string, encode: (request: Req) => Uint8Array, decode: (bytes: Uint8Array) => Res, request: Req, timeoutMs?: number): Promise<Res> {
    if (this.closed) return Promise.reject(callError(grpc.status.UNAVAILABLE, 'the channel is closed'));
    const message = encode(request);
    const frame = Buffer.allocUnsafe(5 + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers',
    };
    if (timeoutMs) headers['grpc-timeout'] = `${Math.ceil(timeoutMs)}m`;
    return new Promise<Res>((resolve, reject) => {
      let settled = false;
      let limit: { deadline: number; expire: () => void } | undefined;
      const settle = (error: Error | undefined, value?: Res): void => {
        if (settled) return;
        settled = true;
        if (limit) untilDeadline.delete(limit);
        if (error) reject(error);
        else resolve(value as Res);
      };
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.connection().request(headers);
      } catch (error) {
        settle(callError(grpc.status.UNAVAILABLE, (error as Error).message));
        return;
      }
      if (timeoutMs) {
        limit = {
          deadline: Date.now() + timeoutMs,
          expire: () => {
            stream.close(http2.constants.NGHTTP2_CANCEL);
            settle(callError(grpc.status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`));
          },
        };
        watchDeadline(limit);
      }
      let responseHeaders: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => { responseHeaders = h; });
      stream.on('trailers', (t: http2.IncomingHttpHeaders) => { trailers = t; });
      stream.on('data', (chunk: Buffer) => { chunks.push(chunk); });
      stream.on('error', (error: Error) => settle(callError(grpc.status.UNAVAILABLE, error.message)));
      stream.on('close', () => {
        if (settled) return;
        const final = trailers ?? responseHeaders;
        const httpStatus = Number(responseHeaders?.[':status'] ?? 200);
        if (httpStatus !== 200) {
          settle(callError(grpc.status.UNKNOWN, `HTTP status ${httpStatus} from the plugin`));
          return;
        }
        const status = final?.['grpc-status'];
        if (status === undefined) {
          settle(callError(grpc.status.UNAVAILABLE, stream.rstCode ? `the stream was reset (HTTP/2 code ${stream.rstCode})` : 'the connection ended before an answer'));
          return;
        }
        if (status !== '0') {
          settle(callError(Number(status), percentDecode(String(final?.['grpc-message'] ?? ''))));
          return;
        }
        try {
          settle(undefined, decode(unframe(chunks)));
        } catch (error) {
          settle(callError(grpc.status.INTERNAL, `the answer could not be read: ${(error as Error).message}`));
        }
      });
      stream.end(frame);
    });
  }

  /**
   * Connects now rather than at the first call: the connection then outlives its socket file
   * (several plugin hosts sharing a socket directory remove each other's files on stop), as a
   * grpc-js channel connected at launch does.
   */
  open(): Promise<void> {
    const session = this.connection();
    if (session.connecting === false) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => { session.off('connect', connected); reject(error); };
      const connected = (): void => { session.off('error', failed); resolve(); };
      session.once('connect', connected);
      session.once('error', failed);
    });
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    // ':authority' as go-plugin sends it; a connection that ends (the plugin died, GOAWAY) is
    // replaced on the next call.
    // Node refuses new streams once a session buffers more than maxSessionMemory (10 MB by
    // default); the syncer's workers may have dozens of objects of up to 1.5 MB in flight.
    const session = http2.connect('http://unused', { createConnection: this.connectTo, maxSessionMemory: 1024 });
    session.on('error', () => {}); // each stream reports its own failure
    session.on('close', () => { if (this.session === session) this.session = undefined; });
    session.unref();
    this.session = session;
    return session;
  }
}

function unframe(chunks: Buffer[]): Buffer {
  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (all.length < 5) throw new Error(`${all.length} bytes where a gRPC message belongs`);
  if (all[0] !== 0) throw new Error('the message is compressed, which the call did not offer');
  const length = all.readUInt32BE(1);
  if (all.length < 5 + length) throw new Error(`a message of ${length} bytes ended after ${all.length - 5}`);
  return all.subarray(5, 5 + length);
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** An error shaped as grpc-js's ServiceError: `code`, `details`, and the message `CODE NAME: details`. */
function callError(code: number, details: string): Error & { code: number; details: string } {
  const name = grpc.status[code] ?? 'UNKNOWN';
  return Object.assign(new Error(`${code} ${name}: ${details}`), { code, details });
}

/**
 * Time limits checked by one timer for all calls in flight: a timer per call costs about a tenth
 * of a hook call's CPU in the host.
 */
const untilDeadline = new Set<{ deadline: number; expire: () => void }>();
let sweeper: NodeJS.Timeout | undefined;

function watchDeadline(limit: { deadline: number; expire: () => void }): void {
  untilDeadline.add(limit);
  sweeper ??= setInterval(sweep, 50).unref();
}

function sweep(): void {
  const now = Date.now();
  for (const limit of untilDeadline) {
    if (limit.deadline > now) continue;
    untilDeadline.delete(limit);
    limit.expire();
  }
  if (untilDeadline.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}
