#!/usr/bin/env node
// A stand-in plugin for the plugin host's unit tests: the go-plugin side of the handshake and
// pluginv2, with behaviour picked by `mode` in its PLUGIN_CONFIG (the bad inputs of issue 9 among them). Real Go
// plugins are tested end to end in test/integration/plugins-go.test.ts.
import { appendFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { grpc, pluginv2 } from '@kubenest/plugin-proto';

// Its settings come in PLUGIN_CONFIG (the entry's `config`), as a real plugin's do.
interface HostTry { method: string; path: string; body?: unknown }
const config = (parse(process.env['PLUGIN_CONFIG'] ?? 'null') ?? {}) as { mode?: string; record?: string; label?: string; tryHost?: HostTry[] };
const mode = config.mode ?? 'ok';
const note = (line: string): void => { if (config.record) appendFileSync(config.record, `${process.pid} ${line}\n`); };
note('start');
note(`env KUBECONFIG ${process.env['KUBECONFIG'] ?? '(unset)'}`);

/**
 * `tryHost`: requests made with the host kubeconfig of its InitConfig (`controlPlaneConfig`), as
 * a plugin's own client would, each noted as `host METHOD PATH STATUS [body]` in the record.
 */
async function tryHost(initConfig: string): Promise<void> {
  const init = JSON.parse(initConfig) as { controlPlaneConfig: string };
  const kubeconfig = parse(Buffer.from(init.controlPlaneConfig, 'base64').toString()) as {
    clusters: { cluster: { server: string; 'certificate-authority-data'?: string } }[]; users: { user: Record<string, string> }[];
  };
  const cluster = kubeconfig.clusters[0]!.cluster;
  const user = kubeconfig.users[0]!.user;
  note(`host credentials ${Object.keys(user).sort().join(',')}`);
  for (const attempt of config.tryHost ?? []) {
    const url = new URL(attempt.path, cluster.server);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const sent = request(url, {
        method: attempt.method,
        ...(cluster['certificate-authority-data'] ? { ca: Buffer.from(cluster['certificate-authority-data'], 'base64') } : {}),
        ...(user['client-certificate-data'] ? { cert: Buffer.from(user['client-certificate-data'], 'base64'), key: Buffer.from(user['client-key-data']!, 'base64') } : {}),
        headers: { 'content-type': 'application/json', ...(user['token'] ? { authorization: `Bearer ${user['token']}` } : {}) },
      }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => { body += chunk.toString(); });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      sent.on('error', reject);
      sent.end(attempt.body === undefined ? undefined : JSON.stringify(attempt.body));
    });
    note(`host ${attempt.method} ${attempt.path} ${answer.status} ${answer.body.replace(/\s+/g, ' ')}`);
  }
}

if (process.env['VCLUSTER_PLUGIN'] !== 'vcluster') {
  console.error('This binary is a plugin. These are not meant to be executed directly.');
  process.exit(1);
}
if (mode === 'exit-early') {
  console.error('[ERROR] cannot start: something is missing');
  process.exit(3);
}
if (mode === 'garbage') {
  console.log('hello, I am not a plugin');
  setInterval(() => {}, 1000);
} else if (mode === 'silent') {
  setInterval(() => {}, 1000);
} else if (mode === 'no-socket') {
  // A well-formed handshake naming a socket nobody listens on.
  console.log(`1|1|unix|${join(process.env['PLUGIN_UNIX_SOCKET_DIR'] ?? '/tmp', 'nobody-here.sock')}|grpc|`);
  setInterval(() => {}, 1000);
} else {
  const socket = join(process.env['PLUGIN_UNIX_SOCKET_DIR'] ?? '/tmp', `plugin${process.pid}`);
  const server = new grpc.Server();
  let leader = 0;
  const implementation: pluginv2.PluginServer = {
    initialize(call, callback) {
      note(`initialize ${call.request.config.length}`);
      if (mode === 'init-fail') {
        callback({ code: grpc.status.UNKNOWN, details: 'plugin must init: no such thing' });
        return;
      }
      if (config.tryHost) {
        tryHost(call.request.config).then(() => callback(null, {}), (error: Error) => callback({ code: grpc.status.UNKNOWN, details: `tryHost: ${error.message}` }));
        return;
      }
      callback(null, {});
    },
    getPluginConfig(_call, callback) {
      const config = mode === 'bad-config' ? 'not json' : JSON.stringify({
        clientHooks: [{ apiVersion: 'v1', kind: 'ConfigMap', types: ['CreatePhysical', 'UpdatePhysical'] }],
      });
      callback(null, { config });
    },
    mutate(call, callback) {
      const { type, object } = call.request;
      note(`mutate ${type}`);
      const parsed = JSON.parse(object) as { metadata?: { name?: string; labels?: Record<string, string> }; data?: Record<string, string> };
      if (parsed.metadata?.name?.startsWith('refuse-me')) {
        callback({ code: grpc.status.UNKNOWN, details: 'error mutating object: refused by fake' });
        return;
      }
      if (parsed.metadata?.name?.startsWith('hang')) return; // never answers
      if (mode === 'noop') {
        // A hook that changes nothing (the benchmark's no-op ConfigMap hook).
        callback(null, { mutated: false, object: '' });
        return;
      }
      // Replaces the labels with only its own: the host's Go merge keeps the others.
      parsed.metadata = { ...parsed.metadata, labels: { [`hooked-by-${config.label ?? 'fake'}`]: 'yes' } };
      callback(null, { mutated: true, object: JSON.stringify(parsed) });
    },
    setLeader(_call, callback) {
      leader += 1;
      note(`setLeader ${leader}`);
      callback(null, {});
    },
  };
  server.addService(pluginv2.PluginService, implementation);
  server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) {
      console.error(`[ERROR] bind: ${error.message}`);
      process.exit(1);
    }
    console.error(JSON.stringify({ '@level': 'info', '@message': 'fake plugin serving', '@timestamp': new Date().toISOString(), socket }));
    process.stdout.write(`1|1|unix|${socket}|grpc|\n`);
  });
}
