import type { KubeObject } from '@kubenest/kube';
import { safeConcatName, sha256Hex } from './names.ts';

/** Keys of the labels and annotations vCluster puts on host objects; existing objects carry them. */
export const LABEL_PREFIX = 'vcluster.loft.sh/label';
export const MARKER_LABEL = 'vcluster.loft.sh/managed-by';
export const NAMESPACE_LABEL = 'vcluster.loft.sh/namespace';
export const CONTROLLER_LABEL = 'vcluster.loft.sh/controlled-by';
export const NAMESPACE_LABEL_PREFIX = 'vcluster.loft.sh/ns-label';

export const NAME_ANNOTATION = 'vcluster.loft.sh/object-name';
export const NAMESPACE_ANNOTATION = 'vcluster.loft.sh/object-namespace';
export const UID_ANNOTATION = 'vcluster.loft.sh/object-uid';
export const KIND_ANNOTATION = 'vcluster.loft.sh/object-kind';
export const HOST_NAME_ANNOTATION = 'vcluster.loft.sh/object-host-name';
export const HOST_NAMESPACE_ANNOTATION = 'vcluster.loft.sh/object-host-namespace';
export const MANAGED_ANNOTATIONS_ANNOTATION = 'vcluster.loft.sh/managed-annotations';
export const MANAGED_LABELS_ANNOTATION = 'vcluster.loft.sh/managed-labels';

/**
 * Virtual labels that would collide with the host's own use of them (the vCluster Service selects
 * `release`; the markers identify our objects) and are therefore stored under hashed keys.
 */
export const LABELS_TO_TRANSLATE = ['release', NAMESPACE_LABEL, MARKER_LABEL, CONTROLLER_LABEL] as const;

const MARKER_ANNOTATIONS = [
  NAME_ANNOTATION, NAMESPACE_ANNOTATION, UID_ANNOTATION, KIND_ANNOTATION,
  HOST_NAME_ANNOTATION, HOST_NAMESPACE_ANNOTATION, MANAGED_ANNOTATIONS_ANNOTATION, MANAGED_LABELS_ANNOTATION,
];

