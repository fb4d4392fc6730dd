import { createHash } from 'node:crypto';
import type { KubeObject } from '@kubenest/kube';

export type Taint = { key: string; value?: string; effect: string; timeAdded?: string };
export type NodeCondition = {
  type: string; status: string; reason?: string; message?: string; lastHeartbeatTime?: string; lastTransitionTime?: string;
};
type Address = { type: string; address: string };
export type Node = KubeObject & {
  spec?: { taints?: Taint[]; unschedulable?: boolean; [k: string]: unknown };
  status?: { addresses?: Address[]; images?: unknown[]; conditions?: NodeCondition[]; [k: string]: unknown };
};

/** Where a virtual node's kubelet is reached: kubenest's kubelet endpoint of the virtual cluster (ADR 27). */
export interface KubeletAddress { address: string; port: number }

/**
 * A virtual node's status with kubenest's kubelet endpoint as its only InternalIP (the virtual
 * apiserver dials the first InternalIP, `--kubelet-preferred-address-types=InternalIP`) and its
 * kubelet port. The host's own kubelet address is never dialled from the virtual cluster.
 */
export function kubeletAt<S extends NonNullable<Node['status']>>(status: S, kubelet: KubeletAddress): S {
  const others = (status.addresses ?? []).filter((a) => a.type !== 'InternalIP');
  return { ...status, addresses: [{ type: 'InternalIP', address: kubelet.address }, ...others], daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } } };
}

export const FAKE_NODE_LABEL = 'vcluster.loft.sh/fake-node';
/** The host taints a mirrored node had last time, so one the host drops is dropped here too (vCluster's key and format). */
export const ORIGINAL_TAINTS_ANNOTATION = 'vcluster.loft.sh/original-taints';

/**
 * Taints Kubernetes itself keeps in step with a node's state: the apiserver puts `not-ready` on
 * every new node, and the node-lifecycle controller adds and lifts the others from the node's
 * conditions and `spec.unschedulable`. A virtual control plane runs no node-lifecycle controller
 * (as in vCluster), so nothing would ever lift them there: on a virtual node they are true exactly
 * when the host node has them.
 */
export const NODE_STATE_TAINTS: ReadonlySet<string> = new Set([
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
  'node.kubernetes.io/memory-pressure',
  'node.kubernetes.io/disk-pressure',
  'node.kubernetes.io/pid-pressure',
  'node.kubernetes.io/network-unavailable',
  'node.kubernetes.io/unschedulable',
  'node.cloudprovider.kubernetes.io/uninitialized',
]);

