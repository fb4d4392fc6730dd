import { randomBytes } from 'node:crypto';
import { isNotFound } from './errors.ts';
import { ResourceClient } from './resource-client.ts';
import type { KubeObject, RestClient } from './rest-client.ts';

export type EventType = 'Normal' | 'Warning';

type CoreEvent = KubeObject & { count?: number; message?: string; lastTimestamp?: string };

const EVENTS = { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true };
/** Events with the same object, reason and type but different messages are combined past this many... */
const SIMILAR_LIMIT = 10;
/** ...within this window, as client-go's correlator does. */
const WINDOW_MS = 10 * 60_000;
const MAX_TRACKED = 4096;

interface Tracked { name: string; namespace: string; count: number; first: string; seen: number }

/**
 * Records core/v1 Events about objects. A repeat of an identical event (same object, reason, type
 * and message) bumps the count of the existing Event instead of creating another; more than ten
 * similar events (differing only in message) within ten minutes are combined into one.
 * The memory it keeps is bounded (least recently seen entries are dropped first).
 */
export class EventRecorder {
  private readonly events: ResourceClient<CoreEvent>;
  private readonly component: string;
  private readonly identical = new Map<string, Tracked>();
  private readonly similar = new Map<string, { messages: Set<string>; since: number }>();

  constructor(rest: RestClient, component: string) {
    this.events = new ResourceClient<CoreEvent>(rest, EVENTS);
    this.component = component;
  }

  async record(object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = object.metadata ?? {};
    const namespace = meta.namespace || 'default';
    const involved = {
      apiVersion: object.apiVersion, kind: object.kind, name: meta.name, namespace: meta.namespace,
      uid: meta.uid, resourceVersion: meta.resourceVersion,
    };
    const objectKey = [object.kind, meta.namespace ?? '', meta.name, meta.uid ?? ''].join('/');
    const now = new Date();

    const similarKey = [objectKey, reason, type].join('|');
    const group = this.touchSimilar(similarKey, message, now.getTime());
    if (group.messages.size > SIMILAR_LIMIT) message = `(combined from similar events): ${message}`;

    const key = [objectKey, reason, type, group.messages.size > SIMILAR_LIMIT ? '*' : message].join('|');
    const seen = this.identical.get(key);
    if (seen) {
      try {
        const patched = await this.events.patch(seen.name, 'merge', { count: seen.count + 1, lastTimestamp: now.toISOString(), message }, { namespace: seen.namespace });
        seen.count = patched.count ?? seen.count + 1;
        seen.seen = now.getTime();
        this.refresh(this.identical, key, seen);
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
        this.identical.delete(key); // the Event expired on the server: start a new one
      }
    }
    const name = `${meta.name ?? 'object'}.${randomBytes(8).toString('hex')}`;
    await this.events.create({
      metadata: { name, namespace },
      involvedObject: involved,
      reason, message, type, count: 1,
      firstTimestamp: now.toISOString(), lastTimestamp: now.toISOString(),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.component,
    });
    this.refresh(this.identical, key, { name, namespace, count: 1, first: now.toISOString(), seen: now.getTime() });
  }

  private touchSimilar(key: string, message: string, now: number): { messages: Set<string>; since: number } {
    let group = this.similar.get(key);
    if (!group || now - group.since > WINDOW_MS) group = { messages: new Set(), since: now };
    group.messages.add(message);
    this.refresh(this.similar, key, group);
    return group;
  }

  private refresh<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key); // re-insert: Map iteration order is then least recently used first
    map.set(key, value);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
  }
}