export type Labels = Record<string, string>;

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** `apiVersion` + `kind` written the way Go prints a GroupVersionKind: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`. */
export function kindString(apiVersion: string, kind: string): string {
  const slash = apiVersion.indexOf('/');
  const [group, version] = slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
  return `${group}/${version}, Kind=${kind}`;
}

/** Label, selector and annotation translation between a virtual cluster and its host namespace. */
export class MetadataTranslator {
  readonly vclusterName: string;
  readonly hostNamespace: string;
  private readonly translatedKeys: Map<string, string>;

  constructor(vclusterName: string, hostNamespace: string) {
    this.vclusterName = vclusterName;
    this.hostNamespace = hostNamespace;
    this.translatedKeys = new Map(LABELS_TO_TRANSLATE.map((key) => [this.hostLabelKey(key), key]));
  }

  /** The hashed host key for one of LABELS_TO_TRANSLATE: `vcluster.loft.sh/label-<vc>-x-<sha256(key)[0:10]>`. */
  hostLabelKey(key: string): string {
    return safeConcatName(LABEL_PREFIX, this.vclusterName, 'x', sha256Hex(key).slice(0, 10));
  }

  /** The host key under which a virtual namespace's label is copied onto host pods. */
  hostNamespaceLabelKey(key: string): string {
    return safeConcatName(NAMESPACE_LABEL_PREFIX, this.vclusterName, 'x', sha256Hex(key).slice(0, 10));
  }

  private translates(key: string): boolean {
    return (LABELS_TO_TRANSLATE as readonly string[]).includes(key);
  }

  /**
   * Host labels for a virtual object's labels. The marker labels (managed-by, and the virtual
   * namespace for namespaced objects) are added for object metadata, for a map built from scratch
   * (no host labels yet), and when the host labels already carry them. A host-side controlled-by
   * label is kept.
   */
  hostLabels(virtual: Labels | undefined, host: Labels | undefined, virtualNamespace: string, isMetadata: boolean): Labels {
    const out: Labels = {};
    const source = virtual ?? {};
    for (const [key, value] of Object.entries(source)) if (!this.translates(key)) out[key] = value;
    // Translated keys are written last: a virtual label that happens to be spelled like a hashed
    // key must not shadow the translation of the real one.
    for (const [key, value] of Object.entries(source)) if (this.translates(key)) out[this.hostLabelKey(key)] = value;
    if (isMetadata || host === undefined || host[MARKER_LABEL]) {
      if (virtualNamespace) {
        out[MARKER_LABEL] = this.vclusterName;
        out[NAMESPACE_LABEL] = virtualNamespace;
      } else {
        out[MARKER_LABEL] = safeConcatName(this.hostNamespace, 'x', this.vclusterName);
      }
    }
    if (host?.[CONTROLLER_LABEL]) out[CONTROLLER_LABEL] = host[CONTROLLER_LABEL];
    return out;
  }

  /**
   * Virtual labels for a host object's labels: markers and namespace labels dropped, hashed keys
   * turned back into their originals. Keys that can only have come from the virtual object
   * (markers, hashed spellings) keep the virtual object's values.
   */
  virtualLabels(host: Labels | undefined, virtual: Labels | undefined): Labels {
    const out: Labels = {};
    const virtualOnly = (key: string): boolean =>
      key === MARKER_LABEL || key === NAMESPACE_LABEL || key === CONTROLLER_LABEL ||
      key.startsWith(NAMESPACE_LABEL_PREFIX) || this.translatedKeys.has(key);
    for (const [key, value] of Object.entries(host ?? {})) {
      if (key === MARKER_LABEL || key === NAMESPACE_LABEL || key === CONTROLLER_LABEL || key.startsWith(NAMESPACE_LABEL_PREFIX)) continue;
      out[this.translatedKeys.get(key) ?? key] = value;
    }
    for (const [key, value] of Object.entries(virtual ?? {})) if (virtualOnly(key)) out[key] = value;
    return out;
  }

  /** A selector as the host must see it: the translated keys hashed, nothing added. */
  hostLabelSelector(selector: LabelSelector | undefined): LabelSelector | undefined {
    return this.mapSelector(selector, (key) => (this.translates(key) ? this.hostLabelKey(key) : key));
  }

  virtualLabelSelector(selector: LabelSelector | undefined): LabelSelector | undefined {
    return this.mapSelector(selector, (key) => this.translatedKeys.get(key) ?? key);
  }

  private mapSelector(selector: LabelSelector | undefined, mapKey: (key: string) => string): LabelSelector | undefined {
    if (!selector) return undefined;
    const out: LabelSelector = {};
    if (selector.matchLabels) out.matchLabels = Object.fromEntries(Object.entries(selector.matchLabels).map(([k, v]) => [mapKey(k), v]));
    if (selector.matchExpressions?.length) out.matchExpressions = selector.matchExpressions.map((e) => ({ ...e, key: mapKey(e.key) }));
    return out;
  }

  /**
   * Host annotations: the virtual object's annotations (except `excluded`), the host's own
   * annotations that we never managed, and the markers that tie the host object to its virtual
   * original. The managed-annotations marker lists the copied keys, so removing one on the virtual
   * side removes it on the host without touching annotations host controllers set.
   */
  hostAnnotations(virtual: KubeObject, host: KubeObject | undefined, excluded: string[] = []): Record<string, string> {
    const skip = new Set([...MARKER_ANNOTATIONS, ...excluded]);
    const hostAnnotations = host?.metadata?.annotations ?? {};
    const previouslyManaged = new Set((hostAnnotations[MANAGED_ANNOTATIONS_ANNOTATION] ?? '').split('\n').filter(Boolean));
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(hostAnnotations)) {
      if (!skip.has(key) && !previouslyManaged.has(key)) out[key] = value;
    }
    const managed: string[] = [];
    for (const [key, value] of Object.entries(virtual.metadata?.annotations ?? {})) {
      if (skip.has(key)) continue;
      out[key] = value;
      managed.push(key);
    }
    if (managed.length > 0) out[MANAGED_ANNOTATIONS_ANNOTATION] = managed.sort().join('\n');
    out[NAME_ANNOTATION] = virtual.metadata?.name ?? '';
    out[UID_ANNOTATION] = virtual.metadata?.uid ?? '';
    if (virtual.metadata?.namespace) out[NAMESPACE_ANNOTATION] = virtual.metadata.namespace;
    out[KIND_ANNOTATION] = kindString(virtual.apiVersion ?? '', virtual.kind ?? '');
    out[HOST_NAME_ANNOTATION] = host?.metadata?.name ?? '';
    if (host?.metadata?.namespace) out[HOST_NAMESPACE_ANNOTATION] = host.metadata.namespace;
    return out;
  }

  /** Virtual annotations from a host object: everything but our markers and `excluded`. */
  virtualAnnotations(host: KubeObject, virtual: KubeObject | undefined, excluded: string[] = []): Record<string, string> {
    const skip = new Set([...MARKER_ANNOTATIONS, ...excluded]);
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(host.metadata?.annotations ?? {})) if (!skip.has(key)) out[key] = value;
    // Excluded keys belong to the virtual side: keep what the virtual object has.
    for (const key of excluded) {
      const value = virtual?.metadata?.annotations?.[key];
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
}
