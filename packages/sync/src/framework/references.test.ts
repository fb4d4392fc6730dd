import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReferenceIndex } from './references.ts';

const refs = (kind: string, ...keys: string[]): Map<string, Set<string>> => new Map([[kind, new Set(keys)]]);

test('a key is referenced while at least one referrer uses it, and listeners hear each transition once', () => {
  const index = new ReferenceIndex();
  const heard: string[] = [];
  index.onChange((kind, key) => heard.push(`${kind}:${key}`));
  index.set('pod/a', refs('configmap', 'ns/one', 'ns/two'));
  index.set('pod/b', refs('configmap', 'ns/one'));
  assert.deepEqual(heard, ['configmap:ns/one', 'configmap:ns/two']);
  assert.ok(index.isReferenced('configmap', 'ns/one'));

  index.set('pod/a', undefined);
  assert.deepEqual(heard.slice(2), ['configmap:ns/two'], 'ns/one is still used by pod/b');
  assert.ok(index.isReferenced('configmap', 'ns/one'));
  assert.ok(!index.isReferenced('configmap', 'ns/two'));

  index.set('pod/b', refs('configmap'));
  assert.ok(!index.isReferenced('configmap', 'ns/one'));
  assert.deepEqual(heard.slice(3), ['configmap:ns/one']);
});

test('kinds are kept apart', () => {
  const index = new ReferenceIndex();
  index.set('pod/a', refs('secret', 'ns/x'));
  assert.ok(index.isReferenced('secret', 'ns/x'));
  assert.ok(!index.isReferenced('configmap', 'ns/x'));
});
