import { WorkQueue, isConflict, type Informer, type KubeObject } from '@kubenest/kube';

/** What one reconcile asks for next: nothing, or another look after a delay. */
export type ReconcileOutcome = void | { requeueAfterMs: number };

/** How long a key waits after a write lost an optimistic-concurrency race (409), as in vCluster. */
const CONFLICT_RETRY_MS = 1_000;

/**
 * One worker of a controller: takes keys until the queue shuts down. A conflict (someone wrote
 * first) is retried after a second; any other failure is reported and retried with the queue's
 * per-key backoff; success forgets the key's failures.
 */
export async function runWorker(
  queue: WorkQueue<string>,
  reconcile: (key: string) => Promise<ReconcileOutcome>,
  hooks: { onConflict?: (key: string) => void; onError?: (key: string, error: unknown) => void } = {},
): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    try {
      const outcome = await reconcile(key);
      queue.forget(key);
      if (outcome) queue.addAfter(key, outcome.requeueAfterMs);
    } catch (error) {
      if (isConflict(error)) {
        hooks.onConflict?.(key);
        queue.addAfter(key, CONFLICT_RETRY_MS);
      } else {
        hooks.onError?.(key, error);
        queue.addRateLimited(key);
      }
    } finally {
      queue.done(key);
    }
  }
}

/** What a loop watches: an informer, hooked (a syncer's) or not (the local host's own loops). */
export type Feed<T extends KubeObject = KubeObject> = Pick<Informer<T>, 'addHandlers' | 'start' | 'waitForSync' | 'stop'>;

/**
 * A work queue, its workers and the informers that feed it, for controllers whose key is not
 * "one virtual object and its host copy" (nodes, the kubernetes Service, references). The
 * informers are started and synced before the first reconcile; failures are retried with the
 * queue's per-key backoff.
 */
export class ReconcileLoop {
  readonly name: string;
  private readonly queue: WorkQueue<string>;
  private readonly reconcile: (key: string) => Promise<ReconcileOutcome>;
  private readonly informers: Feed[] = [];
  private readonly workers: number;
  private readonly onError: (key: string, error: unknown) => void;
  private running: Promise<void>[] = [];

  constructor(name: string, reconcile: (key: string) => Promise<ReconcileOutcome>, options: { workers?: number; onError?: (key: string, error: unknown) => void } = {}) {
    this.name = name;
    this.queue = new WorkQueue<string>({ name });
    this.reconcile = reconcile;
    this.workers = options.workers ?? 4;
    this.onError = options.onError ?? (() => {});
  }

  /** Feeds this loop from an informer it then owns (starts and stops): every event maps to zero or more keys. */
  watch<T extends KubeObject, F extends Feed<T>>(informer: F & Feed<T>, keysOf: (object: T) => Iterable<string>): F {
    const enqueue = (object: T): void => { for (const key of keysOf(object)) this.queue.add(key); };
    informer.addHandlers({ onAdd: enqueue, onUpdate: (_old, current) => enqueue(current), onDelete: enqueue });
    this.informers.push(informer);
    return informer;
  }

  add(key: string): void {
    this.queue.add(key);
  }

  async start(signal?: AbortSignal): Promise<void> {
    for (const informer of this.informers) informer.start(signal);
    await Promise.all(this.informers.map((informer) => informer.waitForSync(signal)));
    this.running = Array.from({ length: this.workers }, () => runWorker(this.queue, this.reconcile, { onError: this.onError }));
  }

  drain(): Promise<void> {
    return this.queue.drain();
  }

  /** Stops the workers and the informers this loop watches. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    await Promise.all(this.informers.map((informer) => informer.stop()));
  }
}
