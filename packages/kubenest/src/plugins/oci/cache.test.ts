import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkEntry, commitEntry, entryDir, executableProblem, listPluginFiles, lookupRef, partialDir, rememberRef, removeStalePartials, type ImageRecord } from './cache.ts';

const work = mkdtempSync(join(tmpdir(), 'kn-plugin-cache-'));
after(() => rmSync(work, { recursive: true, force: true }));
const DIGEST = `sha256:${'c'.repeat(64)}`;

function imageDir(files: Record<string, [string, number]>): string {
  const dir = mkdtempSync(join(work, 'img-'));
  for (const [path, [content, mode]] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content, { mode });
  }
  return dir;
}

describe('executableProblem', () => {
  it('accepts an executable /plugin/plugin, also through a symlink inside /plugin', () => {
    assert.equal(executableProblem(imageDir({ 'plugin/plugin': ['x', 0o755] })), undefined);
    const linked = imageDir({ 'plugin/bin/real': ['x', 0o755] });
    symlinkSync('bin/real', join(linked, 'plugin/plugin'));
    assert.equal(executableProblem(linked), undefined);
  });

  it('says what is wrong otherwise', () => {
    assert.match(executableProblem(imageDir({ 'bin/sh': ['x', 0o755] })) ?? '', /no \/plugin directory/);
    assert.match(executableProblem(imageDir({ 'plugin/other': ['x', 0o755] })) ?? '', /has \/plugin but no \/plugin\/plugin/);
    assert.match(executableProblem(imageDir({ 'plugin/plugin': ['x', 0o644] })) ?? '', /not executable \(mode 644\); set its execute bits/);
    const dir = imageDir({ 'plugin/plugin/inner': ['x', 0o755] });
    assert.match(executableProblem(dir) ?? '', /not a regular file/);
    const outside = imageDir({ 'other/real': ['x', 0o755] });
    mkdirSync(join(outside, 'plugin'));
    symlinkSync('../other/real', join(outside, 'plugin/plugin'));
    assert.match(executableProblem(outside) ?? '', /resolves outside \/plugin/);
  });
});

describe('cache entries', () => {
  it('commits a partial directory, then notices a file that changed size', async () => {
    const root = join(work, 'cache-1');
    const partial = partialDir(root, DIGEST);
    mkdirSync(join(partial, 'plugin'));
    writeFileSync(join(partial, 'plugin/plugin'), 'binary', { mode: 0o755 });
    assert.equal(checkEntry(root, DIGEST), 'missing');
    const record: ImageRecord = { digest: DIGEST, reference: 'r/x:v1', platform: 'linux/amd64', layers: [], pulledAt: '', files: listPluginFiles(partial) };
    assert.deepEqual(record.files, { 'plugin/plugin': 6 });
    await commitEntry(root, partial, record);
    assert.equal(existsSync(partial), false);
    assert.equal(checkEntry(root, DIGEST), undefined);
    writeFileSync(join(entryDir(root, DIGEST), 'plugin/plugin'), 'trunc');
    assert.equal(checkEntry(root, DIGEST), 'plugin/plugin has the wrong size');
    rmSync(join(entryDir(root, DIGEST), 'image.json'));
    assert.equal(checkEntry(root, DIGEST), 'image.json is missing or unreadable');
  });

  it('gives each pull its own partial directory and removes those of dead processes only', () => {
    const root = join(work, 'cache-2');
    const a = partialDir(root, DIGEST);
    const b = partialDir(root, DIGEST);
    assert.notEqual(a, b);
    // A pid that has exited: a finished child process's.
    const dead = spawnSync('true').pid;
    mkdirSync(`${entryDir(root, DIGEST)}.partial-${dead}-0abc`);
    removeStalePartials(root);
    assert.deepEqual(readdirSync(root).sort(), [a, b].map((p) => p.slice(root.length + 1)).sort());
  });

  it('remembers what a reference resolved to', async () => {
    const root = join(work, 'cache-3');
    assert.equal(lookupRef(root, 'r/x:v1'), undefined);
    await rememberRef(root, 'r/x:v1', DIGEST);
    assert.equal(lookupRef(root, 'r/x:v1')?.digest, DIGEST);
    assert.equal(lookupRef(root, 'r/x:v2'), undefined);
  });
});
