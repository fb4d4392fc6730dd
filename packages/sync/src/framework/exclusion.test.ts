import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isExcluded } from './exclusion.ts';

describe('isExcluded', () => {
  const object = (labels?: Record<string, string>, annotations?: Record<string, string>) => ({ metadata: { name: 'x', labels, annotations } });

  it('keeps every syncer off an object with a controlled-by label', () => {
    assert.equal(isExcluded(object({ 'vcluster.loft.sh/controlled-by': 'my-plugin' }), 'configmap'), true);
    assert.equal(isExcluded(object({ 'vcluster.loft.sh/controlled-by': 'configmap' }), 'configmap'), true, 'the label excludes even the named syncer');
  });

  it('lets only the syncer named by the annotation handle the object', () => {
    assert.equal(isExcluded(object(undefined, { 'vcluster.loft.sh/controlled-by': 'my-plugin' }), 'configmap'), true);
    assert.equal(isExcluded(object(undefined, { 'vcluster.loft.sh/controlled-by': 'configmap' }), 'configmap'), false);
  });

  it('ignores empty values and unrelated metadata', () => {
    assert.equal(isExcluded(object({ 'vcluster.loft.sh/controlled-by': '' }), 'configmap'), false);
    assert.equal(isExcluded(object({ app: 'web' }, { note: 'x' }), 'configmap'), false);
    assert.equal(isExcluded({}, 'configmap'), false);
  });
});
