import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port the kernel hands out to outgoing connections (Linux; 32768 elsewhere). */
export function ephemeralPortStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free loopback port for a component to listen on, chosen below the kernel's ephemeral range:
 * a port from that range, once released, can be given to some outgoing connection before the
 * component binds it (a test run saw kwok fail with "address already in use" that way).
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralPortStart() - 1;
  if (high - low >= 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = low + Math.floor(Math.random() * (high - low + 1));
      if (await portIsFree(port)) return port;
    }
  }
  return kernelAssignedPort();
}

/** Asks the kernel for a free loopback port (from its ephemeral range). */
async function kernelAssignedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read back a free port'));
      });
    });
  });
}

/** True when nothing listens on the loopback port and we may bind it. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Picks `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
