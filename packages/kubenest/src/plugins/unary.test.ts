import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { grpc, pluginv2 } from '@kubenest/plugin-proto';
import { UnaryChannel } from './unary.ts';

const encode = (request: pluginv2.Mutate_Request): Uint8Array => pluginv2.Mutate_Request.encode(request).finish();
const decode = (bytes: Uint8Array): pluginv2.Mutate_Response => pluginv2.Mutate_Response.decode(bytes);
const MUTATE = '/pluginv2.Plugin/Mutate';

type MutateHandler = grpc.handleUnaryCall<pluginv2.Mutate_Request, pluginv2.Mutate_Response>;

/** A grpc-js server (another implementation of the protocol) whose Mutate each test sets. */
async function serve(socket: string, mutate: MutateHandler): Promise<grpc.Server> {
  const server = new grpc.Server();
  const unimplemented = (_call: unknown, callback: (error: grpc.ServiceError) => void): void => callback(Object.assign(new Error('unimplemented'), { code: grpc.status.UNIMPLEMENTED, details: 'unimplemented', metadata: new grpc.Metadata() }));
  server.addService(pluginv2.PluginService, { mutate, initialize: unimplemented, getPluginConfig: unimplemented, setLeader: unimplemented });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
  return server;
}

describe('UnaryChannel: unary gRPC on node:http2 against a grpc-js server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubenest-unary-'));
  const socket = join(dir, 'plugin.sock');
  let handler: MutateHandler = (call, callback) => callback(null, { object: call.request.object, mutated: false });
  let server: grpc.Server;
  let channel: UnaryChannel;

  before(async () => {
    server = await serve(socket, (call, callback) => handler(call, callback));
    channel = new UnaryChannel('unix', socket);
  });
  after(() => {
    channel.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a request and its answer arrive whole, also 2 MiB objects and 200 calls at once', async () => {
    handler = (call, callback) => callback(null, { object: `${call.request.type}:${call.request.kind}:${call.request.object}`, mutated: true });
    const big = JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024) });
    const answer = await channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'ConfigMap', object: big, type: 'CreatePhysical' });
    assert.equal(answer.mutated, true);
    assert.equal(answer.object, `CreatePhysical:ConfigMap:${big}`);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: `{"i":${i}}`, type: 'UpdateVirtual' })));
    assert.deepEqual(answers.map((a) => a.object), Array.from({ length: 200 }, (_, i) => `UpdateVirtual:Pod:{"i":${i}}`));
  });

  test('64 calls of 1.5 MiB objects at once (more than a session buffers by default) all get their answers', async () => {
    handler = (call, callback) => callback(null, { object: call.request.object, mutated: true });
    const objects = Array.from({ length: 64 }, (_, i) => JSON.stringify({ i, data: String(i % 10).repeat(1.5 * 1024 * 1024) }));
    const answers = await Promise.all(objects.map((object) => channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Secret', object, type: 'CreatePhysical' })));
    assert.ok(answers.every((answer, i) => answer.object === objects[i]), 'an answer differs from its request');
  });

  test('a refusal comes back with its code and its message as the server sent it', async () => {
    const details = 'refusé: 100% of "this" is not allowed\nsecond line';
    handler = (_call, callback) => callback({ code: grpc.status.PERMISSION_DENIED, details, metadata: new grpc.Metadata() });
    await assert.rejects(channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' }),
      (error: Error & { code: grpc.status; details: string }) => {
        assert.equal(error.code, grpc.status.PERMISSION_DENIED);
        assert.equal(error.details, details);
        assert.match(error.message, /^7 PERMISSION_DENIED: refusé/);
        return true;
      });
  });

  test('a call not answered in time fails with DEADLINE_EXCEEDED, and the server learns both the limit and the cancel', async () => {
    let deadline: grpc.Deadline | undefined;
    let cancelled!: () => void;
    const serverSawCancel = new Promise<void>((resolve) => { cancelled = resolve; });
    handler = (call) => {
      deadline = call.getDeadline();
      call.on('cancelled', () => cancelled());
    };
    const started = Date.now();
    await assert.rejects(channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' }, 300),
      (error: Error & { code: grpc.status }) => error.code === grpc.status.DEADLINE_EXCEEDED);
    const waited = Date.now() - started;
    assert.ok(waited >= 300, `failed after ${waited} ms, before its limit`);
    await serverSawCancel;
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    // The server's own clock and receive time set it: only that it is a limit, not its precision.
    assert.ok(deadlineMs >= started + 200 && deadlineMs <= started + 60_000, `the server saw the deadline ${String(deadline)}, not a limit of about 300 ms after ${started}`);
  });

  test('a server that goes away fails the call in flight (UNAVAILABLE) and its successor is reached on the next call', async () => {
    handler = () => { /* never answers: the server is shut down under it */ };
    const inFlight = channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.forceShutdown();
    await assert.rejects(inFlight, (error: Error & { code: grpc.status }) => error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.CANCELLED);
    rmSync(socket, { force: true });
    await assert.rejects(channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' }),
      (error: Error & { code: grpc.status }) => error.code === grpc.status.UNAVAILABLE);
    handler = (_call, callback) => callback(null, { object: 'again', mutated: true });
    server = await serve(socket, (call, callback) => handler(call, callback));
    const answer = await channel.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' });
    assert.equal(answer.object, 'again');
  });

  test('a channel opened before its socket file is removed keeps working; one not opened cannot connect', async () => {
    handler = (call, callback) => callback(null, { object: call.request.object, mutated: true });
    const opened = new UnaryChannel('unix', socket);
    const unopened = new UnaryChannel('unix', socket);
    await opened.open();
    rmSync(socket);
    try {
      const answer = await opened.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: 'still', type: 'CreatePhysical' });
      assert.equal(answer.object, 'still');
      await assert.rejects(unopened.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' }),
        (error: Error & { code: grpc.status }) => error.code === grpc.status.UNAVAILABLE && /ENOENT/.test(error.message));
      await assert.rejects(new UnaryChannel('unix', join(dir, 'absent.sock')).open(), /ENOENT/);
    } finally {
      opened.close();
      unopened.close();
    }
  });

  test('a plugin that listens on 127.0.0.1 (the handshake\'s tcp network) is reached the same way', async () => {
    const tcp = new grpc.Server();
    const unimplemented = (_call: unknown, callback: (error: Partial<grpc.ServiceError>) => void): void => callback({ code: grpc.status.UNIMPLEMENTED, details: 'unimplemented' });
    tcp.addService(pluginv2.PluginService, { mutate: ((call, callback) => callback(null, { object: `tcp:${call.request.object}`, mutated: true })) as MutateHandler, initialize: unimplemented, getPluginConfig: unimplemented, setLeader: unimplemented });
    const port = await new Promise<number>((resolve, reject) => tcp.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
    const overTcp = new UnaryChannel('tcp', `127.0.0.1:${port}`);
    try {
      await overTcp.open();
      const answer = await overTcp.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: 'x', type: 'CreatePhysical' });
      assert.equal(answer.object, 'tcp:x');
    } finally {
      overTcp.close();
      tcp.forceShutdown();
    }
  });

  test('a closed channel refuses calls', async () => {
    const closed = new UnaryChannel('unix', socket);
    closed.close();
    await assert.rejects(closed.call(MUTATE, encode, decode, { apiVersion: 'v1', kind: 'Pod', object: '{}', type: 'CreatePhysical' }),
      (error: Error & { code: grpc.status }) => error.code === grpc.status.UNAVAILABLE);
  });
});
