import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { CORE, type KubeObject } from '@kubenest/kube';
import { MARKER_LABEL, ReconcileLoop, type HookedInformer, type SyncContext } from '@kubenest/sync';

type Address = { type: string; address: string };
export type Node = KubeObject & {
  spec?: { taints?: unknown[]; unschedulable?: boolean; [k: string]: unknown };
  status?: { addresses?: Address[]; images?: unknown[]; [k: string]: unknown };
};
type Pod = KubeObject & { spec?: { nodeName?: string }; status?: { hostIP?: string } };

export const FAKE_NODE_LABEL = 'vcluster.loft.sh/fake-node';
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
}

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** A stable fake GUID per node, so a recreated fake node looks the same. */
function fakeGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The virtual node vCluster shows for a host node it does not expose: Ready, roomy, no taints. */
export function fakeNode(name: string, internalIp: string | undefined, kubeletVersion: string): Node {
  const condition = (type: string, status: string, reason: string, message: string): Record<string, string> => ({
    type, status, reason, message, lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString(),
  });
  const resources = { cpu: '16', memory: '32Gi', 'ephemeral-storage': '100Gi', pods: '110', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' };
  const addresses: Address[] = [{ type: 'Hostname', address: `${name.replaceAll('.', '-')}.nodes.vcluster.com` }];
  if (internalIp) addresses.push({ type: 'InternalIP', address: internalIp });
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: {
        [FAKE_NODE_LABEL]: 'true', 'kubernetes.io/hostname': `fake-${name}`,
        'kubernetes.io/arch': arch(), 'kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': arch(), 'beta.kubernetes.io/os': 'linux',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'false' },
    },
    spec: {},
    status: {
      capacity: resources, allocatable: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses,
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: fakeGuid(`machine-${name}`), systemUUID: fakeGuid(`system-${name}`), bootID: fakeGuid(`boot-${name}`),
        kernelVersion: '6.0.0', osImage: 'Fake Kubernetes Image', containerRuntimeVersion: 'docker://20.10.0',
        kubeletVersion, kubeProxyVersion: kubeletVersion, operatingSystem: 'linux', architecture: arch(),
      },
    },
  };
}

/**
 * Virtual nodes: by default a fake node for every host node running a pod of this virtual
 * cluster, removed when none does; with `sync.fromHost.nodes` the real host nodes (selected, or
 * needed) mirrored by name. Host nodes are never written.
 */
export class NodeSyncer {
  readonly loop: ReconcileLoop;
  private readonly ctx: SyncContext;
  private readonly options: NodeSyncOptions;
  private readonly virtualNodes: HookedInformer<Node>;
  private readonly virtualPods: HookedInformer<Pod>;
  private readonly hostPods: HookedInformer<Pod>;
  private readonly hostNodes: HookedInformer<Node> | undefined;

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
    if (options.fromHost) this.hostNodes = this.loop.watch(ctx.host.newInformer<Node>(CORE['nodes']!), (node) => [node.metadata?.name ?? '']);
  }

  start(signal?: AbortSignal): Promise<void> {
    return this.loop.start(signal);
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

  private async neededByPods(name: string): Promise<{ needed: boolean; hostIp: string | undefined }> {
    const onNode = await this.hostPods.byIndex('node', name);
    const hostPods = onNode.filter((pod) => pod.metadata?.annotations?.[OWNER_SET_KIND_ANNOTATION] !== 'DaemonSet');
    const virtualPods = (await this.virtualPods.byIndex('node', name)).filter((pod) =>
      !((pod.metadata?.ownerReferences ?? []) as { kind?: string }[]).some((o) => o.kind === 'DaemonSet'));
    const hostIp = onNode.map((pod) => pod.status?.hostIP).find(Boolean);
    return { needed: hostPods.length > 0 || virtualPods.length > 0, hostIp };
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
    const { needed, hostIp } = await this.neededByPods(name);
    const hostNode = await this.hostNodes?.get(name);
    const wanted = this.options.fromHost ? hostNode !== undefined && (needed || this.selected(hostNode)) : needed;
    const ours = existing && (existing.metadata?.labels?.[FAKE_NODE_LABEL] === 'true' || existing.metadata?.labels?.[MARKER_LABEL] === this.ctx.vclusterName);
    if (!wanted) {
      if (existing && ours) {
        await nodes.deleteExactly(existing);
      }
      return;
    }
    const desired = this.options.fromHost ? this.mirror(hostNode!) : fakeNode(name, hostIp, this.options.kubeletVersion);
    if (!existing) {
      const created = await nodes.create({ ...desired, status: undefined });
      await nodes.updateStatus({ ...created, status: desired.status });
      return;
    }
    if (!ours) return; // a node someone else made in the virtual cluster
    const labels = { ...(existing.metadata?.labels ?? {}), ...(desired.metadata?.labels ?? {}) };
    const specChanged = this.options.fromHost && !isDeepStrictEqual(existing.spec?.taints, desired.spec?.taints);
    let current = existing;
    if (!isDeepStrictEqual(labels, existing.metadata?.labels) || specChanged) {
      current = await nodes.update({ ...existing, metadata: { ...existing.metadata, labels }, spec: { ...existing.spec, ...(this.options.fromHost ? { taints: desired.spec?.taints } : {}) } });
    }
    const status = this.options.fromHost ? desired.status : { ...existing.status, addresses: desired.status?.addresses };
    if (!isDeepStrictEqual(status, existing.status)) await nodes.updateStatus({ ...current, status });
  }

  /** A host node as the virtual cluster sees it: same name, labels, taints and status. */
  private mirror(host: Node): Node {
    const status = structuredClone(host.status ?? {});
    if (this.options.clearImageStatus) status.images = [];
    return {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: host.metadata?.name ?? '', labels: { ...(host.metadata?.labels ?? {}), [MARKER_LABEL]: this.ctx.vclusterName }, annotations: {} },
      spec: { ...(host.spec?.taints ? { taints: host.spec.taints } : {}) },
      status,
    };
  }
}
