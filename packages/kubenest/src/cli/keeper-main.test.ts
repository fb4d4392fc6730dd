import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOCK_HELD_EXIT, readKeeperState, type SupervisorMessage } from '../controlplane/keeper.ts';

const KEEPER_MAIN = fileURLToPath(new URL('./keeper-main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kn-keeper-main-'));
const started: ChildProcess[] = [];
after(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(started.filter((child) => child.exitCode === null && child.signalCode === null).map((child) => once(child, 'exit')));
  rmSync(dir, { recursive: true, force: true });
});

/** A keeper of `runDir` over a stand-in supervisor that says ready and waits; resolves with its first message. */
function startKeeper(runDir: string): { child: ChildProcess; first: Promise<SupervisorMessage> } {
  const supervisor = "process.send({ type: 'ready', state: {} }); process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)";
  const child = spawn(process.execPath, [KEEPER_MAIN, runDir, '--', process.execPath, '-e', supervisor], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  started.push(child);
  return { child, first: once(child, 'message').then(([message]) => message as SupervisorMessage) };
}

describe('keeper-main', () => {
  it('one keeper per data dir: a second says another runs, exits with LOCK_HELD_EXIT and leaves the first\'s files alone', async () => {
    const runDir = join(dir, 'data', 'run');
    mkdirSync(runDir, { recursive: true });
    const first = startKeeper(runDir);
    assert.equal((await first.first).type, 'ready');
    // The keeper relays "ready" before it records it.
    for (let i = 0; i < 200 && readKeeperState(runDir)?.state !== 'running'; i++) await sleep(25);
    assert.equal(readKeeperState(runDir)?.state, 'running');
    const keeperFileBefore = readFileSync(join(runDir, 'keeper.json'), 'utf8');

    const second = startKeeper(runDir);
    const exited = once(second.child, 'exit');
    const message = await second.first;
    assert.deepEqual([message.type, message.type === 'failed' && /another kubenest keeper runs the cluster of .*data/.test(message.message)], ['failed', true]);
    assert.deepEqual(await exited, [LOCK_HELD_EXIT, null]);
    assert.equal(readFileSync(join(runDir, 'keeper.json'), 'utf8'), keeperFileBefore, 'the first keeper\'s state is untouched');
    assert.equal(first.child.exitCode, null, 'the first keeper still runs');
  });
});
