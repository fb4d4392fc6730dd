import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { virtualEventMessage, virtualEventName } from './syncer.ts';

describe('event translation', () => {
  it('replaces the host object name at the start of the event name', () => {
    assert.equal(virtualEventName('web-x-default-x-demo.18a2b3c4d5e6f708', 'web-x-default-x-demo', 'web'), 'web.18a2b3c4d5e6f708');
  });

  it('keeps an event name that does not start with the host object name', () => {
    assert.equal(virtualEventName('something-else.1', 'web-x-default-x-demo', 'web'), 'something-else.1');
  });

  it('turns host names in the message into virtual ones, namespace/name first', () => {
    const host = { namespace: 'vc-demo', name: 'web-x-team-x-demo' };
    const virtual = { namespace: 'team', name: 'web' };
    assert.equal(
      virtualEventMessage('Successfully assigned vc-demo/web-x-team-x-demo to node-1; web-x-team-x-demo started twice', host, virtual),
      'Successfully assigned team/web to node-1; web started twice',
    );
    assert.equal(virtualEventMessage('nothing to see', host, virtual), 'nothing to see');
  });
});
