/** A toleration as the host pod carries it. */
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
/** The forms `sync.toHost.pods.enforceTolerations` takes, as vCluster reads them. */
export const TOLERATION_FORMS = '"key", "key=value", "key:Effect", "key=value:Effect" or "*"';
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * One `enforceTolerations` entry, read as vCluster reads it: `*` tolerates everything, an effect
 * after `:` makes `key` Exists and `key=value` Equal, and without an effect the operator is left
 * to the API's default (Equal). Unlike vCluster, an unknown effect is an error here rather than a
 * pod the host refuses later.
 */
export function parseToleration(entry: string): Toleration {
  if (entry === '*') return { operator: 'Exists' };
  const parts = entry.split(':');
  if (parts.length > 2) throw new Error(`"${entry}" has more than one ":"`);
  const [keyValue = '', effect] = parts;
  const pair = keyValue.split('=');
  if (pair.length > 2) throw new Error(`"${entry}" has more than one "="`);
  const [key = '', value] = pair;
  if (value !== undefined && !LABEL_VALUE.test(value)) throw new Error(`"${value}" in "${entry}" is not a valid label value`);
  if (effect === undefined) return value === undefined ? { key } : { key, value };
  if (!EFFECTS.includes(effect)) throw new Error(`"${effect}" in "${entry}" is not an effect (${EFFECTS.join(', ')})`);
  return value === undefined ? { key, operator: 'Exists', effect } : { key, operator: 'Equal', value, effect };
}
