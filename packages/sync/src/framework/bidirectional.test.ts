import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyBidirectional, mergeBidirectional } from './bidirectional.ts';

describe('copyBidirectional', () => {
  it('copies the side that changed; the virtual side wins when both did', () => {
    assert.deepEqual(copyBidirectional(1, 2, 1, 1), { virtual: 2, host: 2 });
    assert.deepEqual(copyBidirectional(1, 1, 1, 3), { virtual: 3, host: 3 });
    assert.deepEqual(copyBidirectional(1, 2, 1, 3), { virtual: 2, host: 2 });
    assert.deepEqual(copyBidirectional([80], [80], [80], [80]), { virtual: [80], host: [80] });
  });

  it('treats a first sight (nothing seen before) as a virtual change', () => {
    assert.deepEqual(copyBidirectional(undefined, 'v', undefined, 'h'), { virtual: 'v', host: 'v' });
  });
});

describe('mergeBidirectional', () => {
  it('applies only the changed keys, so keys owned by one side survive', () => {
    const result = mergeBidirectional({ a: '1' }, { a: '2', b: 'new' }, { a: '1' }, { a: '1', hostOnly: 'x' });
    assert.deepEqual(result.host, { a: '2', b: 'new', hostOnly: 'x' });
    assert.deepEqual(result.virtual, { a: '2', b: 'new' });
  });

  it('applies removals, and host changes when only the host changed', () => {
    assert.deepEqual(mergeBidirectional({ a: '1', b: '2' }, { a: '1' }, { a: '1', b: '2' }, { a: '1', b: '2' }).host, { a: '1' });
    assert.deepEqual(mergeBidirectional({ a: '1' }, { a: '1' }, { a: '1' }, { a: 'host' }).virtual, { a: 'host' });
  });
});
