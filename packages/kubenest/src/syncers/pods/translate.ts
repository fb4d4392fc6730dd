import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '@kubenest/kube';
import type { LabelSelector, Labels, MetadataTranslator, NameTranslator } from '@kubenest/sync';
import { MARKER_LABEL, NAMESPACE_LABEL } from '@kubenest/sync';
import type { Toleration } from '../../config/tolerations.ts';

/* The parts of a Pod the translation touches; everything else is copied as it is. */
type Ref = { name?: string };
type KeyRef = Ref & { key?: string; optional?: boolean };
type FieldRef = { apiVersion?: string; fieldPath: string };
export type EnvVar = { name: string; value?: string; valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef; fieldRef?: FieldRef; resourceFieldRef?: unknown } };
type EnvFrom = { prefix?: string; configMapRef?: Ref; secretRef?: Ref };
export type Container = { name: string; image?: string; env?: EnvVar[]; envFrom?: EnvFrom[]; securityContext?: { privileged?: boolean; [k: string]: unknown }; [k: string]: unknown };
type DownwardItem = { path: string; fieldRef?: FieldRef; resourceFieldRef?: unknown; mode?: number };
type ProjectionSource = {
  configMap?: Ref & { items?: unknown[]; optional?: boolean };
  secret?: Ref & { items?: unknown[]; optional?: boolean };
  downwardAPI?: { items?: DownwardItem[] };
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  clusterTrustBundle?: unknown;
};
export type Volume = {
  name: string;
  configMap?: Ref & Record<string, unknown>;
  secret?: { secretName?: string } & Record<string, unknown>;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  projected?: { sources?: ProjectionSource[]; defaultMode?: number };
  downwardAPI?: { items?: DownwardItem[]; defaultMode?: number };
  ephemeral?: unknown;
  hostPath?: unknown;
  [source: string]: unknown;
};
type PodAffinityTerm = { labelSelector?: LabelSelector; namespaces?: string[]; namespaceSelector?: LabelSelector; topologyKey: string; [k: string]: unknown };
type WeightedTerm = { weight: number; podAffinityTerm: PodAffinityTerm };
type PodAffinity = { requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[]; preferredDuringSchedulingIgnoredDuringExecution?: WeightedTerm[] };
export type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  imagePullSecrets?: Ref[];
  hostname?: string;
  subdomain?: string;
  dnsPolicy?: string;
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  hostAliases?: { ip: string; hostnames: string[] }[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  nodeName?: string;
  priority?: number;
  priorityClassName?: string;
  preemptionPolicy?: string;
  overhead?: unknown;
  affinity?: { nodeAffinity?: unknown; podAffinity?: PodAffinity; podAntiAffinity?: PodAffinity };
  topologySpreadConstraints?: { labelSelector?: LabelSelector; [k: string]: unknown }[];
  tolerations?: Record<string, unknown>[];
  schedulingGates?: { name: string }[];
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  [field: string]: unknown;
};
export type Pod = KubeObject & { spec?: PodSpec; status?: Record<string, unknown> & { startTime?: string; qosClass?: string; containerStatuses?: { name: string }[]; initContainerStatuses?: { name: string }[]; ephemeralContainerStatuses?: { name: string }[] } };
export type ServicePort = { name?: string; port: number; protocol?: string };
export type Service = KubeObject & { spec?: { clusterIP?: string; ports?: ServicePort[] } };

/** Annotations on a host pod that carry what its virtual original is (the downward API reads them). */
export const POD_NAME_ANNOTATION = 'vcluster.loft.sh/name';
export const POD_NAMESPACE_ANNOTATION = 'vcluster.loft.sh/namespace';
export const POD_UID_ANNOTATION = 'vcluster.loft.sh/uid';
export const POD_SERVICE_ACCOUNT_ANNOTATION = 'vcluster.loft.sh/service-account-name';
export const POD_LABELS_ANNOTATION = 'vcluster.loft.sh/labels';
export const OWNER_REFERENCES_ANNOTATION = 'vcluster.loft.sh/owner-references';
export const OWNER_SET_KIND_ANNOTATION = 'vcluster.loft.sh/owner-set-kind';
export const TOKEN_ANNOTATION_PREFIX = 'vcluster.loft.sh/token-';
export const HOSTS_REWRITTEN_ANNOTATION = 'vcluster.loft.sh/hosts-rewritten';
export const DISABLE_SUBDOMAIN_REWRITE_ANNOTATION = 'vcluster.loft.sh/disable-subdomain-rewrite';
/**
 * Marks a host pod whose virtual original runs to completion (see `runsToCompletion`). The local
 * host's kwok stage `kubenest-pod-run-to-completion` (controlplane/kwok-stages/) ends such a pod
 * as a kubelet ends one whose containers exited 0; a real host ignores the annotation and runs
 * the containers. The value says what decided it: `Job` or `Pod`.
 */
