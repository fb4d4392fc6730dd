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
import { ManifestError, checkLayers, hostPlatform, parseManifest, selectPlatform, type Platform } from './manifest.ts';
import { ImageReferenceError, formatImageReference, isLoopbackRegistry, parseImageReference, registryApiHost, type ImageReference } from './reference.ts';
import { LayerError, applyLayerFile } from './layers.ts';
import { RegistryClient, RegistryError } from './registry.ts';
import {
  PLUGIN_DIR, PLUGIN_EXECUTABLE, checkEntry, commitEntry, entryDir, executableProblem, listPluginFiles, lookupRef,
  partialDir, readRecord, rememberRef, removeStalePartials, type ImageRecord,
} from './cache.ts';
import { rmSync } from 'node:fs';

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
  removeStalePartials(root);

  const fromCache = (digest: string, source: ResolvedPluginImage['source']): ResolvedPluginImage | undefined => {
    if (checkEntry(root, digest) !== undefined) return undefined;
    const dir = entryDir(root, digest);
    const problem = executableProblem(dir);
    if (problem !== undefined) return undefined;
    return { executable: join(dir, PLUGIN_DIR, PLUGIN_EXECUTABLE), digest, dir: join(dir, PLUGIN_DIR), reference: canonical, source };
  };

  // A digest names its content for good: a cached copy needs no registry.
  if (ref.digest !== undefined) {
    const digest = lookupRef(root, `${ref.registry}/${ref.repository}@${ref.digest}`)?.digest ?? ref.digest;
    const cached = fromCache(digest, 'cache');
    if (cached) {
      progress(`using ${digest} from the cache (${entryDir(root, digest)})`);
      return cached;
    }
  }

  let auth: RegistryAuth;
  const configPath = options.dockerConfig ?? dockerConfigPath();
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
  const platformName = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
  try {
    let top;
    try {
      top = await client.manifest(ref.digest ?? ref.tag ?? 'latest');
    } catch (error) {
      if (error instanceof RegistryError && error.kind === 'unreachable' && ref.digest === undefined) {
        const last = lookupRef(root, canonical);
        const cached = last ? fromCache(last.digest, 'offline') : undefined;
        if (last && cached) {
          progress(`the registry cannot be reached (${error.message}); using ${last.digest}, which ${canonical} resolved to at ${last.resolvedAt}, from the cache`);
          return cached;
        }
      }
      throw error;
    }
    let manifest = parseManifest(top.body, top.contentType);
    let digest = top.digest;
    let indexDigest: string | undefined;
    if (manifest.kind === 'index') {
      indexDigest = top.digest;
      const chosen = selectPlatform(manifest.manifests, platform);
      progress(`${canonical} is a multi-platform index (${indexDigest}); taking ${platformName}: ${chosen.digest}`);
      const fetched = await client.manifest(chosen.digest);
      manifest = parseManifest(fetched.body, fetched.contentType);
      digest = fetched.digest;
      if (manifest.kind !== 'manifest') fail('invalid-image', `the index entry ${chosen.digest} for ${platformName} is itself an index`);
    }
    if (manifest.kind !== 'manifest') throw new Error('unreachable: an index was replaced by its platform manifest above');

    const remember = async (): Promise<void> => {
      if (ref.digest === undefined) await rememberRef(root, canonical, digest);
      if (indexDigest !== undefined) await rememberRef(root, `${ref.registry}/${ref.repository}@${indexDigest}`, digest);
    };
    const cached = fromCache(digest, 'cache');
    if (cached) {
      await remember();
      progress(`${canonical} is ${digest}, already in the cache`);
      return cached;
    }

    checkLayers(manifest.layers);
    const total = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    progress(`pulling ${canonical} (${digest}, ${manifest.layers.length} layer${manifest.layers.length === 1 ? '' : 's'}, ${mib(total)})`);
    const partial = partialDir(root, digest);
    try {
      for (const [i, layer] of manifest.layers.entries()) {
        const blob = join(partial, `.layer-${i}`);
        let reported = 0;
        await client.blob(layer.digest, layer.size, blob, (bytes) => {
          // About every 16 MiB, so that a slow pull shows it is moving.
          if (bytes - reported >= 16 * 1024 * 1024) { reported = bytes; progress(`layer ${i + 1}/${manifest.layers.length}: ${mib(bytes)} of ${mib(layer.size)}`); }
        });
        await applyLayerFile(blob, partial, PLUGIN_DIR);
        rmSync(blob, { force: true });
        progress(`layer ${i + 1}/${manifest.layers.length} ${layer.digest} (${mib(layer.size)}) verified and applied`);
      }
      const problem = executableProblem(partial);
      if (problem !== undefined) fail('no-plugin', `${problem}. A plugin image must hold its executable at /${PLUGIN_DIR}/${PLUGIN_EXECUTABLE}`);
      const record: ImageRecord = {
        digest, reference: canonical, indexDigest, platform: platformName, layers: manifest.layers.map((l) => l.digest),
        pulledAt: new Date().toISOString(), files: listPluginFiles(partial),
      };
      await commitEntry(root, partial, record);
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
    await remember();
    const pulled = fromCache(digest, 'pulled');
    if (!pulled) fail('invalid-image', `the cache entry ${entryDir(root, digest)} was not usable right after the pull: ${checkEntry(root, digest) ?? executableProblem(entryDir(root, digest))}`);
    progress(`ready: ${pulled?.executable}`);
    return pulled as ResolvedPluginImage;
  } catch (error) {
    if (error instanceof PluginImageError) throw error;
    if (error instanceof RegistryError) {
      const where = `${ref.registry}/${ref.repository}`;
      if (error.kind === 'unreachable') {
        fail('unreachable', `${error.message}. ${ref.digest === undefined ? `The tag ${ref.tag} was never resolved on this machine, so there is no cached copy to fall back on` : `${ref.digest} is not in the cache (${root})`}`);
      }
      if (error.kind === 'not-found') fail('not-found', `${error.message}; check the repository (${where}) and the ${ref.digest !== undefined ? 'digest' : 'tag'}`);
      fail(error.kind === 'auth' ? 'auth' : error.kind === 'digest' ? 'digest' : 'invalid-image', error.message);
    }
    if (error instanceof ManifestError) fail('invalid-image', error.message);
    if (error instanceof LayerError) fail('invalid-image', error.message);
    throw error;
  } finally {
    await client.close();
  }
}

/** Cached images by digest (for `kubenest plugins`-style listings and tests). */
export function readCachedImage(cacheDir: string, digest: string): ImageRecord | undefined {
  return checkEntry(cacheDir, digest) === undefined ? readRecord(cacheDir, digest) : undefined;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}
