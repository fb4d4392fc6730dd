import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { clusterLayout } from './control-plane.ts';
import { acquireLock, daemonStatus } from './daemon.ts';
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

describe('the data dir lock', () => {
  it('is taken over when stale (a dead pid, an empty or garbled file) and refused while its holder lives', () => {
    for (const [name, content] of [['dead', String(dead)], ['empty', ''], ['garbled', 'pid?\n']] as const) {
      const layout = layoutWith(`lock-${name}`, {});
      writeFileSync(layout.lockFile, content);
      const release = acquireLock(layout);
      assert.equal(readFileSync(layout.lockFile, 'utf8'), String(process.pid), name);
      release();
      assert.deepEqual(readdirSync(layout.runDir), [], `${name}: released, nothing left`);
    }
    const held = layoutWith('lock-held', { supervisor: fakeKeeper.pid! });
    assert.throws(() => acquireLock(held), new RegExp(`already running from .* \\(supervisor pid ${fakeKeeper.pid}\\)`));
    assert.equal(readFileSync(held.lockFile, 'utf8'), String(fakeKeeper.pid), 'the live holder keeps its lock');
  });

  it('of processes racing for it, one holds it at a time, also when they find it stale', async () => {
    // Each contender takes the lock, writes "in" and "out" around holding it, and lets go, many
    // times; every third time it leaves the lock behind naming a dead pid, as a killed supervisor
    // would. Once, a contender that read the file between its creation and its write took the
    // empty file for a stale lock, removed it and held the lock alongside its owner.
    const layout = clusterLayout(join(dir, 'race'));
    mkdirSync(layout.runDir, { recursive: true });
    const journal = join(dir, 'race-journal');
    const contender = `
      const { appendFileSync, renameSync, writeFileSync } = await import('node:fs');
      const { acquireLock } = await import(${JSON.stringify(new URL('./daemon.ts', import.meta.url).href)});
      const layout = ${JSON.stringify(layout)};
      let held = 0;
      for (let i = 0; i < 3000; i++) {
        let release;
        try { release = acquireLock(layout); } catch (error) {
          if (!/already running|could not take the lock/.test(error.message)) throw error;
          continue;
        }
        appendFileSync(${JSON.stringify(journal)}, 'in ' + process.pid + '\\n');
        appendFileSync(${JSON.stringify(journal)}, 'out ' + process.pid + '\\n');
        if (i % 3 === 0) {
          writeFileSync(layout.lockFile + '.crash' + process.pid, '${dead}');
          renameSync(layout.lockFile + '.crash' + process.pid, layout.lockFile);
        } else {
          release();
        }
        held++;
      }
      console.log(held);`;
    const contenders = Array.from({ length: 4 }, () => spawn(process.execPath, ['--input-type=module', '-e', contender], { stdio: ['ignore', 'pipe', 'inherit'] }));
    const held = await Promise.all(contenders.map((child) => new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (data: Buffer) => { out += data.toString(); });
      child.once('exit', (code) => code === 0 ? resolve(Number(out)) : reject(new Error(`a contender exited with ${code}`)));
    })));
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2 * held.reduce((a, b) => a + b, 0));
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, leave] = [lines[i]!.split(' '), lines[i + 1]!.split(' ')];
      assert.deepEqual([enter[0], leave[0], leave[1]], ['in', 'out', enter[1]], `line ${i + 1}: two holders at once`);
    }
    assert.ok(held.filter((n) => n > 0).length >= 2, `more than one contender took the lock in turn (${held.join(', ')})`);
    assert.deepEqual(readdirSync(layout.runDir).filter((file) => file !== 'supervisor.pid'), [], 'no file left aside');
  });
});