export const RUN_TO_COMPLETION_ANNOTATION = 'kubenest.dev/run-to-completion';
/** The init container and emptyDir volume that rewrite /etc/hosts, as vCluster names both. */
export const HOSTS_REWRITE_NAME = 'vcluster-rewrite-hosts';
const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
const DAEMONSET_POD_ANNOTATION = 'cluster-autoscaler.kubernetes.io/daemonset-pod';

/** Host-pod annotations the syncer owns; they never travel back to the virtual pod. */
export function isPodInternalAnnotation(key: string): boolean {
  return [POD_NAME_ANNOTATION, POD_NAMESPACE_ANNOTATION, POD_UID_ANNOTATION, POD_SERVICE_ACCOUNT_ANNOTATION, POD_LABELS_ANNOTATION,
    OWNER_REFERENCES_ANNOTATION, OWNER_SET_KIND_ANNOTATION, SAFE_TO_EVICT_ANNOTATION, DAEMONSET_POD_ANNOTATION, HOSTS_REWRITTEN_ANNOTATION,
    RUN_TO_COMPLETION_ANNOTATION].includes(key) ||
    key.startsWith(TOKEN_ANNOTATION_PREFIX);
}

export interface PodTranslation {
  names: NameTranslator;
  meta: MetadataTranslator;
  /** ClusterIP of the host Service standing for the virtual API (`kubernetes` for the pod). */
  kubeIp: string;
  /** ClusterIP of the virtual cluster's DNS Service on the host; undefined leaves DNS as it is. */
  dnsIp: string | undefined;
  clusterDomain: string;
  /** Labels of the pod's virtual namespace (copied as ns-label keys for network policies). */
  namespaceLabels: Labels;
  /** Virtual Services of the pod's namespace, for the environment kubelet would give it. */
  services: Service[];
  /** Token for each projected serviceAccountToken source, keyed `<volume>/<source index>`. */
  tokens: Map<string, string>;
  /** Names for the token annotations, one per token key (random, chosen by the caller). */
  tokenAnnotation: (tokenKey: string) => string;
  /** The host service account host pods run as. */
  hostServiceAccount: string;
  /** Translate priority class names (their to-host sync is on); otherwise they are dropped. */
  translatePriorityClasses: boolean;
  /** `sync.toHost.pods.rewriteHosts`: the init container for pods with a subdomain; undefined when off. */
  rewriteHosts?: HostsRewrite | undefined;
  /** `sync.toHost.pods`: translateImage, enforceTolerations, runtimeClassName, priorityClassName. */
  host?: PodHostSettings | undefined;
  /** With `useSecretsForSATokens`: the host Secret holding the tokens, keyed by volume name. */
  tokenSecret?: string | undefined;
}

/** The host Secret that holds a pod's tokens with `useSecretsForSATokens`, named as vCluster names it. */
export function tokenSecretName(names: NameTranslator, podName: string, namespace: string): string {
  return names.hostName(`${podName}-sa-token`, namespace);
}

export interface PodHostSettings {
  /** Exact image names replaced on the host (vCluster's translateImage). */
  translateImage?: Record<string, string>;
  /** Added to every host pod unless already there. */
  enforceTolerations?: Toleration[];
  runtimeClassName?: string;
  /** For host pods whose virtual pod names no priority class. */
  priorityClassName?: string;
}

