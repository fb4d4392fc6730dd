import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isAlive, isOurProcess, reapRecorded, recordPids } from './pids.ts';

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
