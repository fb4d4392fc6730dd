import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { LOCK_HELD_EXIT, RECOVERY, afterSupervisorExit, isKeeperProcess, keep, keeperFile, readKeeperState, type Exit } from './keeper.ts';
import { isAlive, isOurProcess, readPidFile, readPids, signalProcess } from './pids.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-keeper-'));
const keepers: ReturnType<typeof keep>[] = [];
after(async () => {
  // A failed assertion must not leave a keeper (and its fake supervisor) running.
  for (const keeper of keepers) keeper.stop('test over');
  await Promise.all(keepers.map((keeper) => keeper.done));
  rmSync(dir, { recursive: true, force: true });
});
function track(keeper: ReturnType<typeof keep>): ReturnType<typeof keep> {
  keepers.push(keeper);
  return keeper;
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const killed: Exit = { code: null, signal: 'SIGKILL', at: '2026-11-30T16:00:00.000Z' };
const decide = (over: Partial<Parameters<typeof afterSupervisorExit>[0]>) =>
  afterSupervisorExit({ stopping: false, everReady: true, exit: killed, crashesInARow: 0, readySince: 0, now: 1_000, ...over });

describe('afterSupervisorExit', () => {
  it('ends the keeper on a stop it was asked for, a clean exit, or a first start that never got ready', () => {
    assert.deepEqual(decide({ stopping: true }), { action: 'exit', code: 0 });
    assert.deepEqual(decide({ exit: { code: 0, signal: null, at: '' } }), { action: 'exit', code: 0 });
    assert.deepEqual(decide({ everReady: false }), { action: 'exit', code: 1 });
  });

  it('restarts a crash with growing delays, then fails with the reason', () => {
    const delays = RECOVERY.backoffMs.map((_, crashes) => {
      const next = decide({ crashesInARow: crashes });
      assert.equal(next.action, 'restart');
      return next.action === 'restart' ? next.delayMs : 0;
    });
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000]);
    const failed = decide({ crashesInARow: RECOVERY.backoffMs.length, lastFailure: 'cannot reach the host' });
    assert.equal(failed.action, 'fail');
    assert.match(failed.action === 'fail' ? failed.reason : '',
      /crashed 6 times in a row \(last killed by SIGKILL at 2026-11-30T16:00:00.000Z: cannot reach the host\)/);
    const exited = decide({ crashesInARow: RECOVERY.backoffMs.length, exit: { code: 1, signal: null, at: 'T' } });
    assert.match(exited.action === 'fail' ? exited.reason : '', /last exited with code 1 at T/);
  });

  it('counts afresh after the supervisor ran for a stable period', () => {
    assert.deepEqual(decide({ crashesInARow: 5, readySince: 0, now: RECOVERY.stableMs }), { action: 'restart', delayMs: 1_000, crashesInARow: 1 });
    assert.equal(decide({ crashesInARow: 5, readySince: undefined, now: RECOVERY.stableMs }).action, 'fail', 'never ready since the last restart');
  });
});

/**
 * A stand-in supervisor: records a "component" (a sleeping child, tied to nothing) in pids.json
 * as the real one does, writes its own pid, and reports ready over IPC unless told to fail.
 */
const FAKE = `
const { spawn } = require('node:child_process');
const { writeFileSync, existsSync } = require('node:fs');
const [runDir] = process.argv.slice(1);
if (existsSync(runDir + '/fail-start')) { process.send({ type: 'failed', message: 'cannot reach the host' }); process.exit(1); }
const component = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
writeFileSync(runDir + '/pids.json', JSON.stringify([{ name: 'component', pid: component.pid, command: process.execPath }]));
writeFileSync(runDir + '/supervisor.pid', String(process.pid));
process.on('SIGTERM', () => { component.kill('SIGKILL'); process.exit(0); });
process.send({ type: 'ready', state: {} });
setInterval(() => {}, 1000);
`;

function runDirFor(name: string): string {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true });
  return runDir;
}

