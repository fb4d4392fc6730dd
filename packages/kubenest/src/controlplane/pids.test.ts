import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isAlive, isOurProcess, reapRecorded, recordPids, signalGroup, signalProcess } from './pids.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-pids-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('recorded pids', () => {
  it('ends recorded processes that still run the recorded command, and only those', async () => {
    const ours = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const file = join(dir, 'pids.json');
      recordPids(file, [
        { name: 'ours', pid: ours.pid!, command: process.execPath },
        // Same pid, different command: a reused pid must never be killed.
        { name: 'reused', pid: other.pid!, command: '/usr/bin/something-else' },
      ]);
      assert.ok(isOurProcess(ours.pid!, process.execPath));
      const oursExited = new Promise((resolve) => ours.once('exit', resolve));
      assert.deepEqual(await reapRecorded(file), [`ours (pid ${ours.pid})`]);
      await oursExited;
      assert.equal(isAlive(other.pid!), true, 'the process whose command differs is left alone');
    } finally {
      other.kill('SIGKILL');
      ours.kill('SIGKILL');
    }
  });
});

describe('signalling processes', () => {
  it('refuses pid 0 and negative or fractional pids, which would signal process groups', () => {
    for (const pid of [0, -1, -process.pid, Number(''), NaN, 1.5]) {
      assert.throws(() => signalProcess(pid, 'SIGKILL'), /refusing to signal .*: not the pid of one process/, String(pid));
      assert.equal(isAlive(pid), false, String(pid));
      assert.equal(isOurProcess(pid, process.execPath), false, String(pid));
    }
    // Quiet no-ops: had they reached process.kill(0 or -0), this test runner would be gone.
    signalGroup(0, 'SIGTERM');
    signalGroup(undefined, 'SIGTERM');
    signalGroup(Number(''), 'SIGTERM');
    assert.equal(isAlive(process.pid), true);
  });

  it('signalGroup ends a group leader and its children; signalProcess one process', async () => {
    const leader = spawn(process.execPath, ['-e', "console.log(require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }).pid); setInterval(() => {}, 1000)"], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const child = Number(await new Promise<string>((resolve) => leader.stdout.once('data', (data: Buffer) => resolve(data.toString()))));
    assert.ok(isOurProcess(child, process.execPath));
    const exited = new Promise((resolve) => leader.once('exit', resolve));
    signalGroup(leader.pid, 'SIGKILL');
    await exited;
    // Until its new parent reaps it, the killed child is a zombie: alive to kill(0), with no command line.
    for (let i = 0; i < 50 && isOurProcess(child, process.execPath); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isOurProcess(child, process.execPath), false, 'the child of the group went with it');

    const one = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const oneExited = new Promise((resolve) => one.once('exit', (_code, signal) => resolve(signal)));
    signalProcess(one.pid!, 'SIGTERM');
    assert.equal(await oneExited, 'SIGTERM');
  });
});
