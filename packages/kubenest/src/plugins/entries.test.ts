import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginConfigYaml, pluginEntries, pluginEntryProblems, resolvePluginPaths } from './entries.ts';

describe('plugin entries from values', () => {
  it('takes plugins.NAME and legacy plugin.NAME with version v2, plugins winning, in sorted name order', () => {
    const entries = pluginEntries({
      plugin: { zeta: { version: 'v2', path: '/z', config: { from: 'legacy' } }, same: { version: 'v2', path: '/old' }, v1: { image: 'x' } },
      plugins: { beta: { image: 'b:1' }, same: { path: '/new', failurePolicy: 'Ignore', timeoutSeconds: 2 } },
    });
    assert.deepEqual(entries.map((e) => [e.name, e.path ?? e.image, e.failurePolicy, e.timeoutMs]), [
      ['beta', 'b:1', 'Fail', 10_000], ['same', '/new', 'Ignore', 2000], ['zeta', '/z', 'Fail', 10_000],
    ]);
    assert.equal(entries[2]!.pluginConfig, 'from: legacy\n');
  });

  it('PLUGIN_CONFIG is YAML with sorted keys, and null when the entry has no config', () => {
    assert.equal(pluginConfigYaml(undefined), 'null\n');
    assert.equal(pluginConfigYaml({ string: 'string', int: 123, map: { entry: 'entry' }, array: ['entry'] }), 'array:\n  - entry\nint: 123\nmap:\n  entry: entry\nstring: string\n');
    assert.equal(pluginConfigYaml({}), '{}\n');
  });

  it('PLUGIN_CONFIG quotes the strings YAML 1.1 (Go\'s YAML libraries) would read as booleans', () => {
    assert.equal(pluginConfigYaml({ deep: 'yes', n: 1, off: 'on', real: true }), 'deep: "yes"\n"n": 1\n"off": "on"\nreal: true\n');
  });

  it('resolves a relative path against the values file that names it', () => {
    const out = resolvePluginPaths({ name: '/work/vals/plugin.yaml', values: { plugins: { a: { path: '../bin/a' }, b: { path: '/abs' } }, plugin: { c: { version: 'v2', path: 'c' } } } });
    assert.deepEqual(out.values, { plugins: { a: { path: '/work/bin/a' }, b: { path: '/abs' } }, plugin: { c: { version: 'v2', path: '/work/vals/c' } } });
  });

  it('names the plugin and the fix for entries it cannot run', () => {
    const problems = pluginEntryProblems({ plugins: { empty: {} }, plugin: { old: { image: 'x' } } });
    assert.match(problems.join('\n'), /plugin\.old: a v1 plugin \(no `version: v2`\) runs as a sidecar container, which kubenest does not run; use `plugins\.old`/);
    assert.match(problems.join('\n'), /plugins\.empty: neither `image` nor `path` is set/);
  });
});
