import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

/**
 * Takes the lock named `key` if no live process holds it, and holds it until the returned release
 * is called or this process ends, however it ends. The lock is a listening abstract Unix socket
 * (Linux): the kernel lets go of it with the process, so there is never a stale lock to detect and
 * take over (ADR 32). Its socket is close-on-exec: children do not inherit it. Resolves undefined
 * while another process holds it.
 */
export function tryLock(key: string): Promise<(() => void) | undefined> {
  const name = `\0kubenest-lock-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(undefined);
      else reject(error);
    });
    server.listen(name, () => {
      server.unref(); // holding a lock keeps no process alive
      resolve(() => server.close());
    });
  });
}
