import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { LayerError, applyLayerFile, classifyEntry, normalizeEntryPath, symlinkTarget } from './layers.ts';

const work = mkdtempSync(join(tmpdir(), 'kn-layers-'));
after(() => rmSync(work, { recursive: true, force: true }));

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo'; content?: string; linkname?: string; mode?: number };

let n = 0;
/** Writes a layer tar (gzip unless told otherwise) holding `entries`, returns its path. */
async function layer(entries: Entry[], compress: boolean | 'zstd' = true): Promise<string> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => { chunks.push(chunk as Buffer); });
  const done = new Promise<void>((resolve) => { pack.on('end', () => resolve()); });
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = { name: entry.name, type, linkname: entry.linkname, mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644) };
    if (type === 'file') pack.entry(header, entry.content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  const path = join(work, `layer-${n++}.tar${compress === 'zstd' ? '.zst' : compress ? '.gz' : ''}`);
  writeFileSync(path, compress === 'zstd' ? zstdCompressSync(tar) : compress ? gzipSync(tar) : tar);
  return path;
}

function freshRoot(): string {
  return mkdtempSync(join(work, 'root-'));
}

/** Every path under root/plugin, with file contents and symlink targets: a picture of the result. */
function tree(root: string, dir = 'plugin'): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(join(root, dir))) return out;
  for (const name of readdirSync(join(root, dir)).sort()) {
    const rel = `${dir}/${name}`;
    const stat = lstatSync(join(root, rel));
    if (stat.isSymbolicLink()) out[rel] = `-> ${readlinkSync(join(root, rel))}`;
    else if (stat.isDirectory()) { out[rel] = '/'; Object.assign(out, tree(root, rel)); }
    else out[rel] = readFileSync(join(root, rel), 'utf8');
  }
  return out;
}

describe('entry names', () => {
  it('normalizes ./, leading slashes and trailing slashes', () => {
    assert.equal(normalizeEntryPath('./plugin/plugin'), 'plugin/plugin');
    assert.equal(normalizeEntryPath('/plugin/'), 'plugin');
    assert.equal(normalizeEntryPath('plugin/a/../b'), 'plugin/b');
    assert.equal(normalizeEntryPath('./'), '');
  });

  it('refuses names that climb out of the root', () => {
    for (const name of ['../etc/passwd', 'plugin/../../x', '..']) assert.throws(() => normalizeEntryPath(name), LayerError, name);
  });

  it('classifies whiteouts and opaque markers', () => {
    assert.deepEqual(classifyEntry('plugin/.wh.old'), { kind: 'whiteout', path: 'plugin/old' });
    assert.deepEqual(classifyEntry('./.wh.plugin'), { kind: 'whiteout', path: 'plugin' });
    assert.deepEqual(classifyEntry('plugin/lib/.wh..wh..opq'), { kind: 'opaque', dir: 'plugin/lib' });
    assert.deepEqual(classifyEntry('.wh..wh..opq'), { kind: 'opaque', dir: '' });
    assert.deepEqual(classifyEntry('.wh..wh.plnk/1234'), { kind: 'path', path: '.wh..wh.plnk/1234' });
    assert.deepEqual(classifyEntry('plugin/.wh..wh.plnk'), { kind: 'none' });
    assert.deepEqual(classifyEntry('plugin/plugin'), { kind: 'path', path: 'plugin/plugin' });
  });

  it('resolves symlink targets against the image root', () => {
    assert.equal(symlinkTarget('plugin/plugin', 'bin/p'), 'plugin/bin/p');
    assert.equal(symlinkTarget('plugin/plugin', '/plugin/bin/p'), 'plugin/bin/p');
    assert.equal(symlinkTarget('plugin/plugin', '../usr/bin/p'), 'usr/bin/p');
    assert.equal(symlinkTarget('plugin/plugin', '../../../etc/passwd'), '..');
  });
});

