import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseToleration } from './tolerations.ts';

describe('parseToleration (sync.toHost.pods.enforceTolerations)', () => {
  it('reads the forms vCluster reads', () => {
    assert.deepEqual(parseToleration('*'), { operator: 'Exists' });
    assert.deepEqual(parseToleration('dedicated'), { key: 'dedicated' });
    assert.deepEqual(parseToleration('dedicated=tenant-a'), { key: 'dedicated', value: 'tenant-a' });
    assert.deepEqual(parseToleration('dedicated:NoSchedule'), { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' });
    assert.deepEqual(parseToleration('example.com/gpu=true:NoExecute'), { key: 'example.com/gpu', operator: 'Equal', value: 'true', effect: 'NoExecute' });
  });

  it('says what is wrong with a malformed entry', () => {
    assert.throws(() => parseToleration('a:b:c'), /"a:b:c" has more than one ":"/);
    assert.throws(() => parseToleration('a=b=c'), /"a=b=c" has more than one "="/);
    assert.throws(() => parseToleration('a:Sometimes'), /"Sometimes" in "a:Sometimes" is not an effect \(NoSchedule, PreferNoSchedule, NoExecute\)/);
    assert.throws(() => parseToleration('a=not valid'), /"not valid" in "a=not valid" is not a valid label value/);
  });
});
