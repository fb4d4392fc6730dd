/**
 * `kubenest plugin build --image REF [--push]`: an OCI image written by our own code (no container
 * engine) whose /plugin/ holds the portable build, as vCluster expects of a plugin image (its init
 * container runs `sh -c "cp -r /plugin /plugins/<name>"`, so the image also gets a static /bin/sh
 * when this machine has one: Debian's busybox-static). Written as an OCI image layout in
 * OUT/image; pushed with the registry client of `image:` pulls (ADR 20, ADR 29).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { findRegistryAuth, dockerConfigPath, DockerConfigError } from '../oci/docker-config.ts';
import { MEDIA } from '../oci/manifest.ts';
import { ImageReferenceError, formatImageReference, isLoopbackRegistry, parseImageReference, registryApiHost } from '../oci/reference.ts';
import { RegistryClient, RegistryError } from '../oci/registry.ts';
import { PluginBuildError } from './index.ts';

const LAYER_MEDIA = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG_MEDIA = 'application/vnd.oci.image.config.v1+json';
/** Fixed file times: the same build gives the same layer digest. */
const EPOCH = new Date(0);
/** Where a static shell comes from when the machine has one (Debian: busybox-static). */
const STATIC_SHELL = '/bin/busybox';

export interface ImageOptions {
  /** The output of buildPlugin (its `portable/` goes to /plugin/). */
  buildDir: string;
  reference: string;
  push: boolean;
  /** Default: plain HTTP for loopback registries only, as for pulls. */
  plainHttp?: boolean | undefined;
  dockerConfig?: string | undefined;
  progress?: ((line: string) => void) | undefined;
}

export interface WrittenImage {
  reference: string;
  digest: string;
  layoutDir: string;
  pushed: boolean;
  layers: { digest: string; size: number; what: string }[];
}

interface Blob { digest: string; size: number; content: Buffer }

function blob(content: Buffer): Blob {
  return { digest: `sha256:${createHash('sha256').update(content).digest('hex')}`, size: content.length, content };
}

export async function writePluginImage(options: ImageOptions): Promise<WrittenImage> {
  const progress = options.progress ?? (() => {});
  let ref;
  try {
    ref = parseImageReference(options.reference);
  } catch (error) {
    if (error instanceof ImageReferenceError) throw new PluginBuildError(`--image ${options.reference}: ${error.message}`);
    throw error;
  }
  if (ref.digest !== undefined) throw new PluginBuildError(`--image ${options.reference}: give a tag (a digest is what the push yields, not a name to push to)`);
  const portable = join(options.buildDir, 'portable');
  if (!existsSync(join(portable, 'plugin'))) throw new PluginBuildError(`${portable}/plugin is missing: build with the portable variant (without --no-portable) to make an image`);

  progress(`writing the image layers (/plugin from ${portable})`);
  const layers: { blob: Blob; diffId: string; what: string }[] = [];
  const pluginTar = await tarOf([{ root: portable, prefix: 'plugin' }]);
  layers.push({ blob: blob(gzipSync(pluginTar)), diffId: blob(pluginTar).digest, what: '/plugin' });
  if (isStaticExecutable(STATIC_SHELL)) {
    const shellTar = await tarOf([], [
      { name: 'bin/', type: 'directory' },
      { name: 'bin/busybox', file: STATIC_SHELL },
      { name: 'bin/sh', link: 'busybox' },
      { name: 'bin/cp', link: 'busybox' },
    ]);
    layers.push({ blob: blob(gzipSync(shellTar)), diffId: blob(shellTar).digest, what: `/bin/sh and /bin/cp (static busybox from ${STATIC_SHELL})` });
  } else {
    progress(`no static ${STATIC_SHELL} on this machine (apt-get install busybox-static): the image has no /bin/sh, which a real vCluster's init container needs to copy /plugin; kubenest itself does not`);
  }
  const config = blob(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: EPOCH.toISOString(),
    config: { WorkingDir: '/', Labels: { 'org.opencontainers.image.title': ref.repository.split('/').at(-1) } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: EPOCH.toISOString(), created_by: `kubenest plugin build: ${l.what}` })),
  })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: CONFIG_MEDIA, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: LAYER_MEDIA, digest: l.blob.digest, size: l.blob.size })),
  })));

  const layoutDir = join(options.buildDir, 'image');
  writeLayout(layoutDir, [config, manifest, ...layers.map((l) => l.blob)], manifest, ref.tag ?? 'latest');
  const written: WrittenImage = {
    reference: formatImageReference(ref), digest: manifest.digest, layoutDir, pushed: false,
    layers: layers.map((l) => ({ digest: l.blob.digest, size: l.blob.size, what: l.what })),
  };
  if (!options.push) return written;

  const configPath = options.dockerConfig ?? dockerConfigPath();
  let auth;
  try {
    auth = findRegistryAuth(ref.registry, configPath);
  } catch (error) {
    if (error instanceof DockerConfigError) throw new PluginBuildError(error.message);
    throw error;
  }
  const plain = options.plainHttp ?? isLoopbackRegistry(ref.registry);
  const client = new RegistryClient({ baseUrl: `${plain ? 'http' : 'https'}://${registryApiHost(ref.registry)}`, repository: ref.repository, auth, configPath });
  try {
    for (const item of [...layers.map((l) => ({ b: l.blob, what: `layer ${l.what}` })), { b: config, what: 'config' }]) {
      if (await client.hasBlob(item.b.digest)) {
        progress(`${item.what}: ${item.b.digest} already in the registry`);
        continue;
      }
      progress(`pushing ${item.what}: ${item.b.digest} (${(item.b.size / 1048576).toFixed(1)} MiB)`);
      await client.pushBlob(item.b.digest, item.b.content);
    }
    const digest = await client.pushManifest(ref.tag ?? 'latest', MEDIA.ociManifest, manifest.content);
    if (digest !== manifest.digest) throw new PluginBuildError(`pushing ${written.reference}: the registry stored the manifest as ${digest}, not ${manifest.digest}`);
    progress(`pushed ${written.reference}@${digest}`);
  } catch (error) {
    if (error instanceof RegistryError) throw new PluginBuildError(`pushing ${written.reference}: ${error.message}`);
    throw error;
  } finally {
    await client.close();
  }
  return { ...written, pushed: true };
}

