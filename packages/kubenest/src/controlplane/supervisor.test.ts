import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { once } from 'node:events';
import { ComponentStartError, Supervisor, type ComponentStatus } from './supervisor.ts';
import { isAlive, readPids, signalProcess } from './pids.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-sup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A node one-liner as a component; "ready" once it has written its marker file. */
function component(name: string, script: string, extra: { restart?: boolean; readyTimeoutMs?: number } = {}) {
  const marker = join(dir, `${name}.ready`);
  return {
    name, command: process.execPath, args: ['-e', script.replaceAll('MARKER', JSON.stringify(marker))],
    logFile: join(dir, 'logs', `${name}.log`),
    ready: () => Promise.resolve(existsSync(marker)),
    ...extra,
  };
}
const SERVE = "require('fs').writeFileSync(MARKER, ''); console.log('serving'); setInterval(() => {}, 1000);";

describe('Supervisor', () => {
  it('starts in order, records pids, writes logs, and stops every process', async () => {
    const pidFile = join(dir, 'pids.json');
    const supervisor = new Supervisor({ pidFile });
    await supervisor.start(component('a', SERVE));
    await supervisor.start(component('b', SERVE));
    const pids = supervisor.pids();
    assert.equal(pids.length, 2);
    assert.deepEqual(readPids(pidFile).map((p) => p.pid), pids);
    assert.match(readFileSync(join(dir, 'logs', 'a.log'), 'utf8'), /serving/);
    await supervisor.stop();
    assert.deepEqual(pids.filter(isAlive), []);
    assert.equal(existsSync(pidFile), false, 'no pid file once nothing runs');
  });

  it('fails a component that exits before it is ready, showing its log', async () => {
    const supervisor = new Supervisor();
    await assert.rejects(
      supervisor.start(component('crash', "console.error('bad flag --x'); process.exit(2);")),
      (error: Error) => error instanceof ComponentStartError && /crash exited before it was ready \(code 2/.test(error.message) && /bad flag --x/.test(error.message),
    );
    await supervisor.stop();
  });

  it('fails and ends a component that is never ready', async () => {
    const supervisor = new Supervisor();
    const spec = component('slow', 'setInterval(() => {}, 1000);', { readyTimeoutMs: 500 });
    await assert.rejects(supervisor.start(spec), /slow was not ready within 1s/);
    assert.deepEqual(supervisor.pids(), []);
    await supervisor.stop();
  });

  it('reports an unexpected exit and does not restart unless asked', async () => {
    const supervisor = new Supervisor();
    await supervisor.start(component('once', SERVE));
    const [pid] = supervisor.pids();
    const exited = once(supervisor, 'exit') as Promise<[ComponentStatus]>;
    signalProcess(pid!, 'SIGKILL');
    const [status] = await exited;
    assert.equal(status.name, 'once');
    assert.equal(status.lastExit?.signal, 'SIGKILL');
    assert.equal(supervisor.status()[0]?.state, 'exited');
    assert.equal(supervisor.status()[0]?.restarts, 0);
    await supervisor.stop();
  });

  it('restarts a component that asks for it, counting the restart', async () => {
    const supervisor = new Supervisor();
    await supervisor.start(component('again', SERVE, { restart: true }));
    const [pid] = supervisor.pids();
    const restarted = once(supervisor, 'restart') as Promise<[ComponentStatus]>;
    signalProcess(pid!, 'SIGKILL');
    const [status] = await restarted;
    assert.equal(status.restarts, 1);
    assert.equal(status.state, 'running');
    assert.notEqual(status.pid, pid);
    const newPid = supervisor.pids()[0]!;
    await supervisor.stop();
    assert.equal(isAlive(newPid), false);
  });

  it('sends SIGKILL to a component that ignores SIGTERM past the grace period', async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor({ stopGraceMs: 300, journal: (line) => lines.push(line) });
    await supervisor.start(component('stubborn', "process.on('SIGTERM', () => {}); " + SERVE));
    const [pid] = supervisor.pids();
    await supervisor.stop();
    assert.equal(isAlive(pid!), false);
    assert.ok(lines.some((line) => line === 'stubborn did not stop within 0.3s; sending SIGKILL'), lines.join('\n'));
  });
});
