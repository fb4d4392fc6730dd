import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FromHostMappings, mappingProblems } from './from-host-mappings.ts';

describe('from-host mappings', () => {
  const mappings = new FromHostMappings({
    'from-host-sync-test/*': 'barfoo/*',
    'default/my.cm': 'barfoo/cm-my',
    'default/same': 'other/*',
    '': 'my-new-ns',
    '/my-cm-4': 'barfoo/my-cm-4',
    'vc-demo/explicit': 'x/explicit-copy',
  }, 'vc-demo');

  it('maps a whole namespace, keeping names', () => {
    assert.deepEqual(mappings.virtualOf('from-host-sync-test', 'a'), { namespace: 'barfoo', name: 'a' });
  });

  it('maps single objects, renamed or (value NS/*) not', () => {
    assert.deepEqual(mappings.virtualOf('default', 'my.cm'), { namespace: 'barfoo', name: 'cm-my' });
    assert.deepEqual(mappings.virtualOf('default', 'same'), { namespace: 'other', name: 'same' });
    assert.equal(mappings.virtualOf('default', 'unmapped'), undefined);
    assert.equal(mappings.virtualOf('elsewhere', 'my.cm'), undefined);
  });

  it('reads "" and "/name" as the virtual cluster\'s host namespace, an exact key first', () => {
    assert.deepEqual(mappings.virtualOf('vc-demo', 'my-cm-4'), { namespace: 'barfoo', name: 'my-cm-4' });
    assert.deepEqual(mappings.virtualOf('vc-demo', 'anything'), { namespace: 'my-new-ns', name: 'anything' });
    assert.deepEqual(mappings.virtualOf('vc-demo', 'explicit'), { namespace: 'x', name: 'explicit-copy' });
    assert.deepEqual(new FromHostMappings({ '': 'target/*' }, 'vc-demo').virtualOf('vc-demo', 'c'), { namespace: 'target', name: 'c' });
    assert.equal(new FromHostMappings({ '/only': 'target/only' }, 'vc-demo').virtualOf('vc-demo', 'other'), undefined);
  });

  it('lists the host namespaces to watch, the host namespace once', () => {
    assert.deepEqual(mappings.hostNamespaces(), ['default', 'from-host-sync-test', 'vc-demo']);
  });

  it('accepts every documented form', () => {
    assert.deepEqual(mappingProblems({ 'a/b': 'c/d', 'a/*': 'c/*', '/b': 'c/d', '': 'c', 'e/f': 'g/*' }), []);
    assert.deepEqual(mappingProblems({ '': 'c/*' }), []);
  });

  it('names the entry and the expected form for each bad one', () => {
    assert.deepEqual(mappingProblems({
      'no-slash': 'c/d',
      'a/b/c': 'c/d',
      'a/b': 'no-slash',
      'a/*': 'c/d',
      '': 'c/d',
      'Bad_NS/x': 'c/d',
      'a/x': 'c/Bad_Name',
      '/*': 'c/*',
      'a/': 'c/d',
      'b/c': 7,
    }), [
      { key: 'no-slash', message: 'expected a key of the form HOST_NAMESPACE/NAME, HOST_NAMESPACE/*, /NAME or "" (the virtual cluster\'s host namespace), got "no-slash"' },
      { key: 'a/b/c', message: 'expected a key of the form HOST_NAMESPACE/NAME, HOST_NAMESPACE/*, /NAME or "" (the virtual cluster\'s host namespace), got "a/b/c"' },
      { key: 'a/b', message: 'expected a value of the form VIRTUAL_NAMESPACE/NAME or VIRTUAL_NAMESPACE/*, got "no-slash"' },
      { key: 'a/*', message: 'a key for a whole namespace ("a/*") needs a value of the form VIRTUAL_NAMESPACE/*, got "c/d"' },
      { key: '', message: 'expected VIRTUAL_NAMESPACE or VIRTUAL_NAMESPACE/* for the key "" (every object of the host namespace), got "c/d"' },
      { key: 'Bad_NS/x', message: 'host namespace "Bad_NS" is not a valid namespace name (lower-case letters, digits and "-", at most 63)' },
      { key: 'a/x', message: 'virtual name "Bad_Name" is not a valid object name (a DNS subdomain: lower-case letters, digits, "-" and ".")' },
      { key: '/*', message: 'expected a key of the form HOST_NAMESPACE/NAME, HOST_NAMESPACE/*, /NAME or "" (the virtual cluster\'s host namespace), got "/*" (use "" for the whole host namespace)' },
      { key: 'a/', message: 'expected a key of the form HOST_NAMESPACE/NAME, HOST_NAMESPACE/*, /NAME or "" (the virtual cluster\'s host namespace), got "a/" (no object name)' },
      { key: 'b/c', message: 'expected a string, got number' },
    ]);
  });

  it('refuses to be built from a bad map', () => {
    assert.throws(() => new FromHostMappings({ x: 'y' }, 'vc'), /mappings\.byName\["x"\]: expected a key/);
  });
});
