import type { KubeObject } from './rest-client.ts';

/** Returns the values an object is indexed under (e.g. its namespace, a label's value). */
export type IndexFunction<T> = (object: T) => string[];

export const NAMESPACE_INDEX = 'namespace';

export function objectKey(object: KubeObject): string {
  const meta = object.metadata ?? {};
  return meta.namespace ? `${meta.namespace}/${meta.name ?? ''}` : (meta.name ?? '');
}

export interface StoreDiff<T> {
  added: T[];
  updated: { old: T; current: T }[];
  deleted: T[];
}

/**
 * A cache of objects by key with secondary indexes. Index entries are
 * removed with the objects, so memory follows the cache, not its history.
 */
export class Store<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers: Record<string, IndexFunction<T>>;
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunction<T>> = {}) {
    this.indexers = { [NAMESPACE_INDEX]: (o) => (o.metadata?.namespace ? [o.metadata.namespace] : []), ...indexers };
    for (const name of Object.keys(this.indexers)) this.indexes.set(name, new Map());
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  byIndex(index: string, value: string): T[] {
    const bucket = this.indexes.get(index);
    if (!bucket) throw new Error(`no index named "${index}" (have: ${[...this.indexes.keys()].join(', ')})`);
    return [...(bucket.get(value) ?? [])].map((key) => this.items.get(key)!);
  }

  /** Inserts or replaces; returns the previous object. */
  upsert(object: T): T | undefined {
    const key = objectKey(object);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, object);
    this.index(key, object);
    return old;
  }

  /** Removes by the object's key; returns what was stored. */
  remove(object: KubeObject): T | undefined {
    const key = objectKey(object);
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  /** Replaces the whole content (a relist) and returns what changed, so no change goes unreported. */
  replace(objects: T[]): StoreDiff<T> {
    const diff: StoreDiff<T> = { added: [], updated: [], deleted: [] };
    const seen = new Set<string>();
    for (const object of objects) {
      const key = objectKey(object);
      seen.add(key);
      const old = this.upsert(object);
      if (!old) diff.added.push(object);
      else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) diff.updated.push({ old, current: object });
    }
    for (const [key, old] of [...this.items]) {
      if (!seen.has(key)) {
        this.remove(old);
        diff.deleted.push(old);
      }
    }
    return diff;
  }

  private index(key: string, object: T): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      const bucket = this.indexes.get(name)!;
      for (const value of fn(object)) {
        let keys = bucket.get(value);
        if (!keys) bucket.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private unindex(key: string, object: T): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      const bucket = this.indexes.get(name)!;
      for (const value of fn(object)) {
        const keys = bucket.get(value);
        keys?.delete(key);
        if (keys?.size === 0) bucket.delete(value);
      }
    }
  }
}
