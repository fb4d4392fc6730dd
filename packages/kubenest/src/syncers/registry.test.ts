import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostsRewrite } from './registry.ts';

describe('hostsRewrite (sync.toHost.pods.rewriteHosts)', () => {
  const ownId = (id: number | undefined): number => (!id ? 1001 : id);

  it('is on by default, with vCluster\'s image and resources', () => {
    assert.deepEqual(hostsRewrite({}), {
      image: 'mirror.gcr.io/library/alpine:3.20',
      resources: { limits: { cpu: '30m', memory: '64Mi' }, requests: { cpu: '30m', memory: '64Mi' } },
      runAsUser: ownId(process.getuid?.()), runAsGroup: ownId(process.getgid?.()),
    });
  });

  it('is off with enabled: false', () => {
    assert.equal(hostsRewrite({ sync: { toHost: { pods: { rewriteHosts: { enabled: false } } } } }), undefined);
  });

  it('takes the image as a string or as registry, repository and tag, and the resources as given', () => {
    const rewrite = (initContainer: unknown) => hostsRewrite({ sync: { toHost: { pods: { rewriteHosts: { initContainer } } } } });
    assert.equal(rewrite({ image: 'library/alpine:3.20' })?.image, 'library/alpine:3.20');
    assert.equal(rewrite({ image: { registry: 'registry.example:5000', repository: 'tools/alpine', tag: '3.21' } })?.image, 'registry.example:5000/tools/alpine:3.21');
    assert.equal(rewrite({ image: { repository: 'tools/alpine' } })?.image, 'tools/alpine:3.20');
    assert.deepEqual(rewrite({ resources: { requests: { cpu: '10m' } } })?.resources, { requests: { cpu: '10m' } });
  });
});
