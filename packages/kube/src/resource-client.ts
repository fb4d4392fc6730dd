import type { KubeObject, RequestOptions, RestClient } from './rest-client.ts';

/** Where a kind lives on the API server. */
export interface ResourceRef {
  group: string;
  version: string;
  /** Plural resource name, as in the URL. */
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; the whole list is fetched page by page. Default 500. */
  limit?: number;
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export interface WriteOptions {
  namespace?: string;
  fieldManager?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  namespace?: string;
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  /** Delete only if the object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  signal?: AbortSignal;
}

export type PatchType = 'json' | 'merge' | 'strategic';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** Every verb on one resource, on raw JSON objects. */
export class ResourceClient<T extends KubeObject = KubeObject> {
  readonly rest: RestClient;
  readonly ref: ResourceRef;

  constructor(rest: RestClient, ref: ResourceRef) {
    this.rest = rest;
    this.ref = ref;
  }

  get apiVersion(): string {
    return this.ref.group ? `${this.ref.group}/${this.ref.version}` : this.ref.version;
  }

  /** The URL path of the collection, or of one object (and its subresource). */
  path(namespace?: string, name?: string, subresource?: string): string {
    const base = this.ref.group ? `/apis/${this.ref.group}/${this.ref.version}` : `/api/${this.ref.version}`;
    if (this.ref.namespaced && name !== undefined && !namespace) {
      throw new Error(`${this.ref.resource} is namespaced: give a namespace for "${name}"`);
    }
    let path = this.ref.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${this.ref.resource}` : `${base}/${this.ref.resource}`;
    if (name !== undefined) path += `/${encodeURIComponent(name)}`;
    if (subresource) path += `/${subresource}`;
    return path;
  }

  get(name: string, options: { namespace?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('GET', this.path(options.namespace, name), { signal: options.signal });
  }

  /** One page of a list; pass the returned `metadata.continue` to get the next. */
  async listPage(options: ListOptions & { continue?: string } = {}): Promise<ObjectList<T>> {
    const page = await this.rest.request<ObjectList<T>>('GET', this.path(options.namespace), {
      signal: options.signal,
      timeoutMs: 120_000,
      query: {
        labelSelector: options.labelSelector, fieldSelector: options.fieldSelector,
        limit: options.limit ?? 500, continue: options.continue, resourceVersion: options.continue ? undefined : options.resourceVersion,
      },
    });
    // The server leaves apiVersion and kind out of list items, while gets and watch events carry
    // them: without this, an object read from a list translates differently from the same object
    // read from a watch (a syncer restarted from a list rewrote every host copy).
    page.items ??= [];
    for (const item of page.items) {
      item.apiVersion ??= this.apiVersion;
      item.kind ??= this.ref.kind;
    }
    return page;
  }

  /** The whole list, fetched page by page; the resourceVersion is the first page's (a consistent snapshot). */
  async list(options: ListOptions = {}): Promise<ObjectList<T>> {
    const first = await this.listPage(options);
    const items = first.items;
    let next = first.metadata.continue;
    while (next) {
      const page = await this.listPage({ ...options, continue: next });
      items.push(...page.items);
      next = page.metadata.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  create(object: T, options: WriteOptions = {}): Promise<T> {
    return this.rest.request<T>('POST', this.path(options.namespace ?? object.metadata?.namespace), {
      body: this.withTypeMeta(object), signal: options.signal, query: writeQuery(options),
    });
  }

  /**
   * Replaces the object, or one of its subresources (`status`, a pod's `ephemeralcontainers`); its
   * metadata.resourceVersion makes this a compare-and-swap (409 Conflict if stale).
   */
  update(object: T, options: WriteOptions & { subresource?: string } = {}): Promise<T> {
    return this.rest.request<T>('PUT', this.objectPath(object, options.namespace, options.subresource), {
      body: this.withTypeMeta(object), signal: options.signal, query: writeQuery(options),
    });
  }

  updateStatus(object: T, options: WriteOptions = {}): Promise<T> {
    return this.update(object, { ...options, subresource: 'status' });
  }

  patch(name: string, type: PatchType, patch: unknown, options: WriteOptions & { subresource?: string } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', this.path(options.namespace, name, options.subresource), {
      body: patch, contentType: PATCH_CONTENT_TYPES[type], signal: options.signal, query: writeQuery(options),
    });
  }

  /** Server-side apply. `fieldManager` is required by the server; `force` takes over conflicting fields. */
  apply(object: T, options: WriteOptions & { fieldManager: string; force?: boolean; subresource?: string }): Promise<T> {
    const name = object.metadata?.name;
    if (!name) throw new Error('apply needs metadata.name');
    return this.rest.request<T>('PATCH', this.path(options.namespace ?? object.metadata?.namespace, name, options.subresource), {
      // JSON is YAML, so the object goes as it is.
      body: this.withTypeMeta(object), contentType: 'application/apply-patch+yaml', signal: options.signal,
      query: { ...writeQuery(options), force: options.force ? true : undefined },
    });
  }

  delete(name: string, options: DeleteOptions = {}): Promise<KubeObject> {
    return this.rest.request('DELETE', this.path(options.namespace, name), {
      body: deleteBody(options), signal: options.signal,
    });
  }

  deleteCollection(options: DeleteOptions & Pick<ListOptions, 'labelSelector' | 'fieldSelector'> = {}): Promise<KubeObject> {
    return this.rest.request('DELETE', this.path(options.namespace), {
      body: deleteBody(options), signal: options.signal,
      query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
    });
  }

  private objectPath(object: T, namespace?: string, subresource?: string): string {
    const name = object.metadata?.name;
    if (!name) throw new Error(`${this.ref.kind} has no metadata.name`);
    return this.path(namespace ?? object.metadata?.namespace, name, subresource);
  }

  /** Fills apiVersion and kind when the caller left them out; never changes other fields. */
  private withTypeMeta(object: T): T {
    if (object.apiVersion && object.kind) return object;
    return { ...object, apiVersion: object.apiVersion ?? this.apiVersion, kind: object.kind ?? this.ref.kind };
  }
}

function writeQuery(options: WriteOptions): RequestOptions['query'] {
  return { fieldManager: options.fieldManager, dryRun: options.dryRun ? 'All' : undefined };
}

function deleteBody(options: DeleteOptions): KubeObject {
  return {
    apiVersion: 'v1', kind: 'DeleteOptions',
    ...(options.propagationPolicy ? { propagationPolicy: options.propagationPolicy } : {}),
    ...(options.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: options.gracePeriodSeconds } : {}),
    ...(options.preconditions ? { preconditions: options.preconditions } : {}),
  };
}
