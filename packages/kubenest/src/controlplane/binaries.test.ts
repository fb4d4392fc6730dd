import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BINARY_NAMES, acquireBuildLock, cacheKey, checkCacheEntry, goToolEntry, pinnedVersions, resolveBinaries, resolveGoTool, verifyCacheEntry } from './binaries.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-bin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const toolsDir = resolve(fileURLToPath(import.meta.url), '../../../../../tools/k8s');

function entry(name: string, files: Record<string, string>, manifest?: object): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(path, file), content);
  if (manifest) writeFileSync(join(path, 'manifest.json'), JSON.stringify(manifest));
  return path;
}


describe('binary cache', () => {
  it('pins one Kubernetes version in build.sh and go.mod', () => {
    const goMod = readFileSync(join(toolsDir, 'go.mod'), 'utf8');
    const required = /^require k8s\.io\/kubernetes (v\S+)$/m.exec(goMod)?.[1];
    assert.equal(pinnedVersions()['kubernetes'], required);
    const staging = required!.replace(/^v1\./, 'v0.');
    for (const line of goMod.split('\n').filter((l) => l.includes(' => '))) {
      assert.ok(line.endsWith(staging), `replace line matches ${staging}: ${line.trim()}`);
    }
    assert.match(cacheKey(), new RegExp(`^k8s-${required!.replaceAll('.', '\\.')}-kine-v\\d+\\.\\d+\\.\\d+-kwok-v\\d+\\.\\d+\\.\\d+-[0-9a-f]{12}$`));
  });

  it('tells a missing entry, an unfinished build and a truncated file apart from a good entry', async () => {
    assert.equal(checkCacheEntry(join(dir, 'absent')), 'missing');
    assert.match(checkCacheEntry(entry('unfinished', { kine: 'x' })) ?? '', /no readable manifest/);
    const { createHash } = await import('node:crypto');
    const hash = (text: string): string => createHash('sha256').update(text).digest('hex');
    const good = entry('good', { kine: 'binary' }, { files: { kine: { size: 6, sha256: hash('binary') } } });
    assert.equal(checkCacheEntry(good), undefined);
    assert.equal(await verifyCacheEntry(good), undefined);
    const truncated = entry('truncated', { kine: 'bin' }, { files: { kine: { size: 6, sha256: hash('binary') } } });
    assert.equal(checkCacheEntry(truncated), 'kine has the wrong size');
    const altered = entry('altered', { kine: 'BINARY' }, { files: { kine: { size: 6, sha256: hash('binary') } } });
    assert.equal(checkCacheEntry(altered), undefined, 'the quick check looks at sizes only');
    assert.equal(await verifyCacheEntry(altered), 'kine does not match its recorded sha256');
  });

  it('names what a user-given directory lacks', async () => {
    const partial = entry('userdir', {});
    writeFileSync(join(partial, 'kine'), '#!/bin/sh\n', { mode: 0o755 });
    await assert.rejects(resolveBinaries({ binDir: partial }), (error: Error) =>
      error.message.startsWith(`--bin-dir=${partial} lacks ${BINARY_NAMES.filter((n) => n !== 'kine').join(', ')}.`));
  });
});

describe('Go tools for the tests', () => {
  const helmScript = resolve(toolsDir, '..', 'helm', 'build.sh');

  it('keys helm\'s cache entry by its pinned version and build script', () => {
    const { dir: entryDir, version } = goToolEntry(helmScript, 'helm', dir);
    assert.match(version, /^v4\.\d+\.\d+$/);
    assert.match(entryDir, new RegExp(`/tools/helm-${version.replaceAll('.', '\\.')}-[0-9a-f]{12}$`));
  });

  it('uses a built entry without building, and names a tool it has no script for', async () => {
    const { dir: entryDir } = goToolEntry(helmScript, 'helm', dir);
    mkdirSync(entryDir, { recursive: true });
    writeFileSync(join(entryDir, 'helm'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(await resolveGoTool('helm', { cacheDir: dir, progress: () => assert.fail('nothing to build') }), join(entryDir, 'helm'));
    await assert.rejects(resolveGoTool('no-such-tool', { cacheDir: dir }), /no build script for the tool no-such-tool/);
  });
});

describe('the build lock', () => {
  it('one build at a time: the second waits, told who builds, and takes it once let go; a lock directory left by an older kubenest is no obstacle', async () => {
    const lock = join(dir, 'entry.lock');
    mkdirSync(lock, { recursive: true });
    writeFileSync(join(lock, 'pid'), '999999999');
    const first = await acquireBuildLock(lock, () => assert.fail('the first takes it at once'));
    assert.equal(readFileSync(lock, 'utf8'), String(process.pid), 'the lock names its builder');
    const lines: string[] = [];
    let secondHolds = false;
    const second = acquireBuildLock(lock, (line) => lines.push(line)).then((release) => { secondHolds = true; return release; });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(secondHolds, false, 'the second waits while the first holds it');
    assert.deepEqual(lines, [`another kubenest (pid ${process.pid}) is building the binaries; waiting for it`]);
    first();
    const release = await second;
    release();
    assert.equal(existsSync(lock), false, 'let go: nothing left');
  });
});