/** The image a host container runs for a virtual container's `image`. */
export function hostImage(settings: PodHostSettings | undefined, image: string | undefined): string | undefined {
  return image !== undefined ? (settings?.translateImage?.[image] ?? image) : image;
}

export interface HostsRewrite {
  image: string;
  resources: Record<string, unknown>;
  /** vCluster runs it as the syncer's own user and group, or 1001 where that is root. */
  runAsUser: number;
  runAsGroup: number;
}

/** kubelet's and the downward API's label format: sorted `key="value"` lines. */
export function labelsAnnotation(labels: Labels | undefined): string {
  return Object.keys(labels ?? {}).sort().map((key) => `${key}=${JSON.stringify(labels![key])}`).join('\n');
}

/** A virtual field path as the host pod can answer it: from the annotations the syncer sets. */
export function translateFieldPath(meta: MetadataTranslator, fieldPath: string): string {
  switch (fieldPath) {
    case 'metadata.name': return `metadata.annotations['${POD_NAME_ANNOTATION}']`;
    case 'metadata.namespace': return `metadata.annotations['${POD_NAMESPACE_ANNOTATION}']`;
    case 'metadata.uid': return `metadata.annotations['${POD_UID_ANNOTATION}']`;
    case 'metadata.labels': return `metadata.annotations['${POD_LABELS_ANNOTATION}']`;
    case 'spec.serviceAccountName': return `metadata.annotations['${POD_SERVICE_ACCOUNT_ANNOTATION}']`;
  }
  const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
  if (label?.[1]) {
    const hostKey = Object.keys(meta.hostLabels({ [label[1]]: '' }, {}, '', false))[0] ?? label[1];
    return `metadata.labels['${hostKey}']`;
  }
  return fieldPath;
}

/** kubelet's service environment variable name for a Service: upper case, `-` → `_`. */
function envName(service: string): string {
  return service.toUpperCase().replaceAll('-', '_');
}

/** The Docker-link style variables kubelet sets for one Service. */
export function serviceEnv(name: string, ip: string, ports: ServicePort[]): EnvVar[] {
  if (ports.length === 0) return [];
  const prefix = envName(name);
  const out: EnvVar[] = [
    { name: `${prefix}_SERVICE_HOST`, value: ip },
    { name: `${prefix}_SERVICE_PORT`, value: String(ports[0]!.port) },
  ];
  for (const port of ports) if (port.name) out.push({ name: `${prefix}_SERVICE_PORT_${envName(port.name)}`, value: String(port.port) });
  const first = ports[0]!;
  out.push({ name: `${prefix}_PORT`, value: `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}` });
  for (const port of ports) {
    const protocol = port.protocol ?? 'TCP';
    const base = `${prefix}_PORT_${port.port}_${protocol.toUpperCase()}`;
    out.push(
      { name: base, value: `${protocol.toLowerCase()}://${ip}:${port.port}` },
      { name: `${base}_PROTO`, value: protocol.toLowerCase() },
      { name: `${base}_PORT`, value: String(port.port) },
      { name: `${base}_ADDR`, value: ip },
    );
  }
  return out;
}

/** The variables kubelet would set from the pod's virtual namespace: `kubernetes` always, the others with service links on. */
export function virtualServiceEnv(t: PodTranslation, enableServiceLinks: boolean): EnvVar[] {
  const out = serviceEnv('kubernetes', t.kubeIp, [{ name: 'https', port: 443, protocol: 'TCP' }]);
  if (!enableServiceLinks) return out;
  for (const service of [...t.services].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
    const ip = service.spec?.clusterIP;
    if (!ip || ip === 'None' || service.metadata?.name === 'kubernetes') continue;
    out.push(...serviceEnv(service.metadata?.name ?? '', ip, service.spec?.ports ?? []));
  }
  return out;
}

