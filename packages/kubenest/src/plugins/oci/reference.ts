/**
 * Image references as docker and the distribution spec write them:
 * `[registry[:port]/]repository[:tag][@algorithm:hex]`. The first path component is a registry
 * when it holds a `.` or a `:`, or is `localhost`; otherwise the registry is Docker Hub, whose
 * one-component repositories live under `library/`. With neither tag nor digest the tag is `latest`.
 */

export const DOCKER_HUB = 'docker.io';
/** Docker Hub's API host: `docker.io` is a name, the registry answers at this host. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface ImageReference {
  /** As written in the values file. */
  original: string;
  /** `docker.io`, `ghcr.io`, `127.0.0.1:5000`... */
  registry: string;
  /** `library/alpine`, `loft-sh/plugin`... */
  repository: string;
  /** The tag, when the reference has one (a digest reference may have one too; the digest wins). */
  tag?: string | undefined;
  /** `sha256:<64 hex>`, when the reference pins one. */
  digest?: string | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const DIGESTS: Record<string, number> = { sha256: 64, sha512: 128 };

export class ImageReferenceError extends Error {
  constructor(reference: string, why: string) {
    super(`"${reference}" is not a valid image reference: ${why}. ` +
      'Write it as [registry/]repository[:tag][@sha256:<64 hex>], for example ghcr.io/org/plugin:v1 or plugin@sha256:...');
    this.name = 'ImageReferenceError';
  }
}

export function parseImageReference(original: string): ImageReference {
  const fail = (why: string): never => { throw new ImageReferenceError(original, why); };
  const text = original.trim();
  if (text === '') fail('it is empty');
  if (/\s/.test(text)) fail('it contains whitespace');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) fail('it has a URL scheme; leave out "https://"');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const [algorithm, hex] = digest.split(':');
    const length = algorithm ? DIGESTS[algorithm] : undefined;
    if (!length || hex === undefined) fail(`the digest "${digest}" is not sha256:<64 hex> or sha512:<128 hex>`);
    else if (!new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) fail(`the digest "${digest}" is not ${algorithm}:<${length} lowercase hex>`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`the tag "${tag}" is not valid (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }

  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    parts.shift();
    if (!DOMAIN.test(registry)) fail(`the registry "${registry}" is not a host name with an optional port`);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((part) => part === '')) fail('the repository path has an empty component');
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      fail(/[A-Z]/.test(part) ? `the repository component "${part}" has upper-case letters; repositories are lower-case`
        : `the repository component "${part}" is not valid (lower-case letters, digits, and . _ __ - between them)`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) fail('the repository name is longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { original, registry, repository, tag, digest };
}

/** The canonical form: `registry/repository[:tag][@digest]`, with Docker Hub's defaults spelt out. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The host the registry API answers at (Docker Hub's name differs from its API host). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Loopback registries are spoken to over plain HTTP, as docker treats them as insecure registries by default. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
