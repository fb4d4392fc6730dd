import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MEDIA, ManifestError, checkLayers, parseManifest, selectPlatform, type Descriptor } from './manifest.ts';

const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const entry = (n: number, platform?: Descriptor['platform'], mediaType: string = MEDIA.ociManifest): Descriptor => ({ mediaType, digest: d(n), size: 100 + n, platform });

describe('parseManifest', () => {
  it('reads Docker v2 and OCI manifests and indexes, by their mediaType or the Content-Type', () => {
    const layers = [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d(2), size: 10 }];
    const docker = parseManifest(json({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: 'x', digest: d(1), size: 5 }, layers }), 'application/json');
    assert.equal(docker.kind, 'manifest');
    assert.equal(docker.kind === 'manifest' && docker.layers[0]?.digest, d(2));
    const oci = parseManifest(json({ schemaVersion: 2, config: { mediaType: 'x', digest: d(1), size: 5 }, layers: [] }), `${MEDIA.ociManifest}; charset=utf-8`);
    assert.equal(oci.mediaType, MEDIA.ociManifest);
    const list = parseManifest(json({ schemaVersion: 2, manifests: [entry(3, { os: 'linux', architecture: 'amd64' })] }), MEDIA.dockerList);
    assert.deepEqual(list.kind === 'index' && list.manifests[0]?.platform, { os: 'linux', architecture: 'amd64' });
    // No mediaType anywhere (OCI allows it): told apart by the fields.
    assert.equal(parseManifest(json({ schemaVersion: 2, manifests: [] }), undefined).kind, 'index');
  });

  it('refuses schema 1, artifacts that are not images, bad descriptors and non-JSON', () => {
    assert.throws(() => parseManifest(json({ schemaVersion: 1, name: 'x', fsLayers: [] }), MEDIA.dockerSchema1Signed), /schema 1 .* push it again/);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: 'application/vnd.cncf.helm.chart.v1+json' }), undefined), /"application\/vnd.cncf.helm.chart.v1\+json", not an image/);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: 'x', digest: 'sha256:zz', size: 1 }, layers: [] }), undefined), /config has no valid digest/);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: 'x', digest: d(1), size: -1 }, layers: [] }), undefined), /config has no valid size/);
    assert.throws(() => parseManifest(Buffer.from('<html>'), 'text/html'), ManifestError);
  });
});

describe('selectPlatform', () => {
  const index = [
    entry(1, { os: 'unknown', architecture: 'unknown' }),
    entry(2, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(3, { os: 'linux', architecture: 'amd64' }),
    entry(4, { os: 'windows', architecture: 'amd64' }),
    entry(5, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(6, { os: 'linux', architecture: 'arm', variant: 'v6' }),
  ];

  it('takes the os/architecture asked for, whatever the order, and variants when asked', () => {
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }).digest, d(3));
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' }).digest, d(2), 'a lone v8 fits an arm64 host');
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest, d(6));
    assert.equal(selectPlatform(index, { os: 'windows', architecture: 'amd64' }).digest, d(4));
  });

  it('names what the index offers when nothing fits; a nested index never fits', () => {
    assert.throws(() => selectPlatform(index, { os: 'linux', architecture: 's390x' }),
      /no linux\/s390x image \(it offers unknown\/unknown, linux\/arm64\/v8, linux\/amd64, windows\/amd64, linux\/arm\/v7, linux\/arm\/v6\)/);
    assert.throws(() => selectPlatform([entry(7, { os: 'linux', architecture: 'amd64' }, MEDIA.ociIndex)], { os: 'linux', architecture: 'amd64' }), ManifestError);
  });
});

describe('checkLayers', () => {
  it('accepts tar layers, gzip or zstd or plain, Docker or OCI', () => {
    checkLayers(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.docker.image.rootfs.diff.tar.gzip'].map((mediaType, i) => ({ mediaType, digest: d(i), size: 1 })));
  });

  it('refuses foreign layers and artifacts by position and digest', () => {
    assert.throws(() => checkLayers([{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d(1), size: 1 }]), /layer 1 \(sha256:1+\) is a non-distributable layer/);
    assert.throws(() => checkLayers([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d(1), size: 1 }, { mediaType: 'application/vnd.in-toto+json', digest: d(2), size: 1 }]),
      /layer 2 \(sha256:2+\) has the media type "application\/vnd.in-toto\+json", which is not a filesystem layer/);
  });
});
