import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isImported, sameContent } from './from-host.ts';

describe('from-host helpers', () => {
  it('sameContent compares labels, annotations and the body, not server metadata', () => {
    const desired = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', labels: { x: '1' } }, data: { k: 'v' } };
    const existing = { ...desired, metadata: { ...desired.metadata, uid: 'u', resourceVersion: '7' } };
    assert.equal(sameContent(existing, desired), true);
    assert.equal(sameContent({ ...existing, data: { k: 'v', extra: 'x' } }, desired), false);
    assert.equal(sameContent({ ...existing, metadata: { ...existing.metadata, labels: { x: '2' } } }, desired), false);
    assert.equal(sameContent({ ...existing, metadata: { ...existing.metadata, annotations: { a: 'b' } } }, desired), false);
  });

  it('sameContent treats fields the server leaves out when empty as absent', () => {
    assert.equal(sameContent({ metadata: { name: 'e' }, involvedObject: {}, series: null }, { metadata: { name: 'e', labels: {} } }), true);
  });

  it('isImported reads the imported-by label', () => {
    assert.equal(isImported({ metadata: { labels: { 'kubenest.dev/imported-by': 'from-host-secret' } } }), true);
    assert.equal(isImported({ metadata: { labels: { app: 'x' } } }), false);
  });
});
