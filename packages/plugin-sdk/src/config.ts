import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';

export class PluginConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginConfigError';
  }
}

/**
 * The plugin's own settings: `PLUGIN_CONFIG` is the YAML of its `plugins.NAME.config` (`null` when
 * it has none, which reads as `{}`). With a schema, a value that does not match throws naming each
 * wrong field by path with what was expected and what came, so the plugin stops before it serves.
 * Defaults the schema declares fill missing fields.
 */
export function parsePluginConfig<S extends TSchema>(text: string | undefined, schema?: S): Static<S> {
  let value: unknown;
  try {
    value = parse(text ?? '') ?? {};
  } catch (error) {
    throw new PluginConfigError(`PLUGIN_CONFIG is not valid YAML (${(error as Error).message.split('\n')[0]}); fix the plugin's \`config\` in the values file`);
  }
  if (!schema) return value;
  value = Value.Default(schema, value);
  const problems = [...Value.Errors(schema, value)]
    // One line per path: TypeBox reports a union's branches too, the first is the clearest.
    .filter((e, i, all) => all.findIndex((o) => o.path === e.path) === i)
    .map((e) => `  ${e.path === '' ? '(the whole config)' : `config${e.path.replaceAll('/', '.')}`}: ${e.message.replace(/^Expected/, 'expected')}, got ${describe(e.value)}`);
  if (problems.length) {
    throw new PluginConfigError(`PLUGIN_CONFIG does not match the plugin's schema; fix the plugin's \`config\` in the values file:\n${problems.join('\n')}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}
