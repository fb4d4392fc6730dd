import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ApiError, CORE, EventRecorder, isNotFound, type KubeObject } from '@kubenest/kube';
import { MARKER_LABEL, syncMetadata, type HookedInformer, type SyncContext, type SyncEvent, type SyncResult, type Syncer } from '@kubenest/sync';
import {
  hostAccessRequests, hostImage, isPodInternalAnnotation, labelsAnnotation, namespaceLabelsForHost, tokenSecretName, translateEphemeralContainers, translatePod,
  runsToCompletion, POD_LABELS_ANNOTATION, RUN_TO_COMPLETION_ANNOTATION, type Container, type HostsRewrite, type Pod, type PodHostSettings, type PodTranslation, type Service,
} from './translate.ts';

export interface PodSyncerOptions {
  /** `networking.advanced.clusterDomain`. */
  clusterDomain?: string;
  /** The host service account host pods run as (`vc-workload-<vc>`, as vCluster names it). */
  hostServiceAccount: string;
  /**
   * Whether tenant pods may ask for hostNetwork, hostPID, hostIPC, hostPath or privileged
   * containers (`policies.podSecurityStandard: privileged`). Refused by default (ADR 0010).
   */
  allowHostAccess: boolean;
  translatePriorityClasses?: boolean;
  /** `sync.toHost.pods.rewriteHosts` (on in vCluster by default); undefined turns it off. */
  rewriteHosts?: HostsRewrite | undefined;
  /** `sync.toHost.pods`: translateImage, enforceTolerations, runtimeClassName, priorityClassName. */
  host?: PodHostSettings | undefined;
  /** `sync.toHost.pods.useSecretsForSATokens`: tokens in a host Secret instead of pod annotations. */
  useSecretsForSATokens?: boolean;
  /** Whether the virtual cluster runs its DNS (CoreDNS): then pods wait for its Service IP. */
  dns: boolean;
  /** Whether a virtual node of this name exists (the node syncer creates them). */
  nodeExists(name: string): boolean;
  /** Calls back when a virtual node appears, so a pod waiting to be bound to it goes on at once. */
  onNodeAdded?(listener: (name: string) => void): () => void;
}

/** The virtual cluster's DNS Service, as every pod's resolver. */
const DNS_SERVICE = { namespace: 'kube-system', name: 'kube-dns' };
/** Ten years, as vCluster asks for: the token must outlive the pod, and it is bound to it anyway. */
const TOKEN_SECONDS = 10 * 365 * 24 * 3600;

type TokenSource = { audience?: string; expirationSeconds?: number; path: string };

/**
 * Pods to the host, vCluster's way (research/syncer.md §3): spec translated once at creation
 * (a pod's spec hardly changes), the host schedules and runs it, and the virtual pod follows:
 * bound to the node the host chose, status copied back, deleted when the host pod goes. A pod
 * that has run is never created again on the host.
 */
