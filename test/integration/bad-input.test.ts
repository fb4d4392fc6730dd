import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BINARY_NAMES, cacheKey, readPids } from '@kubenest/kubenest';
import { kubenest, run, tempDir, testBinaries } from '@kubenest/testing';

/** A bin dir of symlinks to the real binaries, with some replaced or left out. */
function fakeBinDir(root: string, realDir: string, replace: Record<string, string | null>): string {
  const dir = join(root, 'bin');
  mkdirSync(join(dir, 'kwok-stages'), { recursive: true });
  for (const name of BINARY_NAMES) {
    const replacement = replace[name];
    if (replacement === null) continue;
    if (replacement !== undefined) {
      writeFileSync(join(dir, name), replacement, { mode: 0o755 });
    } else {
      symlinkSync(join(realDir, name), join(dir, name));
    }
  }
  return dir;
}

/** Processes still running from `dir` (their executable path lies inside it). */
async function processesFrom(dir: string): Promise<string> {
  const result = await run('pgrep', ['-fa', dir]);
  return result.stdout.split('\n').filter((line) => line && !line.includes('pgrep')).join('\n');
}

describe('bad input gets a clear error, a non-zero exit, and nothing left running', () => {
  const root = tempDir('kn-bad-');
  let realBin: string;
  let listener: Server;
  let busyPort: number;

  before(async () => {
    realBin = (await testBinaries()).dir;
    listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    busyPort = (listener.address() as { port: number }).port;
  });
  after(() => {
    listener.close();
    root.remove();
  });

  it('a port in use', async () => {
    const dataDir = join(root.path, 'port');
    const result = await kubenest(['host', 'up', '--data-dir', dataDir, '--port', String(busyPort), '--bin-dir', realBin]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`--port ${busyPort} is in use on 127\\.0\\.0\\.1; pick another port`));
    assert.deepEqual(readPids(join(dataDir, 'run', 'pids.json')), []);
    assert.equal(existsSync(join(dataDir, 'run', 'supervisor.pid')), false, 'the pid file of the lock\'s holder is gone with it');
  });

  it('a port out of range', async () => {
    const result = await kubenest(['host', 'up', '--data-dir', join(root.path, 'range'), '--port', '70000', '--bin-dir', realBin]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /--port.*expected a TCP port from 1 to 65535/);
  });

  it('an unwritable data dir', async () => {
    const file = join(root.path, 'a-file');
    writeFileSync(file, 'not a directory');
    const result = await kubenest(['host', 'up', '--data-dir', join(file, 'cluster'), '--bin-dir', realBin]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the data dir .*a-file\/cluster is not writable \(ENOTDIR\); choose another with --data-dir/);
  });

  it('a missing binary', async () => {
    const dir = tempDir('kn-miss-');
    try {
      const binDir = fakeBinDir(dir.path, realBin, { kwok: null });
      const result = await kubenest(['host', 'up', '--data-dir', join(dir.path, 'data'), '--bin-dir', binDir]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`--bin-dir=${binDir} lacks kwok\\. Point it at a directory holding`));
    } finally {
      dir.remove();
    }
  });

  it('a binary that fails at start: the error shows its log, and the components started before it are ended', async () => {
    const dir = tempDir('kn-fail-');
    try {
      const binDir = fakeBinDir(dir.path, realBin, { 'kube-apiserver': '#!/bin/sh\necho "simulated failure: cannot bind" >&2\nexit 3\n' });
      for (const stage of (await testBinaries()).kwokStages) symlinkSync(stage, join(binDir, 'kwok-stages', stage.split('/').pop()!));
      const result = await kubenest(['host', 'up', '--data-dir', join(dir.path, 'data'), '--bin-dir', binDir]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /kube-apiserver exited before it was ready \(code 3/);
      assert.match(result.stderr, /simulated failure: cannot bind/, 'the last lines of the component log are shown');
      assert.equal(await processesFrom(binDir), '', 'kine, started before the apiserver, was ended');
    } finally {
      dir.remove();
    }
  });

  it('a corrupted binary cache is detected and rebuilt, never used; without Go that is a clear error', async () => {
    const cache = tempDir('kn-cache-');
    try {
      const entry = join(cache.path, 'bin', cacheKey());
      mkdirSync(entry, { recursive: true });
      // What a build killed half-way leaves: binaries and no manifest.
      for (const name of BINARY_NAMES) writeFileSync(join(entry, name), 'truncated', { mode: 0o755 });
      const result = await kubenest(['binaries'], {
        env: { ...process.env, KUBENEST_CACHE: cache.path, KUBENEST_BIN_DIR: '', PATH: '/usr/bin:/bin' },
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /unusable \(no readable manifest: the build that wrote it did not finish\); rebuilding it/);
      assert.match(result.stderr, /no Go toolchain to build them/);
      assert.match(result.stderr, /Install Go 1\.26 or newer/);
    } finally {
      cache.remove();
    }
  });

  it('an unknown option or command is refused with usage help', async () => {
    const result = await kubenest(['host', 'up', '--nodez', '2']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unknown option '--nodez'/);
    assert.match(result.stderr, /--help/);
  });
});
