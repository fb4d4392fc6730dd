import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { parsePluginConfig, PluginConfigError } from './config.ts';

const schema = Type.Object({
  port: Type.Number(),
  label: Type.String({ default: 'pod-hook' }),
  targets: Type.Optional(Type.Array(Type.Object({ kind: Type.String() }))),
});

describe('parsePluginConfig', () => {
  it('reads PLUGIN_CONFIG as YAML; none or null is {}', () => {
    assert.deepEqual(parsePluginConfig('port: 19000\nnested:\n  a: [1, 2]\n'), { port: 19000, nested: { a: [1, 2] } });
    assert.deepEqual(parsePluginConfig('null\n'), {});
    assert.deepEqual(parsePluginConfig(undefined), {});
    assert.deepEqual(parsePluginConfig(''), {});
  });

  it('checks against the schema and fills its defaults', () => {
    const config = parsePluginConfig('port: 19000\n', schema);
    assert.deepEqual(config, { port: 19000, label: 'pod-hook' });
  });

  it('a wrong value names its path, the expected type and what came, and the fix', () => {
    assert.throws(() => parsePluginConfig('port: "19000"\ntargets:\n  - kind: 3\n', schema), (error: Error) => {
      assert.ok(error instanceof PluginConfigError);
      assert.equal(error.message, [
        "PLUGIN_CONFIG does not match the plugin's schema; fix the plugin's `config` in the values file:",
        '  config.port: expected number, got string "19000"',
        '  config.targets.0.kind: expected string, got number 3',
      ].join('\n'));
      return true;
    });
  });

  it('a missing required field and a config that is not a map are named too', () => {
    assert.throws(() => parsePluginConfig('label: x\n', schema), /config\.port: expected required property, got nothing/);
    assert.throws(() => parsePluginConfig('- 1\n- 2\n', schema), /\(the whole config\): expected object, got a list/);
  });

  it('YAML that does not parse is named as such', () => {
    assert.throws(() => parsePluginConfig('port: [1,\n', schema), /^PluginConfigError: PLUGIN_CONFIG is not valid YAML \(.+\); fix the plugin's `config` in the values file$/);
  });
});
