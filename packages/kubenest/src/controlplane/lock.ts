import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * Locks held by the kernel (ADR 32): a lock is a listening abstract Unix socket, which the kernel
 * lets go of with its process, however that ends, so there is never a stale lock to detect and
 * take over. Its socket is close-on-exec: children do not inherit it.
 *
 * Abstract socket names have no permissions, so the name mixes in a secret kept in `secretDir`
 * (mode 0600): someone who cannot read it cannot take or block the lock.
 */
export interface LockName { key: string; secretDir: string }

/** Takes the lock if no live process holds it; holds it until the returned release is called or this process ends. Resolves undefined while another holds it. */
export function tryLock(lock: LockName): Promise<(() => void) | undefined> {
  const name = `\0${socketName(lock)}`;
  const server = createServer((socket) => socket.destroy());
  server.maxConnections = 0; // nobody talks to a lock
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(undefined);
      else reject(error);
    });
    server.listen(name, () => {
      server.on('error', () => {}); // an accept error later must not end the holder
      server.unref(); // holding a lock keeps no process alive
      resolve(() => server.close());
    });
  });
}

/** Whether a process holds the lock now: its socket is listed in /proc/net/unix. */
export function isLockHeld(lock: LockName): boolean {
  let name: string;
  try {
    name = socketName(lock, false);
  } catch {
    return false; // no secret yet: nobody ever took it
  }
  try {
    return readFileSync('/proc/net/unix', 'utf8').split('\n').some((line) => line.endsWith(` @${name}`));
  } catch {
    return false;
  }
}

function socketName(lock: LockName, create = true): string {
  const secret = create ? lockSecret(lock.secretDir) : readFileSync(join(lock.secretDir, 'lock-secret'), 'utf8');
  return `kubenest-lock-${createHash('sha256').update(`${secret}\n${lock.key}`).digest('hex').slice(0, 40)}`;
}

/** The directory's secret, made once: written aside and linked into place, so every reader sees the same, whole. */
function lockSecret(dir: string): string {
  const file = join(dir, 'lock-secret');
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, randomBytes(32).toString('hex'), { mode: 0o600 });
  try {
    linkSync(aside, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another made it first: theirs counts
  } finally {
    rmSync(aside, { force: true });
  }
  return readFileSync(file, 'utf8');
}
