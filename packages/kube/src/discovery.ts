import { ApiError } from './errors.ts';
import type { ResourceRef } from './resource-client.ts';
import type { RestClient } from './rest-client.ts';

const AGGREGATED = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
/** A lookup miss refreshes discovery, but not more often than this (a typo must not hammer the server). */
const MIN_REFRESH_INTERVAL_MS = 1_000;

interface AggregatedList {
  kind?: string;
  items?: {
    metadata?: { name?: string };
    versions?: { version: string; resources?: { resource: string; scope: string; responseKind?: { kind: string }; verbs?: string[] }[] }[];
  }[];
}

export class UnknownKindError extends Error {
  constructor(apiVersion: string, kind: string) {
    super(`the server has no resource for kind "${kind}" in "${apiVersion}" (is its CRD installed?)`);
    this.name = 'UnknownKindError';
  }
}

/**
 * The server's resources and a REST mapper over them (kind <-> resource, namespaced or not).
 * Discovery is loaded lazily, refreshed when a lookup misses (a CRD may have appeared) or when
 * `invalidate()` is called.
 */
export class Discovery {
  private readonly rest: RestClient;
  private byGvk = new Map<string, ResourceRef>();
  private byGvr = new Map<string, ResourceRef>();
  /** group/kind -> preferred version's ref; the first version a group lists is its preferred one. */
  private preferred = new Map<string, ResourceRef>();
  private loading: Promise<void> | undefined;
  private loadedAt = 0;
  private stale = true;

  constructor(rest: RestClient) {
    this.rest = rest;
  }

  invalidate(): void {
    this.stale = true;
  }

  async resources(): Promise<ResourceRef[]> {
    await this.ensureLoaded();
    return [...this.byGvr.values()];
  }

  /** The resource for an apiVersion and kind; refreshes once on a miss. */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceRef> {
    const key = gvkKey(apiVersion, kind);
    await this.ensureLoaded();
    let found = this.byGvk.get(key);
    if (!found && Date.now() - this.loadedAt >= MIN_REFRESH_INTERVAL_MS) {
      this.stale = true;
      await this.ensureLoaded();
      found = this.byGvk.get(key);
    }
    if (!found) throw new UnknownKindError(apiVersion, kind);
    return found;
  }

  /** The preferred version's resource for a group and kind (apiVersion unknown). */
  async preferredFor(group: string, kind: string): Promise<ResourceRef> {
    await this.ensureLoaded();
    const found = this.preferred.get(`${group}/${kind}`);
    if (!found) return this.resourceFor(group ? `${group}/v1` : 'v1', kind);
    return found;
  }

  /** The resource with this plural name, e.g. ('apps', 'v1', 'deployments'). */
  async byResource(group: string, version: string, resource: string): Promise<ResourceRef | undefined> {
    await this.ensureLoaded();
    return this.byGvr.get(`${group}/${version}/${resource}`);
  }

  private async ensureLoaded(): Promise<void> {
    if (!this.stale) return;
    this.loading ??= this.load().finally(() => { this.loading = undefined; });
    await this.loading;
  }

  private async load(): Promise<void> {
    const refs: ResourceRef[] = [];
    for (const root of ['/api', '/apis']) {
      const { status, body } = await this.rest.raw('GET', root, { headers: { accept: AGGREGATED } });
      if (status !== 200) throw ApiError.fromResponse(status, 'GET', root, body);
      const parsed = JSON.parse(body) as AggregatedList;
      refs.push(...(parsed.kind === 'APIGroupDiscoveryList' ? fromAggregated(parsed) : await this.legacy(root, parsed)));
    }
    const byGvk = new Map<string, ResourceRef>();
    const byGvr = new Map<string, ResourceRef>();
    const preferred = new Map<string, ResourceRef>();
    for (const ref of refs) {
      const apiVersion = ref.group ? `${ref.group}/${ref.version}` : ref.version;
      if (!byGvk.has(gvkKey(apiVersion, ref.kind))) byGvk.set(gvkKey(apiVersion, ref.kind), ref);
      byGvr.set(`${ref.group}/${ref.version}/${ref.resource}`, ref);
      if (!preferred.has(`${ref.group}/${ref.kind}`)) preferred.set(`${ref.group}/${ref.kind}`, ref);
    }
    this.byGvk = byGvk;
    this.byGvr = byGvr;
    this.preferred = preferred;
    this.loadedAt = Date.now();
    this.stale = false;
  }

  /** Servers without aggregated discovery (before 1.26): one request per group version. */
  private async legacy(root: string, parsed: unknown): Promise<ResourceRef[]> {
    const groupVersions: { group: string; version: string }[] = root === '/api'
      ? ((parsed as { versions?: string[] }).versions ?? []).map((version) => ({ group: '', version }))
      : ((parsed as { groups?: { name: string; versions: { version: string }[] }[] }).groups ?? [])
        .flatMap((g) => g.versions.map((v) => ({ group: g.name, version: v.version })));
    const refs: ResourceRef[] = [];
    for (const { group, version } of groupVersions) {
      const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const list = await this.rest.get<{ resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[] }>(path);
      for (const r of list.resources) {
        if (!r.name.includes('/')) refs.push({ group, version, resource: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs });
      }
    }
    return refs;
  }
}

function fromAggregated(list: AggregatedList): ResourceRef[] {
  const refs: ResourceRef[] = [];
  for (const group of list.items ?? []) {
    for (const version of group.versions ?? []) {
      for (const r of version.resources ?? []) {
        if (!r.responseKind?.kind) continue;
        refs.push({
          group: group.metadata?.name ?? '', version: version.version, resource: r.resource,
          kind: r.responseKind.kind, namespaced: r.scope === 'Namespaced', verbs: r.verbs ?? [],
        });
      }
    }
  }
  return refs;
}

function gvkKey(apiVersion: string, kind: string): string {
  return `${apiVersion}|${kind}`;
}
