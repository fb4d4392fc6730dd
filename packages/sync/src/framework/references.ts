/**
 * Which objects other objects refer to (vCluster's mapping store, in the part syncers need):
 * a ConfigMap or Secret is synced while something synced uses it. Referrers replace their whole
 * set of references at once; listeners hear about every referenced key that was added or lost.
 */
export class ReferenceIndex {
  /** referrer → kind → referenced keys (`namespace/name`). */
  private readonly byReferrer = new Map<string, Map<string, Set<string>>>();
  /** kind → referenced key → number of referrers. */
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly listeners: ((kind: string, key: string) => void)[] = [];

  onChange(listener: (kind: string, key: string) => void): void {
    this.listeners.push(listener);
  }

  isReferenced(kind: string, key: string): boolean {
    return (this.counts.get(kind)?.get(key) ?? 0) > 0;
  }

  /** Sets what `referrer` refers to; an empty map (or none) removes it. */
  set(referrer: string, references: Map<string, Set<string>> | undefined): void {
    const before = this.byReferrer.get(referrer) ?? new Map<string, Set<string>>();
    const after = references ?? new Map<string, Set<string>>();
    const changed: [string, string][] = [];
    for (const [kind, keys] of before) {
      for (const key of keys) if (!after.get(kind)?.has(key) && this.adjust(kind, key, -1)) changed.push([kind, key]);
    }
    for (const [kind, keys] of after) {
      for (const key of keys) if (!before.get(kind)?.has(key) && this.adjust(kind, key, 1)) changed.push([kind, key]);
    }
    if ([...after.values()].some((keys) => keys.size > 0)) this.byReferrer.set(referrer, after);
    else this.byReferrer.delete(referrer);
    for (const [kind, key] of changed) for (const listener of this.listeners) listener(kind, key);
  }

  /** Adds `delta` referrers; true when the key went from unused to used or back. */
  private adjust(kind: string, key: string, delta: number): boolean {
    let counts = this.counts.get(kind);
    if (!counts) this.counts.set(kind, (counts = new Map<string, number>()));
    const before = counts.get(key) ?? 0;
    const after = before + delta;
    if (after <= 0) counts.delete(key);
    else counts.set(key, after);
    return (before === 0) !== (after <= 0);
  }
}
