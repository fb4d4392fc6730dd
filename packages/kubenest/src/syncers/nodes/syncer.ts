import { isDeepStrictEqual } from 'node:util';
import { ApiError, CORE, type KubeObject } from '@kubenest/kube';
import { MARKER_LABEL, ReconcileLoop, type HookedInformer, type SyncContext } from '@kubenest/sync';
import {
  FAKE_NODE_LABEL, ORIGINAL_TAINTS_ANNOTATION, desiredNodeSpec, fakeNode, fakeNodeConditions, kubeletAt, sameTaints, type KubeletAddress, type Node,
} from './translate.ts';

export { FAKE_NODE_LABEL, fakeNode, type Node } from './translate.ts';
type Pod = KubeObject & { spec?: { nodeName?: string }; status?: { hostIP?: string } };

const OWNER_SET_KIND_ANNOTATION = 'vcluster.loft.sh/owner-set-kind';

export interface NodeSyncOptions {
  /** `sync.fromHost.nodes.enabled`: mirror real host nodes instead of fake ones. */
  fromHost: boolean;
  /** `selector.all`: every host node, needed or not (only with fromHost). */
  selectAll?: boolean;
  /** `selector.labels`: host nodes with these labels (only with fromHost). */
  selectLabels?: Record<string, string>;
  /** `clearImageStatus`: drop the node's image list. */
  clearImageStatus?: boolean;
  /** The version fake nodes report (the virtual cluster's). */
  kubeletVersion: string;
  /** kubenest's kubelet endpoint: every virtual node's InternalIP and kubelet port (ADR 27). */
  kubeletEndpoint: KubeletAddress;
}

/**
 * Virtual nodes: by default a fake node for every host node running a pod of this virtual
 * cluster, removed when none does; with `sync.fromHost.nodes` the real host nodes (selected, or
 * needed) mirrored by name. Either way the taints and conditions that describe a node's state
 * are the host node's (translate.ts says how). Host nodes are never written.
 */
export class NodeSyncer {
  readonly loop: ReconcileLoop;
  private readonly ctx: SyncContext;
  private readonly options: NodeSyncOptions;
  private readonly virtualNodes: HookedInformer<Node>;
  private readonly virtualPods: HookedInformer<Pod>;
  private readonly hostPods: HookedInformer<Pod>;
  private hostNodes: HookedInformer<Node> | undefined;

  constructor(ctx: SyncContext, options: NodeSyncOptions, onError?: (key: string, error: unknown) => void) {
    this.ctx = ctx;
    this.options = options;
    this.loop = new ReconcileLoop('nodes', (name) => this.reconcile(name), { workers: 2, ...(onError ? { onError } : {}) });
    const byNode = { node: (pod: Pod) => (pod.spec?.nodeName ? [pod.spec.nodeName] : []) };
    this.virtualNodes = this.loop.watch(ctx.virtual.newInformer<Node>(CORE['nodes']!), (node) => [node.metadata?.name ?? '']);
    this.virtualPods = this.loop.watch(ctx.virtual.newInformer<Pod>(CORE['pods']!, { indexers: byNode }), (pod) => byNode.node(pod));
    this.hostPods = this.loop.watch(ctx.host.newInformer<Pod>(CORE['pods']!, {
      namespace: ctx.hostNamespace, labelSelector: `${MARKER_LABEL}=${ctx.vclusterName}`, indexers: byNode,
    }), (pod) => byNode.node(pod));
    if (options.fromHost) this.watchHostNodes();
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (!this.hostNodes && await this.mayListHostNodes()) this.watchHostNodes();
    return this.loop.start(signal);
  }

  private watchHostNodes(): void {
    this.hostNodes = this.loop.watch(this.ctx.host.newInformer<Node>(CORE['nodes']!), (node) => [node.metadata?.name ?? '']);
  }

  /**
   * Fake nodes show the host node's state where the host lets us read nodes; a host kubeconfig
   * limited to its namespace (what fake nodes are for in vCluster) gets vCluster's always-Ready
   * fake nodes instead of a syncer that waits for a node list it may never have.
   */
  private async mayListHostNodes(): Promise<boolean> {
    try {
      // A permission probe whose answer is thrown away: no object is read, so no hook runs.
      await this.ctx.host.unhooked.resourceFor<Node>(CORE['nodes']!).listPage({ limit: 1 });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.code === 403) return false;
      throw error;
    }
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  exists(name: string): boolean {
    return this.virtualNodes.has(name);
  }

