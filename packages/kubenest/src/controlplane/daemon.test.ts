import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { clusterLayout } from './control-plane.ts';
import { daemonStatus } from './daemon.ts';
import type { KeeperState } from './keeper.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-daemon-'));
let fakeKeeper: ChildProcess;
let dead: number;

before(async () => {
  // A process that looks like a keeper (its command line names keeper-main.ts), and a pid that ran and ended.
  fakeKeeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '/somewhere/keeper-main.ts'], { stdio: 'ignore' });
  const ended = spawn(process.execPath, ['-e', '']);
  dead = ended.pid!;
  await new Promise((resolve) => ended.once('exit', resolve));
  await sleep(100);
});
after(() => {
  fakeKeeper.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Files { keeper?: Partial<KeeperState>; supervisor?: number; state?: object; pids?: object[] }

/** A data dir holding exactly these run files. */
function layoutWith(name: string, files: Files) {
  const layout = clusterLayout(join(dir, name));
  mkdirSync(layout.runDir, { recursive: true });
  if (files.keeper) writeFileSync(join(layout.runDir, 'keeper.json'), JSON.stringify({ restarts: 0, crashesInARow: 0, history: [], ...files.keeper }));
  if (files.supervisor) writeFileSync(layout.lockFile, String(files.supervisor));
  if (files.state) writeFileSync(layout.stateFile, JSON.stringify(files.state));
  if (files.pids) writeFileSync(layout.pidsFile, JSON.stringify(files.pids));
  return layout;
}

const running = (name: string, state: string) => ({ name, pid: 1, state, restarts: 0, logFile: '' });

describe('daemonStatus', () => {
  it('running, and degraded with the components that are not', () => {
    const self = process.pid;
    assert.equal(daemonStatus(layoutWith('ok', { keeper: { pid: fakeKeeper.pid!, state: 'running' }, supervisor: self, state: { supervisorPid: self, components: [running('kine', 'running')] } })).phase, 'running');
    const degraded = daemonStatus(layoutWith('deg', { supervisor: self, state: { supervisorPid: self, components: [running('kine', 'restarting')] } }));
    assert.deepEqual([degraded.phase, degraded.detail], ['degraded', 'kine restarting']);
    const noLease = daemonStatus(layoutWith('lease', { supervisor: self, state: { supervisorPid: self, leading: false, components: [] } }));
    assert.equal(noLease.phase, 'degraded');
    assert.match(noLease.detail ?? '', /Lease on the host is not held/);
  });

  it('a state written by a supervisor that is gone is not taken for the live one\'s', () => {
    const status = daemonStatus(layoutWith('stale', { supervisor: process.pid, state: { supervisorPid: dead, components: [] } }));
    assert.equal(status.phase, 'starting');
  });

  it('recovering while the keeper brings the supervisor back, with the crash and the restart number', () => {
    const status = daemonStatus(layoutWith('rec', {
      keeper: { pid: fakeKeeper.pid!, state: 'recovering', restarts: 1, restartedAt: '2026-11-30T10:00:00.000Z', lastCrash: { code: null, signal: 'SIGKILL', at: '2026-11-30T10:00:05.000Z' } },
      supervisor: dead,
    }));
    assert.equal(status.phase, 'recovering');
    assert.equal(status.detail, 'supervisor killed by SIGKILL at 2026-11-30T10:00:05.000Z; waiting to start again (restart #2)');
    assert.equal(status.supervisorRestarts, 1);
  });

  it('failed with the keeper\'s reason, once it gave up', () => {
    const status = daemonStatus(layoutWith('failed', { keeper: { pid: dead, state: 'failed', reason: 'crashed 6 times' }, supervisor: dead }));
    assert.deepEqual([status.phase, status.detail], ['failed', 'crashed 6 times']);
  });

  it('stopped only when nothing of it runs; components left without a supervisor are degraded', () => {
    assert.equal(daemonStatus(layoutWith('gone', { keeper: { pid: dead, state: 'running' }, supervisor: dead })).phase, 'stopped');
    const orphaned = daemonStatus(layoutWith('orphans', { supervisor: dead, pids: [{ name: 'kine', pid: fakeKeeper.pid!, command: process.execPath }] }));
    assert.equal(orphaned.phase, 'degraded');
    assert.match(orphaned.detail ?? '', /no supervisor; still running: kine/);
  });
});
