/**
 * The plugin image cache, outside the repository: `<cache>/plugins/` (default
 * `~/.cache/kubenest/plugins`, or `$KUBENEST_CACHE/plugins`).
 *
 *   sha256-<hex>/plugin/...      the image's /plugin directory, keyed by the image manifest's digest
 *   sha256-<hex>/image.json      what was pulled (written last: an entry without it is not used)
 *   sha256-<hex>.partial-<pid>-<random>/  a pull under way; left-overs of dead processes are removed
 *   refs/<sha256 of reference>.json  a tag or an index digest -> the manifest digest it resolved to
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../../controlplane/files.ts';
import { isAlive } from '../../controlplane/pids.ts';

export const PLUGIN_DIR = 'plugin';
export const PLUGIN_EXECUTABLE = 'plugin';
const IMAGE_JSON = 'image.json';

export interface ImageRecord {
  /** The image manifest's digest: the cache key. */
  digest: string;
  /** The reference it was first pulled by, canonical. */
  reference: string;
  /** The index it was chosen from, when there was one. */
  indexDigest?: string | undefined;
  platform: string;
  layers: string[];
  pulledAt: string;
  /** Size of every file under plugin/, checked on reuse. */
  files: Record<string, number>;
}

export interface RefRecord { reference: string; digest: string; resolvedAt: string }

export function entryName(digest: string): string {
  return digest.replace(':', '-');
}

export function entryDir(root: string, digest: string): string {
  return join(root, entryName(digest));
}

/** undefined for a usable entry, else why not ('missing' when there is none). Cheap: sizes only (blobs were verified by digest when pulled). */
export function checkEntry(root: string, digest: string): string | undefined {
  const dir = entryDir(root, digest);
  if (!existsSync(dir)) return 'missing';
  let record: ImageRecord;
  try {
    record = JSON.parse(readFileSync(join(dir, IMAGE_JSON), 'utf8')) as ImageRecord;
  } catch {
    return `${IMAGE_JSON} is missing or unreadable`;
  }
  if (record.digest !== digest) return `${IMAGE_JSON} names ${record.digest}`;
  for (const [file, size] of Object.entries(record.files)) {
    try {
      if (statSync(join(dir, file)).size !== size) return `${file} has the wrong size`;
    } catch {
      return `${file} is missing`;
    }
  }
  return undefined;
}

export function readRecord(root: string, digest: string): ImageRecord {
  return JSON.parse(readFileSync(join(entryDir(root, digest), IMAGE_JSON), 'utf8')) as ImageRecord;
}

/** Sizes of the regular files under `dir`/plugin, keyed by their path relative to `dir`. */
export function listPluginFiles(dir: string): Record<string, number> {
  const files: Record<string, number> = {};
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files[child] = statSync(join(dir, child)).size;
    }
  };
  if (existsSync(join(dir, PLUGIN_DIR))) walk(PLUGIN_DIR);
  return files;
}

/** Why `dir`/plugin/plugin cannot be run, or undefined. A symlink must stay inside plugin/. */
export function executableProblem(dir: string): string | undefined {
  const path = join(dir, PLUGIN_DIR, PLUGIN_EXECUTABLE);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return existsSync(join(dir, PLUGIN_DIR)) ? `the image has /${PLUGIN_DIR} but no /${PLUGIN_DIR}/${PLUGIN_EXECUTABLE} in it (a dangling link counts as none)`
      : `the image has no /${PLUGIN_DIR} directory, so no /${PLUGIN_DIR}/${PLUGIN_EXECUTABLE}`;
  }
  const inside = relative(realpathSync(join(dir, PLUGIN_DIR)), real);
  if (inside.startsWith('..')) return `/${PLUGIN_DIR}/${PLUGIN_EXECUTABLE} resolves outside /${PLUGIN_DIR}`;
  const stat = statSync(real);
  if (!stat.isFile()) return `/${PLUGIN_DIR}/${PLUGIN_EXECUTABLE} is not a regular file`;
  if ((stat.mode & 0o111) === 0) return `/${PLUGIN_DIR}/${PLUGIN_EXECUTABLE} is not executable (mode ${(stat.mode & 0o777).toString(8)}); set its execute bits in the image (chmod +x)`;
  return undefined;
}

/** Moves a finished partial directory into place, writing its record last. Another process's finished copy wins. */
export async function commitEntry(root: string, partial: string, record: ImageRecord): Promise<void> {
  await writeFileAtomic(join(partial, IMAGE_JSON), JSON.stringify(record, null, 2) + '\n');
  const dir = entryDir(root, record.digest);
  if (checkEntry(root, record.digest) === undefined) {
    rmSync(partial, { recursive: true, force: true });
    return;
  }
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(partial, dir);
  } catch (error) {
    // Lost a race with another pull of the same image: use theirs if it is good.
    if (checkEntry(root, record.digest) !== undefined) throw error;
    rmSync(partial, { recursive: true, force: true });
  }
}

export function partialDir(root: string, digest: string): string {
  mkdirSync(root, { recursive: true });
  // pid and a random part: two pulls of one image in one process get their own directories.
  const dir = `${entryDir(root, digest)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(dir);
  return dir;
}

/** Removes partial directories whose process is gone. */
export function removeStalePartials(root: string): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    const pid = /\.partial-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !isAlive(Number(pid))) rmSync(join(root, name), { recursive: true, force: true });
  }
}

function refFile(root: string, reference: string): string {
  return join(root, 'refs', `${createHash('sha256').update(reference).digest('hex')}.json`);
}

export async function rememberRef(root: string, reference: string, digest: string): Promise<void> {
  mkdirSync(join(root, 'refs'), { recursive: true });
  const record: RefRecord = { reference, digest, resolvedAt: new Date().toISOString() };
  await writeFileAtomic(refFile(root, reference), JSON.stringify(record, null, 2) + '\n');
}

export function lookupRef(root: string, reference: string): RefRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(refFile(root, reference), 'utf8')) as RefRecord;
    return record.reference === reference && typeof record.digest === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}
