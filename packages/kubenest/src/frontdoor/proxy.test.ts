import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer, request, type RequestOptions, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ensureFrontProxyPki, ensurePki } from '../controlplane/pki.ts';
import { TokenAuthenticator } from './authn.ts';
import { FrontDoor } from './proxy.ts';
import type { FrontDoorHandler } from './types.ts';

/**
 * The front door's own mechanics, against a stand-in upstream on loopback that records what
 * reaches it and echoes an upgraded stream (the real apiserver is in test/integration/frontdoor.test.ts).
 */
describe('FrontDoor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kn-fd-'));
  let upstream: Server;
  let door: FrontDoor;
  let ca: Buffer;
  let user: { cert: Buffer; key: Buffer };
  let streamsOpen = 0;
  let upstreamConnections = 0;
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; lines: IncomingMessage['headersDistinct']; body: string; peer: string }[] = [];

  before(async () => {
    const pki = await ensurePki(join(dir, 'pki'), [
      { name: 'server', commonName: 'server', server: { dnsNames: ['localhost'], ips: ['127.0.0.1'] } },
      { name: 'jane', commonName: 'jane', organizations: ['dev'], client: true },
    ]);
    const frontProxy = await ensureFrontProxyPki(join(dir, 'pki'));
    ca = readFileSync(pki.caCert);
    user = { cert: readFileSync(pki.cert('jane')), key: readFileSync(pki.key('jane')) };
    const serving = { cert: readFileSync(pki.cert('server')), key: readFileSync(pki.key('server')) };
    upstream = createServer({ ...serving, ca: readFileSync(frontProxy.caCert), requestCert: true, rejectUnauthorized: true }, (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const peer = String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, lines: req.headersDistinct, body: Buffer.concat(chunks).toString(), peer });
        if (req.url?.startsWith('/stream')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          streamsOpen += 1;
          res.on('close', () => { streamsOpen -= 1; });
          res.write('{"type":"ADDED"}\n');
          return; // held open, as a watch
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-from': 'upstream' });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    upstream.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket); // echo
      void req;
    });
    upstream.on('secureConnection', () => { upstreamConnections += 1; });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    door = await FrontDoor.start({
      port: 0, servingCert: serving.cert, servingKey: serving.key, clientCa: ca,
      apiserver: { url: `https://127.0.0.1:${port}`, ca, cert: readFileSync(frontProxy.clientCert), key: readFileSync(frontProxy.clientKey) },
      tokens: new TokenAuthenticator({ review: (token) => Promise.resolve(token === 'good' ? { authenticated: true, user: { username: 'tok', groups: ['g'] } } : { authenticated: false }) }),
    });
  });
  after(async () => {
    await door?.stop();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (path: string, options: RequestOptions = {}, body?: string): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: door.port, path, ca, ...options }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('forwards with its front-proxy certificate and the caller\'s identity, body and query unchanged', async () => {
    seen.length = 0;
    const answer = await call('/api/v1/namespaces/a/configmaps?limit=1', { method: 'POST', ...user, headers: { 'content-type': 'application/json', authorization: 'Bearer x' } }, '{"a":1}');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-from'], 'upstream');
    const got = seen[0]!;
    assert.deepEqual([got.method, got.url, got.body, got.peer], ['POST', '/api/v1/namespaces/a/configmaps?limit=1', '{"a":1}', 'front-proxy-client']);
    assert.equal(got.headers['x-remote-user'], 'jane');
    assert.deepEqual(got.lines['x-remote-group'], ['dev', 'system:authenticated'], 'one header line per group');
    assert.equal(got.headers['authorization'], undefined);
  });

  it('keeps its connections to the apiserver alive: sequential requests reuse one', async () => {
    await call('/api', user);
    const before = upstreamConnections;
    for (let i = 0; i < 20; i++) assert.equal((await call(`/api/v1/namespaces/a/configmaps/c${i}`, { method: i % 2 ? 'GET' : 'PUT', ...user }, i % 2 ? undefined : '{}')).status, 200);
    assert.equal(upstreamConnections, before);
  });

  it('speaks HTTP/1.1 to an apiserver that offers HTTP/2 too, one header line per group', async () => {
    const pkiDir = join(dir, 'pki');
    const h2 = createSecureServer({
      cert: readFileSync(join(pkiDir, 'server.crt')), key: readFileSync(join(pkiDir, 'server.key')), allowHTTP1: true,
    }, (req, res) => {
      const groups = req.rawHeaders.filter((_, i) => i % 2 === 1 && req.rawHeaders[i - 1]!.toLowerCase() === 'x-remote-group');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: req.httpVersion, groups }));
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const other = await FrontDoor.start({
      port: 0, servingCert: readFileSync(join(pkiDir, 'server.crt')), servingKey: readFileSync(join(pkiDir, 'server.key')), clientCa: ca,
      apiserver: { url: `https://127.0.0.1:${(h2.address() as { port: number }).port}`, ca, cert: readFileSync(join(pkiDir, 'front-proxy-client.crt')), key: readFileSync(join(pkiDir, 'front-proxy-client.key')) },
      tokens: new TokenAuthenticator({ review: () => Promise.resolve({}) }),
    });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: other.port, path: '/api', ca, ...user }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => { text += c.toString(); });
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(JSON.parse(answer), { version: '1.1', groups: ['dev', 'system:authenticated'] });
    } finally {
      await other.stop();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });

  it('authenticates a bearer token by review; refuses anything else with 401', async () => {
    seen.length = 0;
    assert.equal((await call('/api', { headers: { authorization: 'Bearer good' } })).status, 200);
    assert.equal(seen[0]?.headers['x-remote-user'], 'tok');
    assert.equal((await call('/api', { headers: { authorization: 'Bearer bad' } })).status, 401);
    assert.equal((await call('/api')).status, 401);
    assert.equal(seen.length, 1, 'nothing refused was forwarded');
  });

  it('streams a long-running answer as it comes, and ends the upstream request when the caller goes', async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: door.port, path: '/stream', ca, ...user }, (res) => {
        res.once('data', (chunk: Buffer) => {
          req.destroy();
          resolve(chunk.toString());
        });
      });
      req.on('error', () => {});
      req.on('close', () => reject(new Error('closed before data')));
      req.end();
    });
    assert.equal(first, '{"type":"ADDED"}\n');
    for (let i = 0; i < 100 && streamsOpen > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(streamsOpen, 0, 'the upstream request ended with the caller\'s');
  });

  it('pipes an upgrade both ways, the bytes after the headers included', async () => {
    const echoed = await new Promise<{ status: number; protocol: string | undefined; data: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: door.port, path: '/api/v1/namespaces/a/pods/p/exec?command=echo', ca, ...user, headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1' } });
      req.on('upgrade', (res, socket) => {
        socket.write('ping');
        socket.once('data', (chunk: Buffer) => {
          socket.destroy();
          resolve({ status: res.statusCode ?? 0, protocol: res.headers['x-stream-protocol-version'] as string | undefined, data: chunk.toString() });
        });
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(echoed, { status: 101, protocol: 'v4.channel.k8s.io', data: 'ping' });
  });

  it('lets its handlers answer first, in order, and answers 500 naming a handler that throws', async () => {
    seen.length = 0;
    const order: string[] = [];
    const handlers: FrontDoorHandler[] = [
      { name: 'first', handle: (r) => { order.push(`first ${r.info.verb} ${r.info.resource}`); return Promise.resolve(false); } },
      { name: 'second', handle: (r) => {
        if (r.info.resource !== 'pods') return Promise.resolve(false);
        if (r.info.name === 'boom') return Promise.reject(new Error('it broke'));
        r.res.writeHead(200, { 'content-type': 'text/plain' }).end(`for ${r.caller.user}`);
        return Promise.resolve(true);
      } },
    ];
    door.setHandlers(handlers);
    try {
      assert.equal((await call('/api/v1/namespaces/a/pods', user)).body, 'for jane');
      assert.equal((await call('/api/v1/namespaces/a/configmaps', user)).status, 200);
      const boom = await call('/api/v1/namespaces/a/pods/boom', user);
      assert.equal(boom.status, 500);
      assert.match(boom.body, /"message":"second: it broke"/);
      assert.deepEqual(order, ['first list pods', 'first list configmaps', 'first get pods']);
      assert.equal(seen.length, 1, 'only the configmaps list reached the apiserver');
    } finally {
      door.setHandlers([]);
    }
  });

  it('answers a header too large with a 431 Status and goes on serving', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: door.port, ca, ...user }, () => socket.write(`GET /api HTTP/1.1\r\nHost: x\r\nX-Huge: ${'a'.repeat(200_000)}\r\n\r\n`));
      let text = '';
      socket.on('data', (c: Buffer) => { text += c.toString(); });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 431 .*"kind":"Status".*larger than 64 KiB/s);
    assert.equal((await call('/api', user)).status, 200);
  });
});
