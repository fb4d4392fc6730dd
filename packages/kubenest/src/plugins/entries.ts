import { accessSync, constants, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Values, ValuesSource } from '../config/values.ts';
import { resolvePluginImage } from './oci/index.ts';
import { pluginExtraRules } from './rbac.ts';

export type FailurePolicy = 'Fail' | 'Ignore';

/** One v2 plugin as the values name it, in load order. */
export interface PluginEntry {
  /** The key under `plugins:` (or legacy `plugin:`): the plugin's name everywhere. */
  name: string;
  image?: string | undefined;
  /** kubenest's own: a directory holding an executable `plugin`, or the executable; absolute after `resolvePluginPaths`. */
  path?: string | undefined;
  /** `PLUGIN_CONFIG`: the YAML of the entry's `config` (`null\n` when absent), as vCluster writes it. */
  pluginConfig: string;
  /** kubenest's own (beyond vCluster): what a refused or failed hook call means. Default Fail. */
  failurePolicy: FailurePolicy;
  /** kubenest's own: the per-call timeout of this plugin's hooks. Default 10 s, as in vCluster. */
  timeoutMs: number;
  /** The whole entry as the values hold it (rbac rules and the rest). */
  raw: Values;
}

export class PluginConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginConfigError';
  }
}

const DEFAULT_TIMEOUT_SECONDS = 10;

function isMap(value: unknown): value is Values {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The v2 plugins of merged values: `plugins.NAME`, and legacy `plugin.NAME` with `version: v2`
 * (a `plugins` entry of the same name wins, as its config does in vCluster), in sorted name
 * order, which is vCluster's load order. Legacy entries without `version: v2` are v1 sidecars,
 * which kubenest does not run (refused at validation).
 */
export function pluginEntries(values: Values): PluginEntry[] {
  const byName = new Map<string, Values>();
  const legacy = isMap(values['plugin']) ? values['plugin'] : {};
  for (const [name, entry] of Object.entries(legacy)) {
    if (isMap(entry) && entry['version'] === 'v2') byName.set(name, entry);
  }
  const current = isMap(values['plugins']) ? values['plugins'] : {};
  for (const [name, entry] of Object.entries(current)) {
    if (isMap(entry)) byName.set(name, entry);
  }
  return [...byName.keys()].sort().map((name) => {
    const raw = byName.get(name)!;
    const seconds = typeof raw['timeoutSeconds'] === 'number' ? raw['timeoutSeconds'] : DEFAULT_TIMEOUT_SECONDS;
    return {
      name,
      image: typeof raw['image'] === 'string' ? raw['image'] : undefined,
      path: typeof raw['path'] === 'string' ? raw['path'] : undefined,
      pluginConfig: pluginConfigYaml(raw['config']),
      failurePolicy: raw['failurePolicy'] === 'Ignore' ? 'Ignore' : 'Fail',
      timeoutMs: seconds * 1000,
      raw,
    };
  });
}

/**
 * `PLUGIN_CONFIG` as vCluster writes it (ghodss/yaml: through JSON, keys sorted); a missing
 * config is `null\n`. Written as YAML 1.1, as Go's YAML libraries read it: a string such as
 * `yes`, `on` or `n` is quoted, so it does not reach a Go plugin as a boolean.
 */
export function pluginConfigYaml(config: unknown): string {
  if (config === undefined || config === null) return 'null\n';
  return stringify(JSON.parse(JSON.stringify(config)), { sortMapEntries: true, version: '1.1' });
}

/** Problems with the plugin entries of merged values, each naming the plugin and the fix. */
export function pluginEntryProblems(values: Values): string[] {
  const problems: string[] = [];
  const legacy = isMap(values['plugin']) ? values['plugin'] : {};
  for (const [name, entry] of Object.entries(legacy)) {
    if (!isMap(entry) || entry['version'] !== 'v2') {
      problems.push(`plugin.${name}: a v1 plugin (no \`version: v2\`) runs as a sidecar container, which kubenest does not run; use \`plugins.${name}\` (protocol v2)`);
    }
  }
  for (const entry of pluginEntries(values)) {
    const where = `plugins.${entry.name}`;
    if (!entry.image && !entry.path) problems.push(`${where}: neither \`image\` nor \`path\` is set; name the plugin's OCI image, or with \`path\` a local directory holding an executable \`plugin\``);
    const seconds = entry.raw['timeoutSeconds'];
    if (seconds !== undefined && (typeof seconds !== 'number' || !(seconds > 0))) problems.push(`${where}.timeoutSeconds: expected a number of seconds above 0, got ${JSON.stringify(seconds)}`);
    const policy = entry.raw['failurePolicy'];
    if (policy !== undefined && policy !== 'Fail' && policy !== 'Ignore') problems.push(`${where}.failurePolicy: expected Fail or Ignore, got ${JSON.stringify(policy)}`);
    try {
      pluginExtraRules(entry);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return problems;
}

/**
 * Makes every `path:` of a values file absolute, relative to the file that named it (before the
 * files are merged, which loses where a key came from). Paths in downloaded values files are left
 * as they are and fail at start-up if relative.
 */
export function resolvePluginPaths(source: ValuesSource): ValuesSource {
  if (/^https?:\/\//.test(source.name)) return source;
  const base = dirname(resolve(source.name));
  const values = structuredClone(source.values);
  for (const section of ['plugins', 'plugin']) {
    const entries = values[section];
    if (!isMap(entries)) continue;
    for (const entry of Object.values(entries)) {
      if (isMap(entry) && typeof entry['path'] === 'string' && !isAbsolute(entry['path'])) entry['path'] = resolve(base, entry['path']);
    }
  }
  return { name: source.name, values };
}

/**
 * Where a plugin's executable is: `path:` (kubenest's own, which wins), else `image:`, pulled into
 * the digest-keyed plugin image cache (`oci/`, ADR 20) with its `/plugin` directory beside it.
 */
export async function pluginExecutable(entry: PluginEntry, progress?: (line: string) => void): Promise<string> {
  if (entry.path) return executableAt(entry);
  if (entry.image) return (await resolvePluginImage(entry.name, entry.image, { progress })).executable;
  throw new PluginConfigError(`plugin "${entry.name}": neither \`image\` nor \`path\` is set`);
}

function executableAt(entry: PluginEntry): string {
  const path = entry.path!;
  const where = `plugin "${entry.name}": path ${path}`;
  if (!isAbsolute(path)) throw new PluginConfigError(`${where}: a relative path is resolved against the values file that names it; a downloaded values file must use an absolute path`);
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new PluginConfigError(`${where} does not exist; point \`path\` at the plugin's directory (holding an executable \`plugin\`) or at the executable`);
  }
  const file = stats.isDirectory() ? join(path, 'plugin') : path;
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    throw new PluginConfigError(`${where}: ${file} is missing; a plugin directory holds its executable as \`plugin\` (as vCluster's /plugins/NAME/plugin)`);
  }
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new PluginConfigError(`${where}: ${file} is not executable; \`chmod +x ${file}\``);
  }
  return file;
}