function translateContainer(t: PodTranslation, namespace: string, container: Container, injected: EnvVar[]): Container {
  const host = (name: string | undefined): string | undefined => (name ? t.names.hostName(name, namespace) : name);
  const env = (container.env ?? []).map((variable) => {
    const from = variable.valueFrom;
    if (!from) return variable;
    const out: EnvVar = { ...variable, valueFrom: { ...from } };
    if (from.configMapKeyRef) out.valueFrom!.configMapKeyRef = { ...from.configMapKeyRef, name: host(from.configMapKeyRef.name) ?? '' };
    if (from.secretKeyRef) out.valueFrom!.secretKeyRef = { ...from.secretKeyRef, name: host(from.secretKeyRef.name) ?? '' };
    if (from.fieldRef) out.valueFrom!.fieldRef = { ...from.fieldRef, fieldPath: translateFieldPath(t.meta, from.fieldRef.fieldPath) };
    return out;
  });
  // Prepended so the container's own `$(VAR)` references resolve; a name the user set wins.
  const own = new Set(env.map((v) => v.name));
  const merged = [...injected.filter((v) => !own.has(v.name)), ...env];
  const out: Container = { ...container };
  const image = hostImage(t.host, container.image);
  if (image !== undefined) out.image = image;
  if (merged.length > 0) out.env = merged;
  if (container.envFrom) {
    out.envFrom = container.envFrom.map((source) => ({
      ...source,
      ...(source.configMapRef ? { configMapRef: { ...source.configMapRef, name: host(source.configMapRef.name) ?? '' } } : {}),
      ...(source.secretRef ? { secretRef: { ...source.secretRef, name: host(source.secretRef.name) ?? '' } } : {}),
    }));
  }
  return out;
}

/** Volume sources whose `secretRef.name` names a Secret of the pod's namespace. */
const SECRET_REF_SOURCES = ['csi:nodePublishSecretRef', 'cephfs:secretRef', 'rbd:secretRef', 'flexVolume:secretRef', 'iscsi:secretRef', 'scaleIO:secretRef', 'storageos:secretRef', 'cinder:secretRef'];

function translateDownwardItems(t: PodTranslation, items: DownwardItem[] | undefined): DownwardItem[] | undefined {
  return items?.map((item) => (item.fieldRef ? { ...item, fieldRef: { ...item.fieldRef, fieldPath: translateFieldPath(t.meta, item.fieldRef.fieldPath) } } : item));
}