  /** Calls `listener` with the name of each virtual node that appears; returns the remover. */
  onAdded(listener: (name: string) => void): () => void {
    return this.virtualNodes.addHandlers({ onAdd: (node) => listener(node.metadata?.name ?? '') });
  }

  private async neededByPods(name: string): Promise<boolean> {
    const onNode = await this.hostPods.byIndex('node', name);
    const hostPods = onNode.filter((pod) => pod.metadata?.annotations?.[OWNER_SET_KIND_ANNOTATION] !== 'DaemonSet');
    const virtualPods = (await this.virtualPods.byIndex('node', name)).filter((pod) =>
      !((pod.metadata?.ownerReferences ?? []) as { kind?: string }[]).some((o) => o.kind === 'DaemonSet'));
    return hostPods.length > 0 || virtualPods.length > 0;
  }

  private selected(node: Node): boolean {
    if (this.options.selectAll) return true;
    const labels = this.options.selectLabels ?? {};
    if (Object.keys(labels).length === 0) return false;
    return Object.entries(labels).every(([key, value]) => node.metadata?.labels?.[key] === value);
  }

  private async reconcile(name: string): Promise<void> {
    if (!name) return;
    const nodes = this.ctx.virtual.resourceFor<Node>(CORE['nodes']!);
    const existing = await this.virtualNodes.get(name);
    const needed = await this.neededByPods(name);
    const hostNode = await this.hostNodes?.get(name);
    const wanted = this.options.fromHost ? hostNode !== undefined && (needed || this.selected(hostNode)) : needed;
    const ours = existing && (existing.metadata?.labels?.[FAKE_NODE_LABEL] === 'true' || existing.metadata?.labels?.[MARKER_LABEL] === this.ctx.vclusterName);
    if (!wanted) {
      if (existing && ours) {
        await nodes.deleteExactly(existing);
      }
      return;
    }
    const now = new Date().toISOString();
    const desired = this.options.fromHost ? this.mirror(hostNode!) : fakeNode(name, this.options.kubeletEndpoint, this.options.kubeletVersion, hostNode, now);
    let current: Node;
    if (!existing) {
      // The apiserver adds `node.kubernetes.io/not-ready` to every new node; the spec step below lifts it.
      current = await nodes.create({ ...desired, status: undefined });
    } else if (!ours) {
      return; // a node someone else made in the virtual cluster
    } else {
      current = existing;
    }

    const spec = desiredNodeSpec(this.options.fromHost ? 'mirror' : 'fake', hostNode, current);
    const labels = { ...(current.metadata?.labels ?? {}), ...(desired.metadata?.labels ?? {}) };
    const annotations = { ...(current.metadata?.annotations ?? {}) };
    if (spec.originalTaints) annotations[ORIGINAL_TAINTS_ANNOTATION] = spec.originalTaints;
    else delete annotations[ORIGINAL_TAINTS_ANNOTATION];
    const specChanged = !sameTaints(current.spec?.taints, spec.taints) || (current.spec?.unschedulable === true) !== spec.unschedulable;
    if (specChanged || !isDeepStrictEqual(labels, current.metadata?.labels ?? {}) || !isDeepStrictEqual(annotations, current.metadata?.annotations ?? {})) {
      const nextSpec: Node['spec'] = { ...current.spec, taints: spec.taints };
      if (spec.unschedulable) nextSpec.unschedulable = true;
      else delete nextSpec.unschedulable;
      current = await nodes.update({ ...current, metadata: { ...current.metadata, labels, annotations }, spec: nextSpec });
    }

    const status = this.options.fromHost || !existing ? desired.status
      : {
        ...existing.status, addresses: desired.status?.addresses, daemonEndpoints: desired.status?.['daemonEndpoints'],
        conditions: fakeNodeConditions(hostNode, existing.status?.conditions, now),
      };
    if (!existing || !isDeepStrictEqual(status, existing.status)) await nodes.updateStatus({ ...current, status });
  }

  /** A host node as the virtual cluster sees it: same name, labels, taints and status, but its kubelet is kubenest's endpoint. */
  private mirror(host: Node): Node {
    const status = kubeletAt(structuredClone(host.status ?? {}), this.options.kubeletEndpoint);
    if (this.options.clearImageStatus) status.images = [];
    return {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: host.metadata?.name ?? '', labels: { ...(host.metadata?.labels ?? {}), [MARKER_LABEL]: this.ctx.vclusterName }, annotations: {} },
      spec: { ...(host.spec?.taints ? { taints: host.spec.taints } : {}) },
      status,
    };
  }
}
