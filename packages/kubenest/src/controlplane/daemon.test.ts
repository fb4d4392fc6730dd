import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { clusterLayout } from './control-plane.ts';
import { acquireLock, daemonStatus, readLockPid, supervisorLock } from './daemon.ts';
import { tryLock } from './lock.ts';
import { isAlive, signalProcess } from './pids.ts';
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

/** daemonStatus while this process holds the data dir's lock, as the supervisor the files name would. */
async function statusHeld(layout: ReturnType<typeof layoutWith>) {
  const release = (await tryLock(supervisorLock(layout)))!;
  try {
    return daemonStatus(layout);
  } finally {
    release();
  }
}

const running = (name: string, state: string) => ({ name, pid: 1, state, restarts: 0, logFile: '' });

describe('daemonStatus', () => {
  it('running, and degraded with the components that are not', async () => {
    const self = process.pid;
    assert.equal((await statusHeld(layoutWith('ok', { keeper: { pid: fakeKeeper.pid!, state: 'running' }, supervisor: self, state: { supervisorPid: self, components: [running('kine', 'running')] } }))).phase, 'running');
    const degraded = await statusHeld(layoutWith('deg', { supervisor: self, state: { supervisorPid: self, components: [running('kine', 'restarting')] } }));
    assert.deepEqual([degraded.phase, degraded.detail], ['degraded', 'kine restarting']);
    const noLease = await statusHeld(layoutWith('lease', { supervisor: self, state: { supervisorPid: self, leading: false, components: [] } }));
    assert.equal(noLease.phase, 'degraded');
    assert.match(noLease.detail ?? '', /Lease on the host is not held/);
  });

  it('a state written by a supervisor that is gone is not taken for the live one\'s', async () => {
    const status = await statusHeld(layoutWith('stale', { supervisor: process.pid, state: { supervisorPid: dead, components: [] } }));
    assert.equal(status.phase, 'starting');
  });

  it('a pid file naming a live process that holds no lock (its pid reused, after a reboot) is no supervisor', async () => {
    const layout = layoutWith('reused', { supervisor: fakeKeeper.pid!, state: { supervisorPid: fakeKeeper.pid!, components: [] } });
    assert.equal(daemonStatus(layout).phase, 'stopped');
    const release = await acquireLock(layout);
    assert.equal(readLockPid(layout), process.pid, 'a start goes ahead');
    release();
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
  const daemonModule = JSON.stringify(new URL('./daemon.ts', import.meta.url).href);
  const spawnScript = (script: string) => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = (child: ReturnType<typeof spawnScript>): Promise<string> => new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before a line: ${out}`)));
  });

  it('one holder at a time: four processes race for it, 1,000 times each', async () => {
    // Each contender takes the lock, writes "in" and "out" around holding it, checks the pid
    // file names it meanwhile, and lets go. Two holders at once show up as interleaved lines.
    // (The lock before ADR 32, a pid file created exclusively, failed this in every run.)
    const layout = layoutWith('race', {});
    const journal = join(dir, 'race-journal');
    const contender = `
      const { appendFileSync } = await import('node:fs');
      const { acquireLock, readLockPid } = await import(${daemonModule});
      const layout = ${JSON.stringify(layout)};
      let held = 0;
      for (let i = 0; i < 1000; i++) {
        let release;
        try { release = await acquireLock(layout); } catch (error) {
          if (!/already running/.test(error.message)) throw error;
          continue;
        }
        appendFileSync(${JSON.stringify(journal)}, 'in ' + process.pid + '\\n');
        if (readLockPid(layout) !== process.pid) appendFileSync(${JSON.stringify(journal)}, 'pid-file ' + readLockPid(layout) + '\\n');
        appendFileSync(${JSON.stringify(journal)}, 'out ' + process.pid + '\\n');
        release();
        held++;
      }
      console.log(held);`;
    const held = (await Promise.all(Array.from({ length: 4 }, async () => {
      const child = spawnScript(contender);
      const line = firstLine(child);
      const [code] = await once(child, 'exit') as [number | null];
      assert.equal(code, 0, 'a contender failed');
      return Number(await line);
    })));
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    assert.deepEqual(lines.filter((line) => line.startsWith('pid-file')), [], 'while held, the pid file named another: two holders at once');
    assert.equal(lines.length, 2 * held.reduce((a, b) => a + b, 0), 'each time held: in, out');
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, leave] = [lines[i]!.split(' '), lines[i + 1]!.split(' ')];
      assert.deepEqual([enter[0], leave[0], leave[1]], ['in', 'out', enter[1]], `line ${i + 1}: two holders at once`);
    }
    assert.ok(held.filter((n) => n > 0).length >= 2, `more than one contender took the lock in turn (${held.join(', ')})`);
    assert.deepEqual(readdirSync(layout.runDir), [], 'let go: no pid file, no temporary file');
  });

  it('is refused naming its live holder, and free the moment the holder is killed, though a child of it lives on', async () => {
    const layout = layoutWith('killed', {});
    const holder = spawnScript(`
      const { spawn } = await import('node:child_process');
      const { acquireLock } = await import(${daemonModule});
      await acquireLock(${JSON.stringify(layout)});
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
      console.log(child.pid);
      setInterval(() => {}, 1000);`);
    const orphan = Number(await firstLine(holder));
    try {
      await assert.rejects(acquireLock(layout), new RegExp(`already running from .* \\(supervisor pid ${holder.pid}\\)`));
      assert.equal(readLockPid(layout), holder.pid, 'the holder keeps its pid file');
      const exited = once(holder, 'exit');
      signalProcess(holder.pid!, 'SIGKILL');
      await exited;
      assert.ok(isAlive(orphan), 'the holder\'s child still runs');
      const release = await acquireLock(layout);
      assert.equal(readLockPid(layout), process.pid, 'the pid file names the new holder');
      release();
    } finally {
      if (isAlive(orphan)) signalProcess(orphan, 'SIGKILL');
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    }
  });

  it('a pid file left empty, garbled or naming a dead pid does not stop a start', async () => {
    for (const [name, content] of [['dead', String(dead)], ['empty', ''], ['garbled', 'pid?\n']] as const) {
      const layout = layoutWith(`lock-${name}`, {});
      writeFileSync(layout.lockFile, content);
      const release = await acquireLock(layout);
      assert.equal(readFileSync(layout.lockFile, 'utf8'), String(process.pid), name);
      release();
      assert.deepEqual(readdirSync(layout.runDir), [], `${name}: let go, nothing left`);
    }
  });
});
