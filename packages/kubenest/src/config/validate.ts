import { isDeepStrictEqual } from 'node:util';
import { Ajv, type ErrorObject } from 'ajv';
import { TOLERATION_FORMS, parseToleration } from './tolerations.ts';
import { KEY_FORMS, mappingProblems } from './from-host-mappings.ts';
import { pluginEntryProblems } from '../plugins/entries.ts';
import { VClusterValuesSchema } from './schema.ts';
import { mergeValues, type Values, type ValuesSource } from './values.ts';

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// verbose: errors carry their schema, which lists the keys that are allowed where a typo was found.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const check = ajv.compile(VClusterValuesSchema);

/** Checks every values file on its own (so errors name the file), throwing all problems at once. */
export function validateValues(sources: ValuesSource[]): void {
  const problems: string[] = [];
  for (const source of sources) {
    if (!check(source.values)) problems.push(...describe(check.errors ?? [], source));
    else problems.push(...fromHostMappingProblems(source), ...tolerationProblems(source));
  }
  if (problems.length === 0 && sources.length > 0) {
    // Whether a from-host syncer is on and has mappings can depend on several files: check the merge.
    const merged = { name: sources.length === 1 ? sources[0]!.name : `the merged values of ${sources.map((s) => s.name).join(', ')}`, values: sources.map((s) => s.values).reduce(mergeValues) };
    problems.push(...fromHostMappingProblems(merged, true), ...unsupportedProblems(sources, merged.values));
    problems.push(...pluginEntryProblems(merged.values).map((problem) => `${merged.name}: ${problem}`));
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** `sync.toHost.pods.enforceTolerations`: each entry in a form vCluster reads. */
function tolerationProblems(source: ValuesSource): string[] {
  const entries = (valueAt(source.values, '/sync/toHost/pods/enforceTolerations') ?? []) as string[];
  const out: string[] = [];
  entries.forEach((entry, index) => {
    try {
      parseToleration(entry);
    } catch (error) {
      out.push(`${source.name}: sync.toHost.pods.enforceTolerations[${index}]: ${(error as Error).message}; expected ${TOLERATION_FORMS}`);
    }
  });
  return out;
}

/**
 * vcluster.yaml options kubenest does not implement yet, each with why it matters. Switched on,
 * they are refused rather than ignored: the user would otherwise wait for objects that never come.
 * Only values vCluster does not default to are listed, so its full default file still loads.
 */
const UNSUPPORTED: { path: string[]; when: (value: unknown) => boolean; what: string }[] = [
  ...[
    ['toHost', 'persistentVolumes', 'real PersistentVolume sync; without it bound claims get fake PersistentVolumes'],
    ['toHost', 'storageClasses', 'StorageClasses from the virtual cluster to the host'],
    ['toHost', 'namespaces', 'one host namespace per virtual namespace'],
    ['toHost', 'gatewayApi', 'Gateway API sync'],
    ['toHost', 'resourceClaims', 'ResourceClaim sync'],
    ['toHost', 'resourceClaimTemplates', 'ResourceClaimTemplate sync'],
    ['toHost', 'volumeSnapshots', 'VolumeSnapshot sync'],
    ['toHost', 'volumeSnapshotContents', 'VolumeSnapshotContent sync'],
    ['fromHost', 'ingressClasses', 'IngressClasses from the host'],
    ['fromHost', 'runtimeClasses', 'RuntimeClasses from the host'],
    ['fromHost', 'priorityClasses', 'PriorityClasses from the host'],
    ['fromHost', 'deviceClasses', 'DeviceClasses from the host'],
    ['fromHost', 'gatewayClasses', 'GatewayClasses from the host'],
    ['fromHost', 'gateways', 'Gateways from the host'],
    ['fromHost', 'volumeSnapshotClasses', 'VolumeSnapshotClasses from the host'],
    ['fromHost', 'csiDrivers', 'CSIDrivers from the host (for a virtual scheduler)'],
    ['fromHost', 'csiNodes', 'CSINodes from the host (for a virtual scheduler)'],
    ['fromHost', 'csiStorageCapacities', 'CSIStorageCapacities from the host (for a virtual scheduler)'],
  ].map(([direction, kind, what]) => ({ path: ['sync', direction!, kind!, 'enabled'], when: (value: unknown) => value === true || value === 'true', what: what! })),
  { path: ['sync', 'toHost', 'pods', 'hybridScheduling', 'enabled'], when: (value) => value === true, what: 'hybrid scheduling' },
];

/** Unimplemented options switched on in the merged values, named by the last file that set them. */
function unsupportedProblems(sources: ValuesSource[], merged: Values): string[] {
  const at = (values: Values, path: string[]): unknown => valueAt(values, `/${path.join('/')}`);
  const checks = [...UNSUPPORTED];
  for (const direction of ['toHost', 'fromHost']) {
    const custom = (at(merged, ['sync', direction, 'customResources']) ?? {}) as Record<string, unknown>;
    for (const name of Object.keys(custom)) {
      checks.push({ path: ['sync', direction, 'customResources', name, 'enabled'], when: (value) => value === true, what: `custom resource sync (${name}); a plugin can sync it` });
    }
  }
  const out: string[] = [];
  for (const { path, when, what } of checks) {
    const value = at(merged, path);
    if (!when(value)) continue;
    const file = [...sources].reverse().find((source) => isDeepStrictEqual(at(source.values, path), value))?.name ?? 'the values';
    out.push(`${file}: ${path.join('.')}: ${JSON.stringify(value)} is not supported by kubenest yet (${what}); remove it or set it to false`);
  }
  return out;
}

/** `sync.fromHost.{configMaps,secrets}.mappings.byName`: each entry well formed; with `checkEnabled`, none empty while enabled. */
function fromHostMappingProblems(source: ValuesSource, checkEnabled = false): string[] {
  const out: string[] = [];
  for (const kind of ['configMaps', 'secrets']) {
    const section = valueAt(source.values, `/sync/fromHost/${kind}`) as { enabled?: boolean; mappings?: { byName?: Record<string, string> } } | undefined;
    const byName = section?.mappings?.byName ?? {};
    if (checkEnabled) {
      if (section?.enabled === true && Object.keys(byName).length === 0) {
        out.push(`${source.name}: sync.fromHost.${kind}: enabled, but mappings.byName is empty; add entries of the form ${KEY_FORMS}, e.g. "my-namespace/*": "my-virtual-namespace/*"`);
      }
      continue;
    }
    for (const { key, message } of mappingProblems(byName)) {
      out.push(`${source.name}: sync.fromHost.${kind}.mappings.byName[${JSON.stringify(key)}]: ${message}`);
    }
  }
  return out;
}

function describe(errors: ErrorObject[], source: ValuesSource): string[] {
  const out = new Set<string>();
  // A value matching no branch of a union yields one error per branch plus one for the union.
  const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const error of errors) {
    const path = dotted(error.instancePath);
    const at = `${source.name}: ${path || '(top level)'}`;
    if (error.keyword === 'additionalProperties') {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(key, known);
      out.add(`${source.name}: ${path ? `${path}.` : ''}${key}: unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; known here: ${known.join(', ')}`);
    } else if (error.keyword === 'anyOf') {
      out.add(`${at}: expected ${unionChoices(error.parentSchema)}, got ${shown(valueAt(source.values, error.instancePath))}`);
    } else if (error.keyword === 'type' || error.keyword === 'const') {
      if (unionPaths.has(error.instancePath)) continue;
      const expected = error.keyword === 'type' ? (error.params as { type: string }).type : JSON.stringify((error.params as { allowedValue: unknown }).allowedValue);
      out.add(`${at}: expected ${expected === 'object' ? 'a map' : expected === 'array' ? 'a list' : expected}, got ${shown(valueAt(source.values, error.instancePath))}`);
    } else if (error.keyword === 'required') {
      out.add(`${at}: missing "${(error.params as { missingProperty: string }).missingProperty}"`);
    } else {
      out.add(`${at}: ${error.message ?? 'invalid'}`);
    }
  }
  return [...out];
}

/** The choices of a union schema in words: `true, false or "auto"`, `"privileged", "baseline" or "restricted"`. */
function unionChoices(schema: unknown): string {
  const branches = (schema as { anyOf?: { const?: unknown; type?: string }[] } | undefined)?.anyOf ?? [];
  const choices = branches.flatMap((branch) => {
    if (branch.const !== undefined) return [JSON.stringify(branch.const)];
    if (branch.type === 'boolean') return ['true', 'false'];
    return branch.type ? [branch.type === 'object' ? 'a map' : branch.type] : [];
  });
  if (choices.length === 0) return 'one of the allowed values';
  return choices.length === 1 ? choices[0]! : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)!}`;
}

function dotted(pointer: string): string {
  return pointer.split('/').slice(1).map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~')).join('.');
}

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const part of pointer.split('/').slice(1)) node = (node as Record<string, unknown> | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  return node;
}

function shown(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The known key nearest to a typo (case and up to two edits), if any. */
function closest(key: string, known: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
