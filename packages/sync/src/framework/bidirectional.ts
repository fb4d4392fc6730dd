import { isDeepStrictEqual } from 'node:util';

/**
 * Two-way field sync. Each side's current value is compared with what it looked like after the
 * last successful sync; the side that changed is copied to the other. When both changed in the
 * same window the virtual side wins, as in vCluster.
 */
export function copyBidirectional<V>(virtualOld: V | undefined, virtual: V, hostOld: V | undefined, host: V): { virtual: V; host: V } {
  if (!isDeepStrictEqual(virtualOld, virtual)) return { virtual, host: structuredClone(virtual) };
  if (!isDeepStrictEqual(hostOld, host)) return { virtual: structuredClone(host), host };
  return { virtual, host };
}

type Dict = Record<string, unknown>;

/**
 * Like copyBidirectional for maps, but key by key: only the keys the changed side added, changed
 * or removed are applied to the other side, so keys either side owns alone survive.
 */
export function mergeBidirectional(virtualOld: Dict | undefined, virtual: Dict | undefined, hostOld: Dict | undefined, host: Dict | undefined): { virtual: Dict; host: Dict } {
  const v = virtual ?? {};
  const h = host ?? {};
  if (!isDeepStrictEqual(virtualOld ?? {}, v)) return { virtual: v, host: applyDiff(virtualOld ?? {}, v, h) };
  if (!isDeepStrictEqual(hostOld ?? {}, h)) return { virtual: applyDiff(hostOld ?? {}, h, v), host: h };
  return { virtual: v, host: h };
}

/** Applies to `target` what changed from `before` to `after`. */
function applyDiff(before: Dict, after: Dict, target: Dict): Dict {
  const out: Dict = { ...target };
  for (const key of Object.keys(before)) if (!(key in after)) delete out[key];
  for (const [key, value] of Object.entries(after)) if (!isDeepStrictEqual(before[key], value)) out[key] = structuredClone(value);
  return out;
}
