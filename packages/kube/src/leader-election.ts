import { setTimeout as sleep } from 'node:timers/promises';
import { isAlreadyExists, isConflict, isNotFound } from './errors.ts';
import { ResourceClient } from './resource-client.ts';
import type { KubeObject, RestClient } from './rest-client.ts';

export interface LeaderElectionOptions {
  namespace: string;
  /** Lease name. */
  name: string;
  /** Unique per candidate (e.g. hostname + pid). */
  identity: string;
  /** How long a lease is valid without renewal; others take over after it. Default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it cannot renew within this. Must be < leaseDuration. Default 10 s. */
  renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Runs while leading; its signal aborts when leadership is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
  /** Give the lease up on stop so a successor need not wait for it to expire. Default true. */
  releaseOnCancel?: boolean;
}

type Lease = KubeObject & {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
};

const LEASES = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true };

/**
 * Leader election on a coordination.k8s.io Lease. Expiry is judged by when this candidate last
 * saw the lease change, on its own clock, never by comparing clocks with the holder.
 */
export class LeaderElector {
  private readonly leases: ResourceClient<Lease>;
  private readonly options: Required<Omit<LeaderElectionOptions, 'onStoppedLeading' | 'onNewLeader'>> & LeaderElectionOptions;
  private observed: { lease: Lease; at: number } | undefined;
  private leading = false;
  private lastLeader: string | undefined;

  constructor(rest: RestClient, options: LeaderElectionOptions) {
    this.leases = new ResourceClient<Lease>(rest, LEASES);
    this.options = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, releaseOnCancel: true, ...options };
    if (this.options.renewDeadlineMs >= this.options.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until `signal` aborts: acquire, lead while renewing, and after losing the lease
   * campaign again. Resolves once stopped (and the lease released, if held).
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.acquire(signal))) break;
      await this.lead(signal);
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal).catch(() => false)) return true;
      await sleep(this.jittered(this.options.retryPeriodMs), undefined, { signal }).catch(() => {});
    }
    return false;
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const leadership = new AbortController();
    const stop = AbortSignal.any([signal, leadership.signal]);
    this.leading = true;
    const work = Promise.resolve().then(() => this.options.onStartedLeading(stop)).catch(() => {});
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.options.retryPeriodMs, undefined, { signal }).catch(() => {});
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew(signal).catch(() => false)) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.options.renewDeadlineMs || this.heldByOther()) {
        break; // could not renew in time, or someone else holds it now
      }
    }
    leadership.abort();
    this.leading = false;
    if (signal.aborted && this.options.releaseOnCancel) await this.release().catch(() => {});
    await work;
    this.options.onStoppedLeading?.();
  }

  private heldByOther(): boolean {
    const holder = this.observed?.lease.spec?.holderIdentity;
    return holder !== undefined && holder !== '' && holder !== this.options.identity;
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = new Date();
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    let current: Lease;
    try {
      current = await this.leases.get(this.options.name, { namespace: this.options.namespace, signal });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        const created = await this.leases.create({
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        }, { signal });
        this.observe(created);
        return true;
      } catch (createError) {
        if (isAlreadyExists(createError)) return false;
        throw createError;
      }
    }
    this.observe(current);
    const holder = current.spec?.holderIdentity ?? '';
    const mine = holder === this.options.identity;
    const expired = holder === '' || Date.now() > this.observed!.at + (current.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (!mine && !expired) return false;
    const next: Lease = {
      ...current,
      spec: {
        ...current.spec, ...spec,
        acquireTime: mine ? current.spec?.acquireTime : microTime(now),
        leaseTransitions: (current.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      this.observe(await this.leases.update(next, { signal }));
      return true;
    } catch (error) {
      if (isConflict(error)) return false; // another candidate wrote first
      throw error;
    }
  }

  private observe(lease: Lease): void {
    const changed = this.observed?.lease.metadata?.resourceVersion !== lease.metadata?.resourceVersion;
    if (changed) this.observed = { lease, at: Date.now() };
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder && holder !== this.lastLeader) {
      this.lastLeader = holder;
      this.options.onNewLeader?.(holder);
    }
  }

  private async release(): Promise<void> {
    const lease = this.observed?.lease;
    if (!lease || lease.spec?.holderIdentity !== this.options.identity) return;
    await this.leases.update({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } });
  }

  private jittered(ms: number): number {
    return ms + Math.random() * ms * 0.2;
  }
}

/** Lease times are MicroTime: RFC 3339 with microseconds. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
