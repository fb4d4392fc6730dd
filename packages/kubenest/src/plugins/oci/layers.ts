/**
 * Applies image layers to a directory, as a container runtime's snapshotter would, but only the
 * part of the filesystem under one top-level directory (`plugin`, for `/plugin`): entries outside
 * it are read past. Whiteouts follow the OCI image spec: `.wh.NAME` hides NAME of the layers
 * below, `.wh..wh..opq` hides everything below its directory from the layers below; neither hides
 * what the same layer adds, wherever in the tar stream it stands.
 *
 * Nothing is written outside the target: entry names that climb out (`../`), symlinks that point
 * out of the kept directory (absolute ones are read as image-rooted and kept only when they stay
 * inside), hard links to files that were not extracted, and writes through a symlinked parent are
 * refused with an error naming the entry. Device nodes and FIFOs are skipped; set-id bits dropped.
 */
import { createReadStream, createWriteStream, linkSync, lstatSync, mkdirSync, openSync, readSync, closeSync, readdirSync, rmSync, chmodSync, symlinkSync } from 'node:fs';
import { posix, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';

export class LayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerError';
  }
}

export type EntryKind =
  | { kind: 'path'; path: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; dir: string }
  /** The image root itself (`./`), or aufs bookkeeping (`.wh..wh.plnk`): nothing to do. */
  | { kind: 'none' };

/** Tar entry name -> path relative to the image root ('' is the root), refusing names that climb out. */
export function normalizeEntryPath(name: string): string {
  const normalized = posix.normalize(`/${name}`).replace(/\/+$/, '');
  // posix.normalize of an absolute path never keeps `..` at its start; a name that tried to climb
  // out is caught by comparing with a normalization that keeps them.
  const relative = posix.normalize(name.replace(/^\/+/, '') || '.');
  if (relative === '..' || relative.startsWith('../')) throw new LayerError(`the tar entry "${name}" climbs out of the image root`);
  return normalized.slice(1);
}

export function classifyEntry(name: string): EntryKind {
  const path = normalizeEntryPath(name);
  if (path === '') return { kind: 'none' };
  const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
  const base = posix.basename(path);
  if (base === '.wh..wh..opq') return { kind: 'opaque', dir };
  if (base.startsWith('.wh..wh.')) return { kind: 'none' };
  if (base.startsWith('.wh.')) {
    const target = base.slice(4);
    if (target === '' || target === '.' || target === '..') throw new LayerError(`the whiteout "${name}" names no file`);
    return { kind: 'whiteout', path: dir ? `${dir}/${target}` : target };
  }
  return { kind: 'path', path };
}

/** True when `path` is `top` or below it. */
export function isWithin(path: string, top: string): boolean {
  return path === top || path.startsWith(`${top}/`);
}

/** Where an image symlink at `path` with target `linkname` points, relative to the image root; absolute targets are image-rooted. */
export function symlinkTarget(path: string, linkname: string): string {
  const base = linkname.startsWith('/') ? linkname : posix.join(posix.dirname(path), linkname);
  const resolved = posix.normalize(`/${base}`).slice(1);
  const climbing = posix.normalize(linkname.startsWith('/') ? linkname.slice(1) || '.' : posix.join(posix.dirname(path), linkname));
  return climbing === '..' || climbing.startsWith('../') ? '..' : resolved.replace(/\/+$/, '');
}

export interface LayerStats { files: number; dirs: number; symlinks: number; whiteouts: number; skipped: number }

type Compression = 'gzip' | 'zstd' | 'none';

function sniffCompression(file: string): Compression {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (n >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    closeSync(fd);
  }
}

function decompressor(compression: Compression): NodeJS.ReadWriteStream[] {
  if (compression === 'gzip') return [zlib.createGunzip()];
  if (compression === 'zstd') {
    const create = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
    if (!create) throw new LayerError(`the layer is zstd-compressed and this Node (${process.version}) has no zstd; use Node 22.15 or newer`);
    return [create()];
  }
  return [];
}

/**
 * Applies the layer tar in `file` (gzip, zstd or plain, told apart by its first bytes) to `root`,
 * keeping only entries under `keep` (a top-level directory name such as `plugin`).
 */
export async function applyLayerFile(file: string, root: string, keep: string): Promise<LayerStats> {
  const stages = decompressor(sniffCompression(file));
  return applyLayer(createReadStream(file), stages, root, keep);
}