function translateVolume(t: PodTranslation, pod: Pod, volume: Volume, tokenAnnotations: Record<string, string>): Volume {
  const namespace = pod.metadata?.namespace ?? '';
  const host = (name: string): string => t.names.hostName(name, namespace);
  const out: Volume = { ...volume };
  if (volume.configMap?.name) out.configMap = { ...volume.configMap, name: host(volume.configMap.name) };
  if (volume.secret?.secretName) out.secret = { ...volume.secret, secretName: host(volume.secret.secretName) };
  if (volume.persistentVolumeClaim) out.persistentVolumeClaim = { ...volume.persistentVolumeClaim, claimName: host(volume.persistentVolumeClaim.claimName) };
  if (volume.downwardAPI) out.downwardAPI = { ...volume.downwardAPI, items: translateDownwardItems(t, volume.downwardAPI.items) ?? [] };
  if (volume.ephemeral) {
    // The virtual controller manager creates the claim `<pod>-<volume>`; it is synced like any PVC.
    delete out.ephemeral;
    out.persistentVolumeClaim = { claimName: host(`${pod.metadata?.name ?? ''}-${volume.name}`) };
  }
  const azure = volume['azureFile'] as { secretName?: string } | undefined;
  if (azure?.secretName) out['azureFile'] = { ...azure, secretName: host(azure.secretName) };
  for (const entry of SECRET_REF_SOURCES) {
    const [source, field] = entry.split(':') as [string, string];
    const value = volume[source] as Record<string, { name?: string } | undefined> | undefined;
    const ref = value?.[field];
    if (ref?.name) out[source] = { ...value, [field]: { ...ref, name: host(ref.name) } };
  }
  if (volume.projected?.sources) {
    out.projected = {
      ...volume.projected,
      sources: volume.projected.sources.map((source, index) => {
        if (source.configMap?.name) return { ...source, configMap: { ...source.configMap, name: host(source.configMap.name) } };
        if (source.secret?.name) return { ...source, secret: { ...source.secret, name: host(source.secret.name) } };
        if (source.downwardAPI) return { ...source, downwardAPI: { ...source.downwardAPI, items: translateDownwardItems(t, source.downwardAPI.items) ?? [] } };
        if (source.serviceAccountToken) {
          // The token was minted by the virtual API server for the virtual pod; the host pod
          // reads it from its own annotation, so the host never issues a token of its own.
          const key = `${volume.name}/${index}`;
          const token = t.tokens.get(key);
          if (token === undefined) throw new Error(`no service account token for volume ${volume.name}`);
          if (t.tokenSecret) return { secret: { name: t.tokenSecret, items: [{ key: volume.name, path: source.serviceAccountToken.path, mode: 0o644 }] } };
          const annotation = t.tokenAnnotation(key);
          tokenAnnotations[annotation] = token;
          return { downwardAPI: { items: [{ path: source.serviceAccountToken.path, fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${annotation}']` }, mode: 0o644 }] } };
        }
        return source;
      }),
    };
  }
  return out;
}

/** A label selector for the host: keys translated, scoped to this virtual cluster (and namespaces). */
function scopedSelector(t: PodTranslation, selector: LabelSelector | undefined, namespaces: string[]): LabelSelector {
  const translated = t.meta.hostLabelSelector(selector) ?? {};
  const matchLabels: Labels = { ...(translated.matchLabels ?? {}), [MARKER_LABEL]: t.meta.vclusterName };
  const matchExpressions = [...(translated.matchExpressions ?? [])];
  if (namespaces.length === 1) matchLabels[NAMESPACE_LABEL] = namespaces[0]!;
  else if (namespaces.length > 1) matchExpressions.push({ key: NAMESPACE_LABEL, operator: 'In', values: namespaces });
  return { matchLabels, ...(matchExpressions.length > 0 ? { matchExpressions } : {}) };
}

function translateAffinityTerm(t: PodTranslation, namespace: string, term: PodAffinityTerm): PodAffinityTerm {
  const { namespaces, ...rest } = term;
  // A namespaceSelector cannot be expressed on the host (one host namespace); vCluster ignores it too.
  delete rest.namespaceSelector;
  return { ...rest, labelSelector: scopedSelector(t, term.labelSelector, namespaces?.length ? namespaces : [namespace]) };
}

function translateAffinity(t: PodTranslation, namespace: string, affinity: PodAffinity | undefined): PodAffinity | undefined {
  if (!affinity) return undefined;
  const out: PodAffinity = {};
  if (affinity.requiredDuringSchedulingIgnoredDuringExecution) {
    out.requiredDuringSchedulingIgnoredDuringExecution = affinity.requiredDuringSchedulingIgnoredDuringExecution.map((term) => translateAffinityTerm(t, namespace, term));
  }
  if (affinity.preferredDuringSchedulingIgnoredDuringExecution) {
    out.preferredDuringSchedulingIgnoredDuringExecution = affinity.preferredDuringSchedulingIgnoredDuringExecution.map((w) => ({ ...w, podAffinityTerm: translateAffinityTerm(t, namespace, w.podAffinityTerm) }));
  }
  return out;
}

type OwnerReference = { apiVersion?: string; kind?: string; controller?: boolean };

/**
 * Whether a virtual pod is one whose containers are meant to exit, so that a simulated host,
 * which runs no containers, should end it (as a kubelet does when they exit 0), and why:
 * - `Job`: its controller is a Job (batch/v1). On the local host kwok completes the pods a Job
 *   owns; the host copy of a virtual Job's pod is owned by nothing, so the owner the host cannot
 *   see decides here.
 * - `Pod`: it has no controller and its restartPolicy is Never or OnFailure: nothing replaces
 *   or restarts it once its containers end, and kubelet then ends the pod (helm hooks and test
 *   pods, `kubectl run --restart=Never`).
 * Anything else runs until deleted: restartPolicy Always (the default, and required of
 * Deployment, ReplicaSet, StatefulSet and DaemonSet pods) never ends by itself, and the pods
 * of another controller mean what that controller makes of them, which kubenest cannot know.
 * Decided from the owner references and the spec, never from names or labels.
 */
export function runsToCompletion(pod: Pod): 'Job' | 'Pod' | undefined {
  const owners = (pod.metadata?.ownerReferences ?? []) as OwnerReference[];
  const controller = owners.find((o) => o.controller === true);
  if (controller) return controller.apiVersion === 'batch/v1' && controller.kind === 'Job' ? 'Job' : undefined;
  const policy = pod.spec?.['restartPolicy'] as string | undefined;
  return policy === 'Never' || policy === 'OnFailure' ? 'Pod' : undefined;
}

/** The host's `hostname` for a virtual pod without one: its name, as a DNS label. */
export function podHostname(name: string): string {
  return name.slice(0, 63).replaceAll('.', '-').replace(/-+$/, '');
}

/** The ns-label keys: the virtual namespace's labels, so host network policies can select by them. */
export function namespaceLabelsForHost(meta: MetadataTranslator, labels: Labels): Labels {
  return Object.fromEntries(Object.entries(labels).map(([key, value]) => [meta.hostNamespaceLabelKey(key), value]));
}

/**
 * The host pod for a virtual pod (vCluster's translation): translated name, labels and
 * references, the syncer's annotations, a token per projected service-account token, the
 * environment and DNS the virtual cluster would give it, and the host's service account.
 */
export function translatePod(t: PodTranslation, pod: Pod): Pod {
  const meta = pod.metadata ?? {};
  const namespace = meta.namespace ?? '';
  const spec = structuredClone(pod.spec ?? { containers: [] });
  const injected = virtualServiceEnv(t, spec.enableServiceLinks !== false);
  const tokenAnnotations: Record<string, string> = {};

  const hostSpec: PodSpec = { ...spec };
  hostSpec.containers = spec.containers.map((c) => translateContainer(t, namespace, c, injected));
  if (spec.initContainers) hostSpec.initContainers = spec.initContainers.map((c) => translateContainer(t, namespace, c, injected));
  delete hostSpec.ephemeralContainers;
  if (spec.volumes) hostSpec.volumes = spec.volumes.map((v) => translateVolume(t, pod, v, tokenAnnotations));
  if (spec.imagePullSecrets) hostSpec.imagePullSecrets = spec.imagePullSecrets.map((s) => ({ name: t.names.hostName(s.name ?? '', namespace) }));

  hostSpec.serviceAccountName = t.hostServiceAccount;
  delete hostSpec.serviceAccount;
  hostSpec.automountServiceAccountToken = false;
  hostSpec.enableServiceLinks = false;
  if (!hostSpec.hostname) hostSpec.hostname = podHostname(meta.name ?? '');
  // The host has no Service for the virtual subdomain, so kubelet would write a hosts entry
  // without the pod's virtual FQDN: an init container puts it in, as vCluster does. vCluster's
  // opt-out needs both annotations on the pod.
  let hostsRewritten = false;
  if (spec.subdomain) {
    const optedOut = meta.annotations?.[DISABLE_SUBDOMAIN_REWRITE_ANNOTATION] === 'true' && meta.annotations?.[HOSTS_REWRITTEN_ANNOTATION] === 'true';
    if (t.rewriteHosts && !optedOut) {
      const fqdn = `${hostSpec.hostname}.${spec.subdomain}.${namespace}.svc.${t.clusterDomain}`;
      rewriteHostsFile(hostSpec, translateContainer(t, namespace, hostsRewriteContainer(t.rewriteHosts, hostSpec.hostname, fqdn), injected));
      hostsRewritten = true;
    }
    delete hostSpec.subdomain;
  }

  const policy = spec.dnsPolicy ?? 'ClusterFirst';
  if (t.dnsIp && ((policy === 'ClusterFirst' && !spec.hostNetwork) || policy === 'ClusterFirstWithHostNet')) {
    const domain = t.clusterDomain;
    const unique = <V>(values: V[]): V[] => [...new Set(values)];
    const existing = spec.dnsConfig ?? {};
    hostSpec.dnsPolicy = 'None';
    hostSpec.dnsConfig = {
      nameservers: unique([t.dnsIp, ...(existing.nameservers ?? [])]),
      searches: unique([`${namespace}.svc.${domain}`, `svc.${domain}`, domain, ...(existing.searches ?? [])]),
      options: [{ name: 'ndots', value: '5' }, ...(existing.options ?? []).filter((o) => o.name !== 'ndots')],
    };
  }
  hostSpec.hostAliases = [...(spec.hostAliases ?? []), {
    ip: t.kubeIp, hostnames: [`kubernetes.default.svc.${t.clusterDomain}`, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
  }];

  const podAffinity = translateAffinity(t, namespace, spec.affinity?.podAffinity);
  const podAntiAffinity = translateAffinity(t, namespace, spec.affinity?.podAntiAffinity);
  if (spec.affinity) {
    hostSpec.affinity = { ...spec.affinity, ...(podAffinity ? { podAffinity } : {}), ...(podAntiAffinity ? { podAntiAffinity } : {}) };
  }
  if (spec.topologySpreadConstraints) {
    hostSpec.topologySpreadConstraints = spec.topologySpreadConstraints.map((c) => ({ ...c, labelSelector: scopedSelector(t, c.labelSelector, [namespace]) }));
  }
  // The host computes priority (and overhead) from its own classes; a preset value is refused there.
  delete hostSpec.priority;
  delete hostSpec.overhead;
  if (spec.priorityClassName) {
    if (t.translatePriorityClasses) hostSpec.priorityClassName = t.names.hostNameCluster(spec.priorityClassName);
    else delete hostSpec.priorityClassName;
  }
  if (!hostSpec.priorityClassName && t.host?.priorityClassName) hostSpec.priorityClassName = t.host.priorityClassName;
  delete hostSpec.preemptionPolicy;
  if (t.host?.runtimeClassName) hostSpec.runtimeClassName = t.host.runtimeClassName;
  for (const toleration of t.host?.enforceTolerations ?? []) {
    hostSpec.tolerations ??= [];
    if (!hostSpec.tolerations.some((existing) => isDeepStrictEqual(existing, toleration))) hostSpec.tolerations.push({ ...toleration });
  }

  const labels: Labels = { ...t.meta.hostLabels(meta.labels, undefined, namespace, true), ...namespaceLabelsForHost(t.meta, t.namespaceLabels) };
  const owners = (meta.ownerReferences ?? []) as { apiVersion?: string; kind?: string; controller?: boolean }[];
  const setOwner = owners.find((o) => o.apiVersion === 'apps/v1' && ['DaemonSet', 'ReplicaSet', 'StatefulSet'].includes(o.kind ?? '')) ??
    owners.find((o) => o.apiVersion === 'batch/v1' && o.kind === 'Job');
  const hostPod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: t.names.hostName(meta.name ?? '', namespace), namespace: t.meta.hostNamespace }, spec: hostSpec };
  const annotations: Record<string, string> = {
    ...t.meta.hostAnnotations(pod, hostPod),
    [POD_NAME_ANNOTATION]: meta.name ?? '',
    [POD_NAMESPACE_ANNOTATION]: namespace,
    [POD_UID_ANNOTATION]: meta.uid ?? '',
    [POD_SERVICE_ACCOUNT_ANNOTATION]: spec.serviceAccountName ?? '',
    [POD_LABELS_ANNOTATION]: labelsAnnotation(meta.labels),
    [SAFE_TO_EVICT_ANNOTATION]: String(owners.some((o) => o.controller)),
    ...tokenAnnotations,
  };
  if (owners.length > 0) annotations[OWNER_REFERENCES_ANNOTATION] = JSON.stringify(owners);
  if (setOwner?.kind) annotations[OWNER_SET_KIND_ANNOTATION] = setOwner.kind;
  if (setOwner?.kind === 'DaemonSet') annotations[DAEMONSET_POD_ANNOTATION] = 'true';
  if (hostsRewritten) annotations[HOSTS_REWRITTEN_ANNOTATION] = 'true';
  const completion = runsToCompletion(pod);
  if (completion) annotations[RUN_TO_COMPLETION_ANNOTATION] = completion;
  hostPod.metadata!.labels = labels;
  hostPod.metadata!.annotations = annotations;
  return hostPod;
}

/**
 * Ephemeral containers added to a running virtual pod (`kubectl debug`), for the host pod's
 * `ephemeralcontainers` subresource: references and environment as for the pod's own containers.
 */
export function translateEphemeralContainers(t: PodTranslation, pod: Pod, containers: Container[]): Container[] {
  const injected = virtualServiceEnv(t, pod.spec?.enableServiceLinks !== false);
  return containers.map((container) => translateContainer(t, pod.metadata?.namespace ?? '', container, injected));
}

/** The init container that writes a hosts file where the pod's own line also names its FQDN. */
function hostsRewriteContainer(rewrite: HostsRewrite, hostname: string, fqdn: string): Container {
  return {
    name: HOSTS_REWRITE_NAME,
    image: rewrite.image,
    command: ['sh'],
    args: ['-c', `sed -E -e 's/^(\\d+.\\d+.\\d+.\\d+\\s+)${hostname}$/\\1 ${fqdn} ${hostname}/' /etc/hosts > /hosts/hosts`],
    securityContext: {
      runAsUser: rewrite.runAsUser, runAsGroup: rewrite.runAsGroup, runAsNonRoot: true,
      capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' },
    },
    resources: structuredClone(rewrite.resources),
    volumeMounts: [{ mountPath: '/hosts', name: HOSTS_REWRITE_NAME }],
  };
}

/** Runs `init` first and mounts the file it writes over /etc/hosts in every other container. */
function rewriteHostsFile(spec: PodSpec, init: Container): void {
  spec.volumes = [...(spec.volumes ?? []), { name: HOSTS_REWRITE_NAME, emptyDir: {} }];
  const mount = { mountPath: '/etc/hosts', name: HOSTS_REWRITE_NAME, subPath: 'hosts' };
  const withMount = (c: Container): Container => ({ ...c, volumeMounts: [...((c.volumeMounts as unknown[] | undefined) ?? []), mount] });
  spec.containers = spec.containers.map(withMount);
  spec.initContainers = [init, ...(spec.initContainers ?? []).map(withMount)];
}

/** The parts of a pod that need a host-level privilege a tenant must not get by default. */
export function hostAccessRequests(pod: Pod): string[] {
  const spec = pod.spec;
  if (!spec) return [];
  const out: string[] = [];
  if (spec.hostNetwork) out.push('spec.hostNetwork');
  if (spec.hostPID) out.push('spec.hostPID');
  if (spec.hostIPC) out.push('spec.hostIPC');
  for (const volume of spec.volumes ?? []) if (volume.hostPath) out.push(`volume ${volume.name}: hostPath`);
  for (const [list, containers] of [['containers', spec.containers], ['initContainers', spec.initContainers ?? []]] as const) {
    for (const container of containers) if (container.securityContext?.privileged) out.push(`${list} ${container.name}: privileged`);
  }
  return out;
}

/** Names of every ConfigMap and Secret a pod refers to (the "in use" rule of the data syncers). */
export function podReferences(pod: Pod): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const spec = pod.spec;
  if (!spec) return { configMaps, secrets };
  for (const container of [...spec.containers, ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const variable of container.env ?? []) {
      if (variable.valueFrom?.configMapKeyRef?.name) configMaps.add(variable.valueFrom.configMapKeyRef.name);
      if (variable.valueFrom?.secretKeyRef?.name) secrets.add(variable.valueFrom.secretKeyRef.name);
    }
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef?.name) configMaps.add(source.configMapRef.name);
      if (source.secretRef?.name) secrets.add(source.secretRef.name);
    }
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.configMap?.name) configMaps.add(volume.configMap.name);
    if (volume.secret?.secretName) secrets.add(volume.secret.secretName);
    const azure = volume['azureFile'] as { secretName?: string } | undefined;
    if (azure?.secretName) secrets.add(azure.secretName);
    for (const entry of SECRET_REF_SOURCES) {
      const [source, field] = entry.split(':') as [string, string];
      const ref = (volume[source] as Record<string, { name?: string } | undefined> | undefined)?.[field];
      if (ref?.name) secrets.add(ref.name);
    }
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap?.name) configMaps.add(source.configMap.name);
      if (source.secret?.name) secrets.add(source.secret.name);
    }
  }
  for (const pullSecret of spec.imagePullSecrets ?? []) if (pullSecret.name) secrets.add(pullSecret.name);
  return { configMaps, secrets };
}