describe('keep', () => {
  const policy = { backoffMs: [50, 100, 200], stableMs: 60_000 };
  const supervisorPid = (runDir: string): number => readPidFile(join(runDir, 'supervisor.pid')) ?? assert.fail(`supervisor.pid in ${runDir} names no process`);

  it('starts a killed supervisor again, ending what it left, and stops for good when asked', async () => {
    const runDir = runDirFor('restart');
    const lines: string[] = [];
    const keeper = track(keep({ runDir, command: process.execPath, args: ['-e', FAKE, runDir], log: (line) => lines.push(line), policy }));
    await until(() => readKeeperState(runDir)?.state === 'running', 'the first run');
    const first = supervisorPid(runDir);
    const firstComponent = readPids(join(runDir, 'pids.json'))[0]!.pid;
    signalProcess(first, 'SIGKILL');
    await until(() => readKeeperState(runDir)?.restarts === 1 && readKeeperState(runDir)?.state === 'running', 'the restart');
    const state = readKeeperState(runDir)!;
    assert.equal(state.lastCrash?.signal, 'SIGKILL');
    assert.deepEqual(state.history.map((h) => h.state), ['running', 'recovering', 'running']);
    assert.notEqual(supervisorPid(runDir), first);
    await until(() => !isAlive(firstComponent), 'the component the killed supervisor left to be ended');
    assert.ok(lines.some((line) => /killed by SIGKILL; starting it again in 0.05s \(restart #1/.test(line)), lines.join('\n'));

    const second = supervisorPid(runDir);
    const secondComponent = readPids(join(runDir, 'pids.json'))[0]!.pid;
    keeper.stop('test');
    assert.equal(await keeper.done, 0);
    assert.equal(isAlive(second), false);
    // Ended; gone once pid 1 has reaped it.
    await until(() => !isAlive(secondComponent), 'the component to be gone');
    assert.equal(existsSync(keeperFile(runDir)), false, 'a stopped keeper leaves no state behind');
  });

  it('ends a crash loop in failed, with the reason, and leaves nothing running', async () => {
    const runDir = runDirFor('loop');
    const keeper = track(keep({ runDir, command: process.execPath, args: ['-e', FAKE, runDir], log: () => {}, policy }));
    await until(() => readKeeperState(runDir)?.state === 'running', 'the first run');
    // From now on every start fails, as a supervisor whose host is gone would.
    writeFileSync(join(runDir, 'fail-start'), '');
    const component = readPids(join(runDir, 'pids.json'))[0]!.pid;
    signalProcess(supervisorPid(runDir), 'SIGKILL');
    assert.equal(await keeper.done, 1);
    const state = readKeeperState(runDir)!;
    assert.equal(state.state, 'failed');
    assert.equal(state.restarts, 3);
    assert.match(state.reason ?? '', /crashed 4 times in a row \(last exited with code 1 at .*: cannot reach the host\)/);
    assert.deepEqual(state.history.map((h) => h.state), ['running', 'recovering', 'recovering', 'recovering', 'failed']);
    await until(() => !isAlive(component), 'the component to be gone');
  });

  it('a stop during the backoff cancels the restart', async () => {
    const runDir = runDirFor('cancel');
    const keeper = track(keep({ runDir, command: process.execPath, args: ['-e', FAKE, runDir], log: () => {}, policy: { backoffMs: [60_000], stableMs: 60_000 } }));
    await until(() => readKeeperState(runDir)?.state === 'running', 'the first run');
    const first = supervisorPid(runDir);
    signalProcess(first, 'SIGKILL');
    await until(() => readKeeperState(runDir)?.state === 'recovering', 'recovering');
    keeper.stop('test');
    assert.equal(await keeper.done, 0);
    assert.equal(supervisorPid(runDir), first, 'no new supervisor was started');
  });
});

describe('components tied to the supervisor', () => {
  it('end when the supervisor is killed with SIGKILL', async () => {
    const supervisorModule = fileURLToPath(new URL('./supervisor.ts', import.meta.url));
    const marker = join(dir, 'tied.ready');
    const script = `
      import { Supervisor } from ${JSON.stringify(supervisorModule)};
      import { existsSync } from 'node:fs';
      const supervisor = new Supervisor({ pidFile: ${JSON.stringify(join(dir, 'tied-pids.json'))} });
      await supervisor.start({ name: 'c', command: process.execPath, logFile: ${JSON.stringify(join(dir, 'tied.log'))},
        args: ['-e', "require('fs').writeFileSync(${JSON.stringify(marker).replaceAll('"', '\\"')}, ''); setInterval(() => {}, 1000)"],
        ready: async () => existsSync(${JSON.stringify(marker)}) });
      console.log(supervisor.pids()[0]);
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    await until(() => /\d+\n/.test(out), 'the component');
    const component = Number(out.trim());
    assert.equal(isAlive(component), true);
    assert.match(readFileSync(`/proc/${component}/cmdline`, 'utf8'), /^[^\0]*node/, 'the pid is the component itself, not a wrapper');
    parent.kill('SIGKILL');
    await until(() => !isAlive(component), 'the component to end with its supervisor', 5_000);
  });
});

describe('isKeeperProcess', () => {
  it('knows a keeper run from the sources and one run from the bundle (ADR 30), and nothing else', async () => {
    const spawnLike = (arg: string): ChildProcess => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', arg], { stdio: 'ignore' });
    const fromSources = spawnLike('/somewhere/keeper-main.ts');
    const fromBundle = spawnLike('/cache/bundles/0123/keeper-main.mjs');
    const other = spawnLike('/cache/bundles/0123/main.mjs');
    try {
      await sleep(200);
      assert.equal(isKeeperProcess(fromSources.pid!), true);
      assert.equal(isKeeperProcess(fromBundle.pid!), true);
      assert.equal(isKeeperProcess(other.pid!), false);
    } finally {
      for (const child of [fromSources, fromBundle, other]) child.kill('SIGKILL');
    }
  });
});

describe('keep, when another supervisor holds the data dir', () => {
  it('a supervisor that exits with LOCK_HELD_EXIT before it is ready: the keeper ends, leaving what pids.json lists alone', async () => {
    const runDir = runDirFor('lock-held');
    // The running supervisor's component, as its pids.json lists it.
    const theirs = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
    try {
      writeFileSync(join(runDir, 'pids.json'), JSON.stringify([{ name: 'kine', pid: theirs.pid, command: process.execPath }]));
      const keeper = track(keep({ runDir, command: process.execPath, args: ['-e', `process.exit(${LOCK_HELD_EXIT})`], log: () => {}, policy: { backoffMs: [50], stableMs: 60_000 } }));
      assert.equal(await keeper.done, 1);
      assert.ok(isOurProcess(theirs.pid!, process.execPath), 'the other supervisor\'s component still runs');
      assert.equal(readPids(join(runDir, 'pids.json')).length, 1, 'its pids.json is kept');
    } finally {
      theirs.kill('SIGKILL');
    }
  });
});