async function applyLayer(source: Readable, stages: NodeJS.ReadWriteStream[], root: string, keep: string): Promise<LayerStats> {
  const stats: LayerStats = { files: 0, dirs: 0, symlinks: 0, whiteouts: 0, skipped: 0 };
  /** Paths this layer added, and their ancestors: whiteouts of this layer never remove them. */
  const touched = new Set<string>();
  const touch = (path: string): void => {
    for (let p = path; p !== '' && p !== '.'; p = posix.dirname(p)) touched.add(p);
  };
  const pendingWhiteouts: EntryKind[] = [];
  const extract = tarStream.extract();
  const feeding = (pipeline as (...streams: unknown[]) => Promise<void>)(source, ...stages, extract);
  feeding.catch(() => {}); // awaited below; the loop may stop first on a refused entry
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const kind = classifyEntry(header.name);
      if (kind.kind === 'whiteout' || kind.kind === 'opaque') {
        // Applied after the whole layer was read, so the layer's own entries are known and kept.
        pendingWhiteouts.push(kind);
        stats.whiteouts += 1;
        entry.resume();
        continue;
      }
      if (kind.kind === 'none' || !isWithin(kind.path, keep)) {
        entry.resume();
        continue;
      }
      const path = kind.path;
      const target = join(root, path);
      ensureParents(root, path, header.name);
      touch(path);
      if (header.type === 'directory') {
        const existing = lstatOrUndefined(target);
        if (existing && !existing.isDirectory()) rmSync(target, { recursive: true, force: true });
        mkdirSync(target, { recursive: true });
        chmodSync(target, ((header.mode ?? 0o755) & 0o777) | 0o700);
        stats.dirs += 1;
        entry.resume();
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        rmSync(target, { recursive: true, force: true });
        const mode = ((header.mode ?? 0o644) & 0o777) | 0o600;
        await pipeline(entry, createWriteStream(target, { mode, flags: 'wx' }));
        chmodSync(target, mode);
        stats.files += 1;
      } else if (header.type === 'symlink') {
        const linkname = header.linkname ?? '';
        const points = symlinkTarget(path, linkname);
        if (!isWithin(points, keep)) {
          throw new LayerError(`the symlink /${path} -> ${linkname} points outside /${keep}; kubenest extracts only /${keep} and refuses links out of it`);
        }
        rmSync(target, { recursive: true, force: true });
        // Written relative, so that an image-rooted target still lands inside the extracted directory.
        symlinkSync(posix.relative(posix.dirname(path), points) || '.', target);
        stats.symlinks += 1;
        entry.resume();
      } else if (header.type === 'link') {
        const linkname = header.linkname ?? '';
        const from = normalizeEntryPath(linkname);
        const source = lstatOrUndefined(join(root, from));
        if (!isWithin(from, keep) || !source?.isFile()) {
          throw new LayerError(`the hard link /${path} -> /${from} does not point at a file under /${keep} extracted before it`);
        }
        rmSync(target, { recursive: true, force: true });
        linkSync(join(root, from), target);
        stats.files += 1;
        entry.resume();
      } else {
        stats.skipped += 1; // devices, FIFOs: nothing a plugin directory needs
        entry.resume();
      }
    }
    await feeding;
  } catch (error) {
    extract.destroy();
    source.destroy();
    if (error instanceof LayerError) throw error;
    throw new LayerError(`the layer is not a readable tar archive: ${(error as Error).message}`);
  }
  for (const whiteout of pendingWhiteouts) applyWhiteout(root, keep, whiteout, touched);
  return stats;
}

function applyWhiteout(root: string, keep: string, whiteout: EntryKind, touched: Set<string>): void {
  if (whiteout.kind === 'whiteout') {
    // Hides the lower layers' NAME; what this layer put under it stays (spec: same-layer entries are not hidden).
    if (isWithin(whiteout.path, keep)) clearLower(root, whiteout.path, touched, true);
  } else if (whiteout.kind === 'opaque') {
    // An opaque directory at or above the kept one hides the lower layers' copy of it.
    if (isWithin(whiteout.dir, keep)) clearLower(root, whiteout.dir, touched);
    else if (whiteout.dir === '' || isWithin(keep, whiteout.dir)) clearLower(root, keep, touched, true);
  }
}

/** Removes what lies under `dir` that this layer did not add (`self` also removes `dir` itself when untouched). */
function clearLower(root: string, dir: string, touched: Set<string>, self = false): void {
  if (self && !touched.has(dir)) {
    rmSync(join(root, dir), { recursive: true, force: true });
    return;
  }
  const stat = lstatOrUndefined(join(root, dir));
  if (!stat?.isDirectory()) return;
  for (const name of readdirSync(join(root, dir))) {
    const child = `${dir}/${name}`;
    if (touched.has(child)) clearLower(root, child, touched);
    else rmSync(join(root, child), { recursive: true, force: true });
  }
}

/** Creates missing parents; refuses to go through a symlink; a file in the way of a directory is replaced, as a layer's directory would. */
function ensureParents(root: string, path: string, name: string): void {
  const parts = path.split('/').slice(0, -1);
  let current = '';
  for (const part of parts) {
    current = current ? `${current}/${part}` : part;
    const full = join(root, current);
    const stat = lstatOrUndefined(full);
    if (stat?.isSymbolicLink()) throw new LayerError(`the tar entry "${name}" would be written through the symlink /${current}; refused`);
    if (stat && !stat.isDirectory()) rmSync(full, { force: true });
    if (!stat?.isDirectory()) mkdirSync(full, { mode: 0o755 });
  }
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
