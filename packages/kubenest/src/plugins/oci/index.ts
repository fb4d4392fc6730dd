/**
 * `image:` plugins: pulls an OCI image from its registry without a container engine and gives
 * back its /plugin directory, extracted into the plugin image cache (cache.ts) and keyed by the
 * image manifest's digest.
 *
 * When the registry is asked (docs/adr/0020-oci-plugin-images.md):
 * - a digest reference whose image is in the cache: never; it is used offline;
 * - a tag: every time, since tags move; when the registry cannot be reached (connection refused,
 *   DNS, timeout, HTTP 5xx/429), the digest the same tag resolved to last time is used from the
 *   cache, with a progress line saying so. A registry that answers "no" (auth refused, not found)
 *   is never overridden by the cache.
 */
import { join } from 'node:path';
import { defaultCacheDir } from '../../controlplane/binaries.ts';
import { DockerConfigError, dockerConfigPath, findRegistryAuth, type RegistryAuth } from './docker-config.ts';
import { ManifestError, checkLayers, hostPlatform, parseManifest, selectPlatform, type ImageManifest, type Platform } from './manifest.ts';
import { ImageReferenceError, formatImageReference, isLoopbackRegistry, parseImageReference, registryApiHost, type ImageReference } from './reference.ts';
import { LayerError, applyLayerFile } from './layers.ts';
import { RegistryClient, RegistryError } from './registry.ts';
import {
  PLUGIN_DIR, PLUGIN_EXECUTABLE, checkEntry, commitEntry, entryDir, executableProblem, listPluginFiles, lookupRef,
  partialDir, readRecord, rememberRef, removeStalePartials, type ImageRecord,
} from './cache.ts';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { parseImageReference, formatImageReference, type ImageReference } from './reference.ts';
export type { Platform } from './manifest.ts';

export interface ResolvePluginImageOptions {
  /** The plugin image cache; default `$KUBENEST_CACHE/plugins` or `~/.cache/kubenest/plugins`. */
  cacheDir?: string | undefined;
  /** The docker config file to read credentials from; default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  dockerConfig?: string | undefined;
  /** Which image of a multi-arch index; default linux and this machine's architecture (linux/amd64 here). */
  platform?: Platform | undefined;
  /** Speak plain HTTP to the registry; default: only to loopback registries (localhost, 127.0.0.0/8, ::1). */
  plainHttp?: boolean | undefined;
  /** Receives one line per step (pulling, each layer verified, cache use, offline fall-back). */
  progress?: ((line: string) => void) | undefined;
  connectTimeoutMs?: number | undefined;
}

export interface ResolvedPluginImage {
  /** Absolute path of /plugin/plugin in the cache. */
  executable: string;
  /** The image manifest's digest (for a multi-arch image, the chosen platform's). */
  digest: string;
  /** Absolute path of the extracted /plugin directory. */
  dir: string;
  /** The reference in canonical form (`docker.io/library/x:latest`). */
  reference: string;
  /** 'pulled' now; 'cache' with the registry's agreement or for a cached digest; 'offline' when a tag's last digest was used because the registry could not be reached. */
  source: 'pulled' | 'cache' | 'offline';
}

export type PluginImageErrorReason = 'reference' | 'unreachable' | 'auth' | 'not-found' | 'digest' | 'no-plugin' | 'invalid-image' | 'config';

export class PluginImageError extends Error {
  readonly reason: PluginImageErrorReason;
  constructor(pluginName: string, image: string, reason: PluginImageErrorReason, detail: string) {
    super(`plugin "${pluginName}" (image "${image}"): ${detail}`);
    this.name = 'PluginImageError';
    this.reason = reason;
  }
}

export function defaultPluginCacheDir(): string {
  return join(defaultCacheDir(), 'plugins');
}

