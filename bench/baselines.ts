// Baselines shared by the benchmarks, measured in the same run as the figure they go with.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RestClient } from '@kubenest/kube';
import {
  HOST_SERVICE_CIDR, Supervisor, apiserverArgs, ensurePki, freePort, hostPkiLeaves, kineArgs, socketAccepts, type Binaries,
} from '@kubenest/kubenest';
import { tempDir } from '@kubenest/testing';

/** Milliseconds for kine + kube-apiserver alone, on a fresh data dir, to answer /readyz: the floor any control plane pays. */
export async function apiserverOnly(b: Binaries): Promise<number> {
  const dir = tempDir('kn-base-');
  const started = Date.now();
  const pki = await ensurePki(join(dir.path, 'pki'), hostPkiLeaves());
  const port = await freePort();
  const socket = join(dir.path, 'kine.sock');
  const supervisor = new Supervisor();
  const client = new RestClient({
    server: `https://127.0.0.1:${port}`, caData: readFileSync(pki.caCert),
    clientCertData: readFileSync(pki.cert('admin')), clientKeyData: readFileSync(pki.key('admin')),
  });
  try {
    await supervisor.start({
      name: 'kine', command: b.path('kine'), logFile: join(dir.path, 'kine.log'),
      args: kineArgs(join(dir.path, 'state.db'), socket), ready: () => socketAccepts(socket),
    });
    await supervisor.start({
      name: 'kube-apiserver', command: b.path('kube-apiserver'), logFile: join(dir.path, 'apiserver.log'), readyTimeoutMs: 120_000,
      args: apiserverArgs({ pki, port, kineSocket: socket, dataDir: dir.path, serviceCidr: HOST_SERVICE_CIDR }),
      ready: async (signal) => (await client.raw('GET', '/readyz', { signal, timeoutMs: 5_000 })).status === 200,
    });
    return Date.now() - started;
  } finally {
    await supervisor.stop();
    await client.close();
    dir.remove();
  }
}

/** From the plugin host's log of the last start: "launching" (just before the spawn) to "Initialize returned". */
export function spawnToInitializeMs(logFile: string): number {
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { time: string; msg: string });
  const launched = lines.findLast((l) => l.msg === 'launching');
  const loaded = lines.findLast((l) => l.msg === 'Initialize returned');
  if (!launched || !loaded) throw new Error(`${logFile}: no "launching" or "Initialize returned" line`);
  return Date.parse(loaded.time) - Date.parse(launched.time);
}