export function podSyncer(options: PodSyncerOptions): Syncer<Pod> {
  const clusterDomain = options.clusterDomain ?? 'cluster.local';
  let namespaces: HookedInformer | undefined;
  let virtualServices: HookedInformer<Service> | undefined;
  let hostServices: HookedInformer<Service> | undefined;
  let recorder: EventRecorder | undefined;
  let removeNamespaceHandler: (() => void) | undefined;
  /** Virtual pods (namespace/name) waiting for their virtual node, by node name. */
  const waitingForNode = new Map<string, Set<string>>();
  let removeNodeListener: (() => void) | undefined;
  /** Host pods (uid) whose token Secret is known to be owned by them. */
  const tokenSecretsOwned = new Set<string>();
  /** In-place resize needs the host's `resize` subresource (Kubernetes 1.35 and later). */
  let hostSupportsResize = false;
  /** Privileged ephemeral containers already refused (pod uid/name), so the event is recorded once. */
  const refusedEphemeral = new Set<string>();

  const hostServiceIp = async (ctx: SyncContext, name: string): Promise<string | undefined> =>
    (await hostServices?.get(`${ctx.hostNamespace}/${name}`))?.spec?.clusterIP;

  async function requestToken(ctx: SyncContext, pod: Pod, source: TokenSource): Promise<string> {
    const namespace = pod.metadata?.namespace ?? '';
    const account = pod.spec?.serviceAccountName || 'default';
    const audiences = source.audience ? [source.audience] : [`https://kubernetes.default.svc.${clusterDomain}`, 'https://kubernetes.default.svc', 'https://kubernetes.default'];
    // A subresource: not hooked (ADR 21).
    const response = await ctx.virtual.unhooked.rest.request<{ status?: { token?: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
        spec: { audiences, expirationSeconds: TOKEN_SECONDS, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid } },
      },
    });
    const token = response.status?.token;
    if (!token) throw new Error(`the virtual API server returned no token for service account ${namespace}/${account}`);
    return token;
  }

  async function translation(ctx: SyncContext, pod: Pod, tokens: Map<string, string>): Promise<PodTranslation> {
    const namespace = pod.metadata?.namespace ?? '';
    const kubeIp = await hostServiceIp(ctx, ctx.vclusterName);
    if (!kubeIp) throw new Error(`waiting for the host Service ${ctx.hostNamespace}/${ctx.vclusterName} (the virtual API's ClusterIP)`);
    const dnsIp = options.dns ? await hostServiceIp(ctx, ctx.names.hostName(DNS_SERVICE.name, DNS_SERVICE.namespace)) : undefined;
    if (options.dns && !dnsIp) throw new Error('waiting for the DNS Service IP (kube-system/kube-dns on the host)');
    const tokenNames = new Map<string, string>();
    return {
      names: ctx.names, meta: ctx.meta, kubeIp, dnsIp, clusterDomain,
      namespaceLabels: ((await namespaces?.get(namespace))?.metadata?.labels ?? {}),
      services: ((await virtualServices?.list()) ?? []).filter((s) => s.metadata?.namespace === namespace),
      tokens,
      tokenAnnotation: (key) => {
        let name = tokenNames.get(key);
        if (!name) {
          name = `vcluster.loft.sh/token-${randomBytes(4).toString('hex')}`;
          tokenNames.set(key, name);
        }
        return name;
      },
      hostServiceAccount: options.hostServiceAccount,
      translatePriorityClasses: options.translatePriorityClasses ?? false,
      rewriteHosts: options.rewriteHosts,
      host: options.host,
    };
  }

  /** Virtual status from the host's: qosClass stays (immutable), statuses only for the virtual containers. */
  function virtualStatus(virtual: Pod, host: Pod): Pod['status'] {
    const status = structuredClone(host.status ?? {});
    if (virtual.status?.qosClass) status.qosClass = virtual.status.qosClass;
    else delete status.qosClass;
    const names = (list: Container[] | undefined): Set<string> => new Set((list ?? []).map((c) => c.name));
    const containers = names(virtual.spec?.containers);
    const initContainers = names(virtual.spec?.initContainers);
    if (status.containerStatuses) status.containerStatuses = status.containerStatuses.filter((s) => containers.has(s.name));
    if (status.initContainerStatuses) status.initContainerStatuses = status.initContainerStatuses.filter((s) => initContainers.has(s.name));
    const ephemeral = names(virtual.spec?.ephemeralContainers);
    if (status.ephemeralContainerStatuses) status.ephemeralContainerStatuses = status.ephemeralContainerStatuses.filter((s) => ephemeral.has(s.name));
    if (status.ephemeralContainerStatuses?.length === 0) delete status.ephemeralContainerStatuses;
    return status;
  }

  /** What of the spec may change after creation and follows the virtual pod. */
  function syncSpec(virtual: Pod, host: Pod): boolean {
    const vSpec = virtual.spec!;
    const hSpec = host.spec!;
    let changed = false;
    for (const [vList, hList] of [[vSpec.containers, hSpec.containers], [vSpec.initContainers ?? [], hSpec.initContainers ?? []]] as const) {
      for (const container of vList) {
        const hostContainer = hList.find((c) => c.name === container.name);
        const image = hostImage(options.host, container.image);
        if (hostContainer && image && hostContainer.image !== image) { hostContainer.image = image; changed = true; }
      }
    }
    if (vSpec.activeDeadlineSeconds !== hSpec.activeDeadlineSeconds && vSpec.activeDeadlineSeconds !== undefined) {
      hSpec.activeDeadlineSeconds = vSpec.activeDeadlineSeconds; changed = true;
    }
    const tolerations = [...(hSpec.tolerations ?? [])];
    for (const toleration of vSpec.tolerations ?? []) {
      if (!tolerations.some((t) => isDeepStrictEqual(t, toleration))) { tolerations.push(toleration); changed = true; }
    }
    if (changed) hSpec.tolerations = tolerations;
    // Gates can only be removed after creation; the host pod is scheduled once the virtual one may be.
    if (!isDeepStrictEqual(vSpec.schedulingGates ?? [], hSpec.schedulingGates ?? [])) {
      if (vSpec.schedulingGates?.length) hSpec.schedulingGates = vSpec.schedulingGates;
      else delete hSpec.schedulingGates;
      changed = true;
    }
    return changed;
  }

  return {
    name: 'pod',
    resource: CORE['pods']!,
    gracefulDelete: true,
    // A pod that ran (or whose host copy this syncer made and lost) is not started again.
    recreateHost: (virtual, syncedBefore) => !syncedBefore && !virtual.status?.startTime,

    async start(ctx: SyncContext, signal: AbortSignal | undefined, enqueue: (key: string) => void) {
      namespaces = ctx.virtual.informer(CORE['namespaces']!);
      // Namespace labels are copied onto host pods (ns-label keys): a relabel revisits its pods.
      const pods = ctx.virtual.informer<Pod>(CORE['pods']!);
      removeNamespaceHandler = namespaces.addHandlers({
        onUpdate: (old, current) => {
          if (isDeepStrictEqual(old.metadata?.labels, current.metadata?.labels)) return;
          for (const key of pods.keys()) if (key.startsWith(`${current.metadata?.name}/`)) enqueue(key);
        },
      });
      // Shared caches outlive a leadership term (the client stops them), so no term signal here.
      pods.start();
      virtualServices = ctx.virtual.informer<Service>(CORE['services']!);
      hostServices = ctx.host.informer<Service>(CORE['services']!, { namespace: ctx.hostNamespace });
      recorder = new EventRecorder(ctx.virtual.unhooked.rest, 'pod-syncer');
      removeNodeListener = options.onNodeAdded?.((node) => {
        for (const key of waitingForNode.get(node) ?? []) enqueue(key);
        waitingForNode.delete(node);
      });
      const version = await ctx.host.unhooked.rest.request<{ major?: string; minor?: string }>('GET', '/version', { signal });
      hostSupportsResize = Number(version.major) > 1 || (Number(version.major) === 1 && Number.parseInt(version.minor ?? '', 10) >= 35);
      for (const informer of [namespaces, virtualServices, hostServices] as HookedInformer[]) informer.start();
      await Promise.all([namespaces, virtualServices, hostServices, pods].map((informer) => informer.waitForSync(signal)));
    },

    stop() {
      removeNamespaceHandler?.();
      removeNodeListener?.();
      waitingForNode.clear();
      tokenSecretsOwned.clear();
    },

    async wants(ctx, virtual) {
      const refused = options.allowHostAccess ? [] : hostAccessRequests(virtual);
      if (refused.length === 0) return true;
      await refuse(ctx, virtual, refused);
      return false;
    },

    async toHost(ctx, virtual) {
      const tokens = new Map<string, string>();
      for (const volume of virtual.spec?.volumes ?? []) {
        for (const [index, source] of (volume.projected?.sources ?? []).entries()) {
          if (source.serviceAccountToken) tokens.set(`${volume.name}/${index}`, await requestToken(ctx, virtual, source.serviceAccountToken));
        }
      }
      const t = await translation(ctx, virtual, tokens);
      if (options.useSecretsForSATokens && tokens.size > 0) t.tokenSecret = await writeTokenSecret(ctx, virtual, tokens);
      return translatePod(t, virtual);
    },

    async sync(ctx: SyncContext, event: SyncEvent<Pod>): Promise<SyncResult<Pod>> {
      const { host } = event;
      if (host.metadata?.deletionTimestamp) {
        tokenSecretsOwned.delete(host.metadata.uid ?? '');
        return { deleteVirtual: { gracePeriodSeconds: event.virtual.spec?.terminationGracePeriodSeconds ?? 30 } };
      }
      const hostNode = host.spec?.nodeName;
      const virtualNode = event.virtual.spec?.nodeName;
      if (hostNode && virtualNode && hostNode !== virtualNode) return { deleteVirtual: { gracePeriodSeconds: 0 } };
      if (hostNode && !virtualNode) {
        const { namespace = '', name = '' } = event.virtual.metadata ?? {};
        if (!options.nodeExists(hostNode)) {
          // The node syncer is creating it; its arrival requeues the pod, the delay is a fallback.
          waitingForNode.set(hostNode, (waitingForNode.get(hostNode) ?? new Set()).add(`${namespace}/${name}`));
          return { requeueAfterMs: 1_000 };
        }
        await ctx.virtual.resourceFor(CORE['pods']!).createSubresource(namespace, name, 'binding', {
          apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid: event.virtual.metadata?.uid }, target: { apiVersion: 'v1', kind: 'Node', name: hostNode },
        });
        return { requeueAfterMs: 0 };
      }

      if (await addEphemeralContainers(ctx, event.virtual, host)) return { requeueAfterMs: 0 };
      if (options.useSecretsForSATokens) await ownTokenSecret(ctx, event.virtual, host);
      const resize = hostSupportsResize ? resizePatch(event) : undefined;
      if (resize) {
        try {
          await ctx.host.resourceFor<Pod>(CORE['pods']!).patch(host.metadata?.name ?? '', 'strategic', resize, { namespace: host.metadata?.namespace ?? '', subresource: 'resize' });
        } catch (error) {
          // A resize the host refuses (a QoS change, its LimitRange) is reported, not retried.
          if (!(error instanceof ApiError) || (error.code !== 422 && error.code !== 403)) throw error;
          await recorder?.record(event.virtual, 'Warning', 'ResizeRefused', `the host refused the resize: ${error.message}`);
        }
        return { requeueAfterMs: 0 };
      }

      const virtual = structuredClone(event.virtual);
      const next = structuredClone(host);
      let { virtualChanged } = syncMetadata(ctx, { ...event, virtual, host: next });
      // The syncer's own annotations stay on the host and never reach the virtual pod.
      const ownAnnotations = Object.entries(host.metadata?.annotations ?? {}).filter(([key]) => isPodInternalAnnotation(key));
      if (virtualChanged && virtual.metadata?.annotations) {
        for (const [key] of ownAnnotations) delete virtual.metadata.annotations[key];
        virtualChanged = !isDeepStrictEqual(virtual.metadata, event.virtual.metadata);
      }
      const annotations: Record<string, string> = { ...(next.metadata!.annotations ?? {}), ...Object.fromEntries(ownAnnotations), [POD_LABELS_ANNOTATION]: labelsAnnotation(virtual.metadata?.labels) };
      // Kept current, so a host pod made before kubenest marked them (or whose virtual owner
      // changed) runs to completion as the virtual pod now says (ADR 14).
      const completion = runsToCompletion(virtual);
      if (completion) annotations[RUN_TO_COMPLETION_ANNOTATION] = completion;
      else delete annotations[RUN_TO_COMPLETION_ANNOTATION];
      const labels = { ...(next.metadata!.labels ?? {}), ...namespaceLabelsForHost(ctx.meta, (await namespaces?.get(virtual.metadata?.namespace ?? ''))?.metadata?.labels ?? {}) };
      next.metadata!.annotations = annotations;
      next.metadata!.labels = labels;
      let hostChanged = !isDeepStrictEqual(next.metadata?.annotations, host.metadata?.annotations) || !isDeepStrictEqual(next.metadata?.labels, host.metadata?.labels);
      if (syncSpec(virtual, next)) hostChanged = true;

      const status = virtualStatus(virtual, host);
      const result: SyncResult<Pod> = {};
      if (virtualChanged) result.virtual = virtual;
      if (hostChanged) result.host = next;
      if (!isDeepStrictEqual(status, event.virtual.status ?? {})) result.virtualStatus = { ...virtual, status };
      return result;
    },
  };

  /**
   * `useSecretsForSATokens`: the pod's tokens go into a host Secret (replacing one left by an
   * earlier pod of the same name) before the pod is created. It carries our marker so
   * `kubenest delete` finds it; the host pod becomes its owner once it exists.
   */
  async function writeTokenSecret(ctx: SyncContext, virtual: Pod, tokens: Map<string, string>): Promise<string> {
    const namespace = virtual.metadata?.namespace ?? '';
    const name = tokenSecretName(ctx.names, virtual.metadata?.name ?? '', namespace);
    await ctx.host.resourceFor(CORE['secrets']!).deleteExactly({ metadata: { name, namespace: ctx.hostNamespace } });
    // Keyed by volume name, as vCluster does (one token per projected volume).
    const stringData = Object.fromEntries([...tokens].map(([key, token]) => [key.slice(0, key.lastIndexOf('/')), token]));
    await ctx.host.resourceFor(CORE['secrets']!).create({
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque', stringData,
      metadata: { name, namespace: ctx.hostNamespace, labels: { [MARKER_LABEL]: ctx.vclusterName }, annotations: { 'vcluster.loft.sh/skip-backsync': 'true' } },
    });
    return name;
  }

  /** Makes the host pod the owner of its token Secret, once per pod, so the host deletes them together. */
  async function ownTokenSecret(ctx: SyncContext, virtual: Pod, host: Pod): Promise<void> {
    const uid = host.metadata?.uid ?? '';
    if (tokenSecretsOwned.has(uid)) return;
    const name = tokenSecretName(ctx.names, virtual.metadata?.name ?? '', virtual.metadata?.namespace ?? '');
    const usesSecret = (host.spec?.volumes ?? []).some((v) => v.projected?.sources?.some((s) => s.secret?.name === name));
    if (usesSecret) {
      const secrets = ctx.host.resourceFor<KubeObject>(CORE['secrets']!);
      const secret = await secrets.get(name, { namespace: ctx.hostNamespace }).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (!secret) {
        tokenSecretsOwned.add(uid);
        return;
      }
      const owners = (secret.metadata?.ownerReferences ?? []) as { uid?: string }[];
      if (!owners.some((o) => o.uid === uid)) {
        secret.metadata!.ownerReferences = [...owners, { apiVersion: 'v1', kind: 'Pod', name: host.metadata?.name, uid }];
        await secrets.update(secret);
      }
    }
    tokenSecretsOwned.add(uid);
  }

  /**
   * An in-place resize of the virtual pod (its `resize` subresource) for the host pod: the
   * containers whose resources the virtual side changed since the last sync and the host lacks.
   * Only a change triggers it: host admission (a LimitRange) may have set resources the virtual
   * pod never had, and those must not be fought over.
   */
  function resizePatch(event: SyncEvent<Pod>): { spec: { containers: { name: string; resources: unknown }[] } } | undefined {
    const resources = (pod: Pod | undefined, name: string): unknown => pod?.spec?.containers.find((c) => c.name === name)?.['resources'] ?? {};
    if (!event.virtualOld) return undefined;
    const containers = (event.virtual.spec?.containers ?? [])
      .filter((c) => !isDeepStrictEqual(resources(event.virtualOld, c.name), resources(event.virtual, c.name)) &&
        !isDeepStrictEqual(resources(event.host, c.name), resources(event.virtual, c.name)))
      .map((c) => ({ name: c.name, resources: resources(event.virtual, c.name) }));
    return containers.length > 0 ? { spec: { containers } } : undefined;
  }

  /**
   * Ephemeral containers (`kubectl debug`) the virtual pod has and the host pod lacks are added
   * through the host's `ephemeralcontainers` subresource; privileged ones only where the policy
   * allows host access. Returns whether the host pod was written.
   */
  async function addEphemeralContainers(ctx: SyncContext, virtual: Pod, host: Pod): Promise<boolean> {
    const onHost = new Set((host.spec?.ephemeralContainers ?? []).map((c) => c.name));
    const added = (virtual.spec?.ephemeralContainers ?? []).filter((c) => !onHost.has(c.name));
    if (added.length === 0) return false;
    const allowed = options.allowHostAccess ? added : added.filter((c) => !c.securityContext?.privileged);
    for (const container of added.filter((c) => !allowed.includes(c))) {
      const key = `${virtual.metadata?.uid}/${container.name}`;
      if (refusedEphemeral.has(key)) continue;
      refusedEphemeral.add(key);
      await recorder?.record(virtual, 'Warning', 'HostAccessRefused', `kubenest does not add the privileged ephemeral container ${container.name} to the host pod: ` +
        'the virtual cluster\'s policy forbids host access (set policies.podSecurityStandard: privileged in the values to allow it)');
    }
    if (allowed.length === 0) return false;
    const next = structuredClone(host);
    next.spec!.ephemeralContainers = [...(host.spec?.ephemeralContainers ?? []), ...translateEphemeralContainers(await translation(ctx, virtual, new Map()), virtual, allowed)];
    await ctx.host.resourceFor<Pod>(CORE['pods']!).update(next, { subresource: 'ephemeralcontainers' });
    return true;
  }

  async function refuse(ctx: SyncContext, virtual: Pod, refused: string[]): Promise<void> {
    const message = `kubenest refuses to run this pod on the host: it asks for ${refused.join(', ')}; ` +
      'the virtual cluster\'s policy forbids host access (set policies.podSecurityStandard: privileged in the values to allow it)';
    const conditions = (virtual.status?.['conditions'] ?? []) as { type: string; reason?: string }[];
    if (conditions.some((c) => c.type === 'PodScheduled' && c.reason === 'HostAccessRefused')) return;
    await recorder?.record(virtual, 'Warning', 'HostAccessRefused', message);
    const status = {
      ...(virtual.status ?? {}), phase: 'Pending',
      conditions: [...conditions.filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'False', reason: 'HostAccessRefused', message, lastTransitionTime: new Date().toISOString() }],
    };
    await ctx.virtual.resourceFor<Pod>(CORE['pods']!).updateStatus({ ...virtual, status });
  }
}
