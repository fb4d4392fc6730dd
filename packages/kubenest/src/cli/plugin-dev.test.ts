import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLogLine } from './plugin-dev.ts';

describe('formatLogLine', () => {
  it('shows the level, the message and the plugin\'s own fields, not the plugin host\'s', () => {
    const line = JSON.stringify({ level: 40, time: '2026-11-30T18:00:00.000Z', plugin: 'p', pluginTime: 'x', msg: 'refused', kind: 'Pod' });
    assert.equal(formatLogLine(line), 'warn  refused {"kind":"Pod"}');
    assert.equal(formatLogLine(JSON.stringify({ level: 30, msg: 'plugin ready' })), 'info  plugin ready');
  });
  it('passes a line that is not JSON through', () => {
    assert.equal(formatLogLine('panic: boom'), 'panic: boom');
  });
});
