import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { Agent, interceptors, request } from 'undici';

export type Values = Record<string, unknown>;

export class ValuesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValuesError';
  }
}

function isMap(value: unknown): value is Values {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Merges `override` onto `base` as Helm merges values files: maps merge key by key, everything
 * else (lists included) is replaced, and a `null` in the override removes the key. Neither input
 * is changed.
 */
/** The value at a path of keys in merged values (`['sync', 'toHost', 'pods', 'enabled']`), or undefined. */
export function setting(values: Values, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
}

export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = mergeValues(out[key], value);
    else out[key] = structuredClone(value);
  }
  return out;
}

export interface ValuesSource {
  /** The path or URL, as the user wrote it: errors name it. */
  name: string;
  values: Values;
}

/** Reads one values file (a path, or an http(s) URL) as a YAML map. */
export async function readValues(location: string): Promise<ValuesSource> {
  let text: string;
  if (/^https?:\/\//.test(location)) {
    let response;
    try {
      const dispatcher = new Agent({ headersTimeout: 30_000, bodyTimeout: 30_000 }).compose(interceptors.redirect({ maxRedirections: 5 }));
      response = await request(location, { dispatcher });
    } catch (error) {
      throw new ValuesError(`${location}: cannot download (${(error as Error).message})`);
    }
    text = await response.body.text();
    if (response.statusCode !== 200) throw new ValuesError(`${location}: download failed with HTTP ${response.statusCode}`);
  } else {
    try {
      text = await readFile(location, 'utf8');
    } catch (error) {
      throw new ValuesError(`${location}: cannot read the values file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0];
    throw new ValuesError(`${location}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const values: unknown = doc.toJS();
  if (values === null || values === undefined) return { name: location, values: {} };
  if (!isMap(values)) throw new ValuesError(`${location}: a values file must be a YAML map at the top level (found ${Array.isArray(values) ? 'a list' : typeof values})`);
  return { name: location, values };
}

/** Reads the files in order and merges them, later files winning. */
export async function loadValues(locations: string[]): Promise<{ sources: ValuesSource[]; merged: Values }> {
  const sources: ValuesSource[] = [];
  for (const location of locations) sources.push(await readValues(location));
  return { sources, merged: sources.reduce<Values>((acc, source) => mergeValues(acc, source.values), {}) };
}