/** Pulls (or finds in the cache) the image of plugin `pluginName` and returns its /plugin/plugin. */
export async function resolvePluginImage(pluginName: string, imageRef: string, options: ResolvePluginImageOptions = {}): Promise<ResolvedPluginImage> {
  const fail = (reason: PluginImageErrorReason, detail: string): never => { throw new PluginImageError(pluginName, imageRef, reason, detail); };
  let ref: ImageReference;
  try {
    ref = parseImageReference(imageRef);
  } catch (error) {
    if (error instanceof ImageReferenceError) fail('reference', error.message);
    throw error;
  }
  const root = options.cacheDir ?? defaultPluginCacheDir();
  const canonical = formatImageReference(ref);
  const progress = (line: string): void => options.progress?.(`plugin ${pluginName}: ${line}`);
  const fromCache = (digest: string, source: ResolvedPluginImage['source']): ResolvedPluginImage | undefined => {
    if (checkEntry(root, digest) !== undefined || executableProblem(entryDir(root, digest)) !== undefined) return undefined;
    const dir = join(entryDir(root, digest), PLUGIN_DIR);
    return { executable: join(dir, PLUGIN_EXECUTABLE), digest, dir, reference: canonical, source };
  };
  removeStalePartials(root);

  // A digest names its content for good: a cached copy needs no registry.
  if (ref.digest !== undefined) {
    const digest = lookupRef(root, `${ref.registry}/${ref.repository}@${ref.digest}`)?.digest ?? ref.digest;
    const cached = fromCache(digest, 'cache');
    if (cached) {
      progress(`using ${digest} from the cache (${entryDir(root, digest)})`);
      return cached;
    }
  }

  const configPath = options.dockerConfig ?? dockerConfigPath();
  let auth: RegistryAuth;
  try {
    auth = findRegistryAuth(ref.registry, configPath);
  } catch (error) {
    if (error instanceof DockerConfigError) fail('config', error.message);
    throw error;
  }
  const plain = options.plainHttp ?? isLoopbackRegistry(ref.registry);
  const client = new RegistryClient({
    baseUrl: `${plain ? 'http' : 'https'}://${registryApiHost(ref.registry)}`, repository: ref.repository, auth, configPath,
    connectTimeoutMs: options.connectTimeoutMs,
  });
  const platform = options.platform ?? hostPlatform();
  let asked = false; // whether the registry answered the first manifest request
  try {
    let image: ChosenManifest;
    try {
      image = await chooseManifest(client, ref, platform, progress);
    } catch (error) {
      if (error instanceof RegistryError && error.kind === 'unreachable' && ref.digest === undefined) {
        const last = lookupRef(root, canonical);
        const cached = last ? fromCache(last.digest, 'offline') : undefined;
        if (last && cached) {
          progress(`the registry cannot be reached (${error.message}); using ${last.digest}, which ${canonical} resolved to at ${last.resolvedAt}, from the cache`);
          return cached;
        }
        error.message += last ? `. The tag ${ref.tag} last resolved to ${last.digest}, which is no longer in the cache (${root})`
          : `. The tag ${ref.tag} was never resolved on this machine, so there is no cached copy to fall back on`;
      } else if (error instanceof RegistryError && error.kind === 'unreachable') {
        error.message += `. ${ref.digest} is not in the cache (${root})`;
      }
      throw error;
    }
    asked = true;
    const remember = async (): Promise<void> => {
      if (ref.digest === undefined) await rememberRef(root, canonical, image.digest);
      if (image.indexDigest !== undefined) await rememberRef(root, `${ref.registry}/${ref.repository}@${image.indexDigest}`, image.digest);
    };
    const cached = fromCache(image.digest, 'cache');
    if (cached) {
      await remember();
      progress(`${canonical} is ${image.digest}, already in the cache`);
      return cached;
    }
    await pullIntoCache(client, root, canonical, image, progress);
    await remember();
    const pulled = fromCache(image.digest, 'pulled');
    if (!pulled) return fail('invalid-image', `the cache entry ${entryDir(root, image.digest)} was not usable right after the pull: ${checkEntry(root, image.digest) ?? executableProblem(entryDir(root, image.digest))}`);
    progress(`ready: ${pulled.executable}`);
    return pulled;
  } catch (error) {
    if (error instanceof PluginImageError) throw error;
    if (error instanceof RegistryError) {
      if (error.kind === 'not-found') {
        fail('not-found', `${error.message}; check the repository (${ref.registry}/${ref.repository}) and the ${asked ? 'image' : ref.digest !== undefined ? 'digest' : 'tag'}`);
      }
      fail(error.kind === 'unreachable' || error.kind === 'auth' || error.kind === 'digest' ? error.kind : 'invalid-image', error.message);
    }
    if (error instanceof NoPluginError) fail('no-plugin', error.message);
    if (error instanceof ManifestError || error instanceof LayerError) fail('invalid-image', error.message);
    throw error;
  } finally {
    await client.close();
  }
}

