/**
 * Image manifests and indexes, OCI and Docker v2 (schema 2) media types: parsing, validation and
 * the choice of one platform's manifest from a multi-arch index. Pure: no I/O.
 */

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What the Accept header of a manifest request offers: the four kinds this client reads. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
/** Layer media types this client applies; the payload's compression is sniffed from its first bytes. */
const LAYER_TYPES = new Set<string>([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform | undefined;
  urls?: string[] | undefined;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] };

export type ImageManifest = Extract<ParsedManifest, { kind: 'manifest' }>;

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Parses a manifest body; `contentType` is the response's Content-Type (the body's own mediaType wins when both are given). */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ManifestError(`the registry sent a manifest that is not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null) throw new ManifestError('the registry sent a manifest that is not a JSON object');
  const header = contentType?.split(';')[0]?.trim();
  const mediaType = typeof json['mediaType'] === 'string' ? json['mediaType']
    : header && header !== 'application/json' && header !== 'text/plain' ? header
    // OCI allows mediaType to be absent: tell the kinds apart by their fields.
    : Array.isArray(json['manifests']) ? MEDIA.ociIndex : MEDIA.ociManifest;
  if (mediaType === MEDIA.dockerSchema1 || mediaType === MEDIA.dockerSchema1Signed || json['schemaVersion'] === 1) {
    throw new ManifestError('the image uses the Docker schema 1 manifest format, which registries have deprecated; push it again with a current tool (docker buildx, crane, ko)');
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(json['manifests'])) throw new ManifestError(`the ${mediaType} has no "manifests" list`);
    return { kind: 'index', mediaType, manifests: json['manifests'].map((d, i) => descriptor(d, `manifests[${i}]`)) };
  }
  if (MANIFEST_TYPES.has(mediaType)) {
    if (!Array.isArray(json['layers'])) throw new ManifestError(`the ${mediaType} has no "layers" list`);
    return { kind: 'manifest', mediaType, config: descriptor(json['config'], 'config'), layers: json['layers'].map((d, i) => descriptor(d, `layers[${i}]`)) };
  }
  throw new ManifestError(`the reference points at a "${mediaType}", not an image (expected one of ${MANIFEST_ACCEPT})`);
}

function descriptor(value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null) throw new ManifestError(`${where} is not a descriptor object`);
  if (typeof d.mediaType !== 'string') throw new ManifestError(`${where} has no mediaType`);
  if (typeof d.digest !== 'string' || !/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(d.digest)) {
    throw new ManifestError(`${where} has no valid digest (got ${JSON.stringify(d.digest)})`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new ManifestError(`${where} has no valid size`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: d.platform, urls: d.urls };
}

/** The platform this machine runs plugins on, in OCI's words. */
export function hostPlatform(): Platform {
  const architecture = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
  return { os: 'linux', architecture };
}

/** One platform's manifest from an index; attestation entries (`unknown/unknown`) never match. */
export function selectPlatform(manifests: Descriptor[], want: Platform): Descriptor {
  const matching = manifests.filter((d) => d.platform?.os === want.os && d.platform.architecture === want.architecture
    && MANIFEST_TYPES.has(d.mediaType));
  const exact = want.variant !== undefined ? matching.find((d) => d.platform?.variant === want.variant) : undefined;
  // Without a wanted variant, prefer an entry without one (arm64 images often list "v8" alone, which also fits).
  const chosen = exact ?? matching.find((d) => d.platform?.variant === undefined) ?? matching[0];
  if (chosen) return chosen;
  const offered = manifests.map((d) => d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : '(no platform)');
  throw new ManifestError(`the image index has no ${want.os}/${want.architecture} image (it offers ${offered.join(', ') || 'nothing'})`);
}

/** Refuses layers this client cannot apply, before anything is downloaded. */
export function checkLayers(layers: Descriptor[]): void {
  for (const [i, layer] of layers.entries()) {
    if (layer.mediaType.includes('nondistributable') || layer.mediaType.includes('foreign')) {
      throw new ManifestError(`layer ${i + 1} (${layer.digest}) is a non-distributable layer (${layer.mediaType}) that the registry does not hold; kubenest pulls only layers the registry serves`);
    }
    if (!LAYER_TYPES.has(layer.mediaType)) {
      throw new ManifestError(`layer ${i + 1} (${layer.digest}) has the media type "${layer.mediaType}", which is not a filesystem layer (expected one of ${[...LAYER_TYPES].join(', ')})`);
    }
  }
}
