import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HookError, HookRegistry } from './hooks.ts';

const pod = (labels?: Record<string, string>) => JSON.stringify({ metadata: { name: 'web', namespace: 'default', ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
const request = (type: string, object: string, kind = 'Pod', apiVersion = 'v1') => ({ apiVersion, kind, type, object });

describe('HookRegistry', () => {
  it('answers GetPluginConfig with one entry per (apiVersion, kind) in registration order, types in a fixed order', () => {
    const hooks = new HookRegistry();
    hooks.add({ apiVersion: 'v1', kind: 'Service', getVirtual: () => {}, createPhysical: () => {} });
    hooks.add({ apiVersion: 'v1', kind: 'Pod', updatePhysical: () => {}, createPhysical: () => {} });
    hooks.add({ apiVersion: 'v1', kind: 'Service', applyPhysical: () => {}, createPhysical: () => {} });
    hooks.add({ apiVersion: 'apps/v1', kind: 'Deployment', applyVirtual: () => {} });
    assert.deepEqual(hooks.clientHooks(), [
      { apiVersion: 'v1', kind: 'Service', types: ['CreatePhysical', 'ApplyPhysical', 'GetVirtual'] },
      { apiVersion: 'v1', kind: 'Pod', types: ['CreatePhysical', 'UpdatePhysical'] },
      { apiVersion: 'apps/v1', kind: 'Deployment', types: ['ApplyVirtual'] },
    ]);
  });

  it('runs the hooks of exactly (apiVersion, kind, type) in registration order, each on the previous result', async () => {
    const hooks = new HookRegistry();
    const seen: string[] = [];
    hooks.add({
      apiVersion: 'v1', kind: 'Pod',
      createPhysical: (p) => { seen.push(`first:${JSON.stringify(p.metadata?.labels ?? {})}`); p.metadata!.labels = { ...p.metadata!.labels, a: '1' }; },
      updatePhysical: () => { seen.push('wrong type'); },
    });
    hooks.add({ apiVersion: 'v1', kind: 'Service', createPhysical: () => { seen.push('wrong kind'); } });
    hooks.add({ apiVersion: 'apps/v1', kind: 'Pod', createPhysical: () => { seen.push('wrong apiVersion'); } });
    hooks.add({
      apiVersion: 'v1', kind: 'Pod',
      // Returns a new object rather than changing its argument.
      createPhysical: async (p) => { await Promise.resolve(); seen.push(`second:${JSON.stringify(p.metadata?.labels)}`); return { ...p, metadata: { ...p.metadata, labels: { ...p.metadata?.labels, b: '2' } } }; },
    });
    const answer = await hooks.mutate(request('CreatePhysical', pod()));
    assert.deepEqual(seen, ['first:{}', 'second:{"a":"1"}']);
    assert.equal(answer.mutated, true);
    assert.deepEqual((JSON.parse(answer.object) as { metadata: { labels: unknown } }).metadata.labels, { a: '1', b: '2' });
  });

  it('answers mutated=false (and no object) when nothing matches or nothing changed, as the Go SDK does', async () => {
    const hooks = new HookRegistry();
    hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: (p) => p, getPhysical: (p) => ({ ...p }) });
    assert.deepEqual(await hooks.mutate(request('CreatePhysical', pod())), { mutated: false, object: '' });
    assert.deepEqual(await hooks.mutate(request('GetPhysical', pod())), { mutated: false, object: '' });
    assert.deepEqual(await hooks.mutate(request('DeletePhysical', pod())), { mutated: false, object: '' });
    assert.deepEqual(await hooks.mutate(request('CreatePhysical', '{}', 'Secret')), { mutated: false, object: '' });
  });

  it('keeps fields it does not know (the Go SDK drops them) and hands each hook its own copy', async () => {
    const hooks = new HookRegistry();
    let first: unknown;
    hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: (p) => { first = p; return { ...p, metadata: { ...p.metadata, labels: { x: 'y' } } }; } });
    hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: (p) => { assert.notEqual(p, first); } });
    const input = JSON.stringify({ metadata: { name: 'a' }, spec: { futureField: { deep: [1, 2] } }, extra: true });
    const answer = await hooks.mutate(request('CreatePhysical', input));
    assert.deepEqual(JSON.parse(answer.object), { metadata: { name: 'a', labels: { x: 'y' } }, spec: { futureField: { deep: [1, 2] } }, extra: true });
  });

  it('a hook that throws refuses with its message, naming the hook; later hooks are not run', async () => {
    const hooks = new HookRegistry();
    let later = false;
    hooks.add({ apiVersion: 'v1', kind: 'Pod', name: 'no-latest', createPhysical: () => { throw new Error('image tag latest is not allowed'); } });
    hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: () => { later = true; } });
    await assert.rejects(hooks.mutate(request('CreatePhysical', pod())), (error: Error) => {
      assert.ok(error instanceof HookError);
      assert.equal(error.message, 'error mutating object: no-latest CreatePhysical: image tag latest is not allowed');
      return true;
    });
    assert.equal(later, false);
  });

  it('a hook that returns something other than the object refuses, saying so', async () => {
    const hooks = new HookRegistry();
    hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: (() => 'oops') as never });
    await assert.rejects(hooks.mutate(request('CreatePhysical', pod())), /pod-hook CreatePhysical returned string, not the Pod; return the object or nothing/);
    const nulls = new HookRegistry();
    nulls.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: (() => null) as never });
    await assert.rejects(nulls.mutate(request('CreatePhysical', pod())), /returned null/);
  });

  it('refuses an object that is not JSON, as the Go SDK does ("error decoding object")', async () => {
    const hooks = new HookRegistry();
    hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: () => {} });
    await assert.rejects(hooks.mutate(request('CreatePhysical', '{not json')), /^HookError: error decoding object: /);
    await assert.rejects(hooks.mutate(request('CreatePhysical', '[1]')), /error decoding object: Pod is not a JSON object/);
  });

  it('refuses a registration it could not serve, naming the field', () => {
    const hooks = new HookRegistry();
    assert.throws(() => hooks.add({ apiVersion: 'v1', kind: 'Pod' }), /has no hook function; give at least one of createPhysical, updatePhysical/);
    assert.throws(() => hooks.add({ apiVersion: 'v1', kind: 'Pod', createphysical: () => {} } as never), /unknown field "createphysical"; hook types are createPhysical/);
    assert.throws(() => hooks.add({ apiVersion: '', kind: 'Pod', createPhysical: () => {} }), /apiVersion must be the group\/version the host sends, like "v1" or "apps\/v1"/);
    assert.throws(() => hooks.add({ apiVersion: 'v1', kind: 'pods', createPhysical: () => {} }), /kind must be a Kind like "Pod" \(got "pods"\)/);
    assert.throws(() => hooks.add({ apiVersion: 'v1', kind: 'Pod', createPhysical: 'yes' as never }), /createPhysical must be a function/);
    assert.equal(hooks.size, 0);
  });
});
