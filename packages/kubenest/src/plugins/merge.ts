/**
 * Go's `json.Unmarshal` into an existing object, which is how vCluster applies a hook chain's
 * result (plugin-protocol.md §2.3): keys absent from the result keep their values (a plugin cannot
 * delete a label by leaving it out), maps merge key by key, lists and scalars are replaced, and an
 * explicit `null` clears the field.
 */
export function goMerge(existing: unknown, result: unknown): unknown {
  if (result === null) return undefined;
  // `result` is fresh from JSON.parse and not shared: it is used as it is.
  if (!isMap(result) || !isMap(existing)) return result;
  const out: Record<string, unknown> = { ...existing };
  for (const [key, value] of Object.entries(result)) {
    const merged = goMerge(existing[key], value);
    if (merged === undefined) delete out[key];
    else out[key] = merged;
  }
  return out;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