describe('applyLayerFile', () => {
  it('extracts only /plugin, keeping modes, from gzip, plain and zstd tars', async () => {
    const root = freshRoot();
    await applyLayerFile(await layer([
      { name: 'etc/passwd', content: 'root' },
      { name: 'plugin/', type: 'directory' },
      { name: 'plugin/plugin', content: '#!/bin/sh\necho one\n', mode: 0o4755 },
    ]), root, 'plugin');
    await applyLayerFile(await layer([{ name: './plugin/data/config.yaml', content: 'a: 1' }], false), root, 'plugin');
    await applyLayerFile(await layer([{ name: 'plugin/data/zstd.txt', content: 'z' }], 'zstd'), root, 'plugin');
    assert.deepEqual(tree(root), { 'plugin/data': '/', 'plugin/data/config.yaml': 'a: 1', 'plugin/data/zstd.txt': 'z', 'plugin/plugin': '#!/bin/sh\necho one\n' });
    assert.equal(existsSync(join(root, 'etc')), false);
    assert.equal(statSync(join(root, 'plugin/plugin')).mode & 0o7777, 0o755, 'the set-uid bit is dropped, the execute bits kept');
  });

  it('applies whiteouts and opaque directories of later layers to earlier ones', async () => {
    const root = freshRoot();
    await applyLayerFile(await layer([
      { name: 'plugin/plugin', content: 'v1' },
      { name: 'plugin/old.txt', content: 'old' },
      { name: 'plugin/lib/a.so', content: 'a' },
      { name: 'plugin/lib/b.so', content: 'b' },
    ]), root, 'plugin');
    await applyLayerFile(await layer([
      { name: 'plugin/.wh.old.txt' },
      // Opaque marker after the layer's own file: the new c.so stays, the lower a.so and b.so go.
      { name: 'plugin/lib/c.so', content: 'c' },
      { name: 'plugin/lib/.wh..wh..opq' },
      { name: 'plugin/plugin', content: 'v2' },
    ]), root, 'plugin');
    assert.deepEqual(tree(root), { 'plugin/lib': '/', 'plugin/lib/c.so': 'c', 'plugin/plugin': 'v2' });
  });

  it('does not let a whiteout hide what its own layer adds, before or after it in the stream', async () => {
    const root = freshRoot();
    await applyLayerFile(await layer([{ name: 'plugin/plugin', content: 'v1' }, { name: 'plugin/extra', content: 'x' }]), root, 'plugin');
    await applyLayerFile(await layer([
      { name: '.wh.plugin' },
      { name: 'plugin/plugin', content: 'v2' },
    ]), root, 'plugin');
    assert.deepEqual(tree(root), { 'plugin/plugin': 'v2' });
    await applyLayerFile(await layer([{ name: 'plugin/plugin', content: 'v3' }, { name: 'plugin/.wh.plugin' }]), root, 'plugin');
    assert.deepEqual(tree(root), { 'plugin/plugin': 'v3' });
  });

  it('removes the whole directory for a root whiteout or a root opaque marker', async () => {
    const root = freshRoot();
    await applyLayerFile(await layer([{ name: 'plugin/plugin', content: 'v1' }]), root, 'plugin');
    await applyLayerFile(await layer([{ name: '.wh.plugin' }]), root, 'plugin');
    assert.equal(existsSync(join(root, 'plugin')), false);
    await applyLayerFile(await layer([{ name: 'plugin/plugin', content: 'v1' }]), root, 'plugin');
    await applyLayerFile(await layer([{ name: '.wh..wh..opq' }, { name: 'bin/sh', content: '' }]), root, 'plugin');
    assert.equal(existsSync(join(root, 'plugin')), false);
  });

  it('keeps symlinks inside /plugin (absolute ones made relative) and hard links to extracted files', async () => {
    const root = freshRoot();
    await applyLayerFile(await layer([
      { name: 'plugin/bin/real', content: 'bin' },
      { name: 'plugin/plugin', type: 'symlink', linkname: '/plugin/bin/real' },
      { name: 'plugin/same', type: 'symlink', linkname: 'bin/real' },
      { name: 'plugin/hard', type: 'link', linkname: 'plugin/bin/real' },
      { name: 'plugin/fifo', type: 'fifo' },
    ]), root, 'plugin');
    assert.deepEqual(tree(root), { 'plugin/bin': '/', 'plugin/bin/real': 'bin', 'plugin/hard': 'bin', 'plugin/plugin': '-> bin/real', 'plugin/same': '-> bin/real' });
    assert.equal(readFileSync(join(root, 'plugin/plugin'), 'utf8'), 'bin');
  });

  it('refuses symlinks out of /plugin, writes through symlinks, links to files not extracted and names that climb out', async () => {
    const refused = async (entries: Entry[], message: RegExp): Promise<void> => {
      const root = freshRoot();
      await assert.rejects(applyLayerFile(await layer(entries), root, 'plugin'), (error: unknown) => error instanceof LayerError && message.test(error.message));
      assert.equal(existsSync(join(work, 'escaped')), false);
    };
    await refused([{ name: 'plugin/plugin', type: 'symlink', linkname: '/etc/passwd' }], /symlink \/plugin\/plugin -> \/etc\/passwd points outside \/plugin/);
    await refused([{ name: 'plugin/x', type: 'symlink', linkname: '../../../../escaped' }], /points outside \/plugin/);
    await refused([{ name: 'plugin', type: 'symlink', linkname: 'opt/plugin' }], /symlink \/plugin -> opt\/plugin/);
    await refused([{ name: 'etc/shadow', content: 's' }, { name: 'plugin/hard', type: 'link', linkname: 'etc/shadow' }], /hard link \/plugin\/hard -> \/etc\/shadow/);
    await refused([{ name: '../escaped', content: 'x' }], /climbs out/);
    // A symlink made by an earlier layer: the next layer's file must not be written through it.
    const root = freshRoot();
    await applyLayerFile(await layer([{ name: 'plugin/real/', type: 'directory' }, { name: 'plugin/dir', type: 'symlink', linkname: 'real' }]), root, 'plugin');
    await assert.rejects(applyLayerFile(await layer([{ name: 'plugin/dir/file', content: 'x' }]), root, 'plugin'), /written through the symlink \/plugin\/dir/);
  });

  it('refuses a file that is not a tar archive', async () => {
    const path = join(work, 'garbage.tar.gz');
    writeFileSync(path, gzipSync(Buffer.from('this is not a tar archive, just some text that is long enough'.repeat(20))));
    await assert.rejects(applyLayerFile(path, freshRoot(), 'plugin'), /not a readable tar archive/);
  });
});