interface ChosenManifest {
  /** The image manifest's digest: the cache key. */
  digest: string;
  manifest: ImageManifest;
  /** The index it was chosen from, when the reference named one. */
  indexDigest?: string | undefined;
  platform: string;
}

/** The image manifest the reference names; from an index, the one for `platform`. */
async function chooseManifest(client: RegistryClient, ref: ImageReference, platform: Platform, progress: (line: string) => void): Promise<ChosenManifest> {
  const platformName = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
  const top = await client.manifest(ref.digest ?? ref.tag ?? 'latest');
  const parsed = parseManifest(top.body, top.contentType);
  if (parsed.kind === 'manifest') return { digest: top.digest, manifest: parsed, platform: platformName };
  const chosen = selectPlatform(parsed.manifests, platform);
  progress(`${formatImageReference(ref)} is a multi-platform index (${top.digest}); taking ${platformName}: ${chosen.digest}`);
  const fetched = await client.manifest(chosen.digest);
  const manifest = parseManifest(fetched.body, fetched.contentType);
  if (manifest.kind !== 'manifest') throw new ManifestError(`the index entry ${chosen.digest} for ${platformName} is itself an index`);
  return { digest: fetched.digest, manifest, indexDigest: top.digest, platform: platformName };
}

class NoPluginError extends Error {}

const BLOB_ATTEMPTS = 3;

/** Downloads and verifies each layer, applies it to a partial directory, checks /plugin/plugin, and commits the entry. */
async function pullIntoCache(client: RegistryClient, root: string, canonical: string, image: ChosenManifest, progress: (line: string) => void): Promise<void> {
  const layers = image.manifest.layers;
  checkLayers(layers);
  const total = layers.reduce((sum, layer) => sum + layer.size, 0);
  progress(`pulling ${canonical} (${image.digest}, ${layers.length} layer${layers.length === 1 ? '' : 's'}, ${mib(total)})`);
  const partial = partialDir(root, image.digest);
  try {
    for (const [i, layer] of layers.entries()) {
      const blob = join(partial, `.layer-${i}`);
      // A download cut off or answered 5xx/429 is tried again (BLOB_ATTEMPTS in all, 1 s then 2 s apart); a
      // blob that arrives whole but wrong is not: the registry would send the same bytes again.
      for (let attempt = 1; ; attempt++) {
        let reported = 0;
        try {
          await client.blob(layer.digest, layer.size, blob, (bytes) => {
            // About every 16 MiB, so that a slow pull shows it is moving.
            if (bytes - reported >= 16 * 1024 * 1024) { reported = bytes; progress(`layer ${i + 1}/${layers.length}: ${mib(bytes)} of ${mib(layer.size)}`); }
          });
          break;
        } catch (error) {
          if (!(error instanceof RegistryError) || error.kind !== 'unreachable' || attempt >= BLOB_ATTEMPTS) throw error;
          progress(`layer ${i + 1}/${layers.length}: ${error.message}; trying again (attempt ${attempt + 1} of ${BLOB_ATTEMPTS})`);
          await sleep(1000 * attempt);
        }
      }
      await applyLayerFile(blob, partial, PLUGIN_DIR);
      rmSync(blob, { force: true });
      progress(`layer ${i + 1}/${layers.length} ${layer.digest} (${mib(layer.size)}) verified and applied`);
    }
    const problem = executableProblem(partial);
    if (problem !== undefined) throw new NoPluginError(`${problem}. A plugin image must hold its executable at /${PLUGIN_DIR}/${PLUGIN_EXECUTABLE}`);
    const record: ImageRecord = {
      digest: image.digest, reference: canonical, indexDigest: image.indexDigest, platform: image.platform, layers: layers.map((l) => l.digest),
      pulledAt: new Date().toISOString(), files: listPluginFiles(partial),
    };
    await commitEntry(root, partial, record);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

/** Cached images by digest (for `kubenest plugins`-style listings and tests). */
export function readCachedImage(cacheDir: string, digest: string): ImageRecord | undefined {
  return checkEntry(cacheDir, digest) === undefined ? readRecord(cacheDir, digest) : undefined;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}
