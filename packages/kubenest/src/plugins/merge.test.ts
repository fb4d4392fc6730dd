import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goMerge } from './merge.ts';

describe('goMerge (Go json.Unmarshal into an existing object)', () => {
  it('keeps map keys the result leaves out: a plugin cannot delete a label by omitting it', () => {
    const existing = { metadata: { name: 'a', labels: { keep: '1', change: 'old' } }, spec: { x: 1 } };
    const result = { metadata: { name: 'a', labels: { change: 'new', added: 'yes' } } };
    assert.deepEqual(goMerge(existing, result), { metadata: { name: 'a', labels: { keep: '1', change: 'new', added: 'yes' } }, spec: { x: 1 } });
  });

  it('replaces lists whole', () => {
    const existing = { spec: { ports: [{ name: 'a', port: 1 }, { name: 'b', port: 2 }] } };
    assert.deepEqual(goMerge(existing, { spec: { ports: [{ name: 'c', port: 3 }] } }), { spec: { ports: [{ name: 'c', port: 3 }] } });
  });

  it('clears a field set to null explicitly, and replaces scalars', () => {
    assert.deepEqual(goMerge({ a: { b: 1 }, c: 'x', d: 2 }, { a: null, c: 'y' }), { c: 'y', d: 2 });
  });

  it('does not change its inputs', () => {
    const existing = { m: { k: 'v' } };
    const result = { m: { j: 'w' } };
    goMerge(existing, result);
    assert.deepEqual(existing, { m: { k: 'v' } });
    assert.deepEqual(result, { m: { j: 'w' } });
  });
});