/** The conditions a fake node reports: the kubelet's four. */
const FAKE_CONDITIONS: readonly Omit<NodeCondition, 'lastHeartbeatTime' | 'lastTransitionTime'>[] = [
  { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
  { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
  { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
];

function sameTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && (a.value ?? '') === (b.value ?? '') && a.effect === b.effect;
}

/** The host node's state taints (see NODE_STATE_TAINTS), as they are. */
export function hostStateTaints(host: Node | undefined): Taint[] {
  return (host?.spec?.taints ?? []).filter((taint) => NODE_STATE_TAINTS.has(taint.key)).map((taint) => ({ ...taint }));
}

/** Reads ORIGINAL_TAINTS_ANNOTATION: a JSON list of taints, each JSON-encoded as vCluster writes it (or plain). */
export function readOriginalTaints(value: string | undefined): Taint[] {
  if (!value) return [];
  try {
    const list = JSON.parse(value) as unknown;
    if (!Array.isArray(list)) return [];
    return list.map((item) => (typeof item === 'string' ? JSON.parse(item) : item) as Taint).filter((t) => typeof t?.key === 'string');
  } catch {
    return []; // someone else's garbage: treat as "no host taints remembered"
  }
}

/** Writes ORIGINAL_TAINTS_ANNOTATION in vCluster's format, or undefined for none. */
export function writeOriginalTaints(taints: Taint[]): string | undefined {
  if (taints.length === 0) return undefined;
  return JSON.stringify(taints.map((t) => JSON.stringify({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect, ...(t.timeAdded ? { timeAdded: t.timeAdded } : {}) })));
}

/**
 * A mirrored node's taints: every host taint, plus the taints added in the virtual cluster
 * (kept, as vCluster keeps them), less those the host had last time and no longer has, and less
 * any state taint the host does not have (vCluster does this for `not-ready` only; the same
 * holds for every taint in NODE_STATE_TAINTS).
 */
export function mirroredTaints(host: Taint[], virtual: Taint[], previousHost: Taint[]): Taint[] {
  const out = host.map((t) => ({ ...t }));
  for (const taint of virtual) {
    if (out.some((t) => sameTaint(t, taint))) continue;
    if (previousHost.some((t) => sameTaint(t, taint))) continue; // the host lifted it
    if (NODE_STATE_TAINTS.has(taint.key)) continue; // only the host's state counts
    out.push({ ...taint });
  }
  return out;
}

/**
 * A fake node's taints: the host node's state taints (a host node that is really not ready, under
 * pressure or cordoned says so here too), plus the taints added in the virtual cluster that are not state
 * taints. vCluster clears them all, which hides a broken host node.
 */
export function fakeNodeTaints(host: Node | undefined, virtual: Taint[]): Taint[] {
  return mirroredTaints(hostStateTaints(host), virtual.filter((t) => !NODE_STATE_TAINTS.has(t.key)), []);
}

/**
 * A fake node's conditions: the host node's, where the host node can be read, else the kubelet's
 * healthy four. Heartbeats are not copied (they would cost a write per heartbeat and nothing
 * reads them without a node-lifecycle controller); `now` stamps new ones.
 */
export function fakeNodeConditions(host: Node | undefined, current: NodeCondition[] | undefined, now: string): NodeCondition[] {
  return FAKE_CONDITIONS.map((fake) => {
    const hostCondition = host?.status?.conditions?.find((c) => c.type === fake.type);
    const want = hostCondition
      ? { type: fake.type, status: hostCondition.status, reason: hostCondition.reason ?? '', message: hostCondition.message ?? '' }
      : { ...fake };
    const had = current?.find((c) => c.type === fake.type);
    if (had && had.status === want.status && (had.reason ?? '') === want.reason && (had.message ?? '') === want.message) return had;
    const transition = hostCondition?.lastTransitionTime ?? (had && had.status === want.status ? had.lastTransitionTime : undefined) ?? now;
    return { ...want, lastHeartbeatTime: now, lastTransitionTime: transition };
  });
}

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** A stable fake GUID per node, so a recreated fake node looks the same. */
function fakeGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The virtual node vCluster shows for a host node it does not expose: roomy, with the host
 * node's state (conditions, state taints) when the host node can be read, else Ready.
 */
export function fakeNode(name: string, kubelet: KubeletAddress, kubeletVersion: string, host?: Node, now = new Date().toISOString()): Node {
  const resources = { cpu: '16', memory: '32Gi', 'ephemeral-storage': '100Gi', pods: '110', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' };
  // vCluster's name for the node's kubelet; never resolved here (the apiserver prefers InternalIP).
  const addresses: Address[] = [{ type: 'Hostname', address: `${name.replaceAll('.', '-')}.nodes.vcluster.com` }];
  const taints = fakeNodeTaints(host, []);
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
    spec: taints.length > 0 ? { taints } : {},
    status: kubeletAt({
      capacity: resources, allocatable: resources,
      conditions: fakeNodeConditions(host, undefined, now),
      addresses,
      nodeInfo: {
        machineID: fakeGuid(`machine-${name}`), systemUUID: fakeGuid(`system-${name}`), bootID: fakeGuid(`boot-${name}`),
        kernelVersion: '6.0.0', osImage: 'Fake Kubernetes Image', containerRuntimeVersion: 'docker://20.10.0',
        kubeletVersion, kubeProxyVersion: kubeletVersion, operatingSystem: 'linux', architecture: arch(),
      },
    }, kubelet),
  };
}

/** What a virtual node's spec should be, given what it is: the taints (and, mirrored, the cordon) the rules above give. */
export function desiredNodeSpec(
  mode: 'fake' | 'mirror', host: Node | undefined, current: Node,
): { taints: Taint[]; unschedulable: boolean; originalTaints: string | undefined } {
  const virtualTaints = current.spec?.taints ?? [];
  if (mode === 'fake') {
    // A cordon is the virtual cluster's own business on a fake node; the host's shows as its taint.
    return { taints: fakeNodeTaints(host, virtualTaints), unschedulable: current.spec?.unschedulable === true, originalTaints: undefined };
  }
  const hostTaints = host?.spec?.taints ?? [];
  const previous = readOriginalTaints(current.metadata?.annotations?.[ORIGINAL_TAINTS_ANNOTATION]);
  return {
    taints: mirroredTaints(hostTaints, virtualTaints, previous),
    unschedulable: host?.spec?.unschedulable === true,
    originalTaints: writeOriginalTaints(hostTaints),
  };
}

/** Whether two taint lists hold the same taints, in any order. */
export function sameTaints(a: Taint[] | undefined, b: Taint[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((t) => y.some((u) => sameTaint(t, u)));
}