/** An OCI image layout (image-layout spec): oci-layout, index.json, blobs/sha256/. */
function writeLayout(dir: string, blobs: Blob[], manifest: Blob, tag: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of blobs) writeFileSync(join(dir, 'blobs', 'sha256', b.digest.slice('sha256:'.length)), b.content);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociIndex,
    manifests: [{ mediaType: MEDIA.ociManifest, digest: manifest.digest, size: manifest.size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}

type Extra = { name: string; type: 'directory' } | { name: string; file: string } | { name: string; link: string };

/** A tar of directory trees (each under `prefix/`) plus extra entries; modes kept, times fixed, owners root. */
export async function tarOf(trees: { root: string; prefix: string }[], extras: Extra[] = []): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => { chunks.push(chunk as Buffer); });
  const ended = new Promise<void>((resolve, reject) => { pack.on('end', resolve); pack.on('error', reject); });
  const common = { mtime: EPOCH, uid: 0, gid: 0, uname: 'root', gname: 'root' };
  const add = (header: Partial<tar.Header> & { name: string }, content?: Buffer): Promise<void> => new Promise((resolve, reject) => {
    const done = (error?: Error | null): void => (error ? reject(error) : resolve());
    if (content) pack.entry({ ...common, ...header }, content, done);
    else pack.entry({ ...common, ...header }, done);
  });
  for (const { root, prefix } of trees) {
    await add({ name: `${prefix}/`, type: 'directory', mode: 0o755 });
    const files = (readdirSync(root, { recursive: true, encoding: 'utf8' })).sort();
    for (const file of files) {
      const path = join(root, file);
      const name = `${prefix}/${relative(root, path)}`;
      const stats = lstatSync(path);
      if (stats.isDirectory()) await add({ name: `${name}/`, type: 'directory', mode: stats.mode & 0o777 });
      else if (stats.isSymbolicLink()) await add({ name, type: 'symlink', linkname: readlinkSync(path), mode: 0o777 });
      else if (stats.isFile()) await add({ name, type: 'file', mode: stats.mode & 0o777, size: stats.size }, readFileSync(path));
    }
  }
  for (const extra of extras) {
    if ('type' in extra) await add({ name: extra.name, type: 'directory', mode: 0o755 });
    else if ('file' in extra) {
      const content = readFileSync(extra.file);
      await add({ name: extra.name, type: 'file', mode: 0o755, size: content.length }, content);
    } else await add({ name: extra.name, type: 'symlink', linkname: extra.link, mode: 0o777 });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** True for an ELF executable without an interpreter (statically linked): `ldd` says "not a dynamic executable". */
function isStaticExecutable(path: string): boolean {
  if (!existsSync(path)) return false;
  const ldd = spawnSync('ldd', [path], { encoding: 'utf8' });
  return `${ldd.stdout}${ldd.stderr}`.includes('not a dynamic executable');
}
