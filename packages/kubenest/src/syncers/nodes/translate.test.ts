import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ORIGINAL_TAINTS_ANNOTATION, desiredNodeSpec, fakeNode, fakeNodeConditions, fakeNodeTaints, kubeletAt, mirroredTaints, readOriginalTaints,
  writeOriginalTaints, type KubeletAddress, type Node, type Taint,
} from './translate.ts';

const notReady: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-11-30T10:00:00Z' };
const gpu: Taint = { key: 'gpu', value: 'true', effect: 'NoSchedule' };
const kubelet: KubeletAddress = { address: '127.0.0.1', port: 40123 };
const mine: Taint = { key: 'team', value: 'blue', effect: 'PreferNoSchedule' };

function hostNode(taints: Taint[], ready = 'True'): Node {
  return {
    metadata: { name: 'n1' },
    spec: { taints },
    status: { conditions: [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'KubeletReady' : 'NodeStatusUnknown', message: 'm', lastTransitionTime: '2026-11-30T09:00:00Z' }] },
  };
}

describe('virtual node taints', () => {
  it('a mirrored node drops the not-ready taint the apiserver put on it when the host node is ready', () => {
    assert.deepEqual(mirroredTaints([], [notReady], []), []);
  });

  it('a mirrored node keeps not-ready (and every state taint) while the host node has it', () => {
    assert.deepEqual(mirroredTaints([notReady, unreachable], [notReady], []), [notReady, unreachable]);
  });

  it('a mirrored node keeps host taints and taints added in the virtual cluster, and drops one the host lifted', () => {
    assert.deepEqual(mirroredTaints([gpu], [gpu, mine], [gpu]), [gpu, mine]);
    assert.deepEqual(mirroredTaints([], [gpu, mine], [gpu]), [mine]);
  });

  it('every state taint on a virtual node follows the host, not just not-ready', () => {
    for (const key of ['node.kubernetes.io/unreachable', 'node.kubernetes.io/memory-pressure', 'node.kubernetes.io/disk-pressure',
      'node.kubernetes.io/pid-pressure', 'node.kubernetes.io/network-unavailable', 'node.kubernetes.io/unschedulable']) {
      assert.deepEqual(mirroredTaints([], [{ key, effect: 'NoSchedule' }], []), [], key);
    }
  });

  it('a fake node shows the host node\'s state taints and no other host taint', () => {
    assert.deepEqual(fakeNodeTaints(hostNode([notReady, gpu]), [notReady]), [notReady]);
    assert.deepEqual(fakeNodeTaints(hostNode([gpu]), [notReady, mine]), [mine]);
    assert.deepEqual(fakeNodeTaints(undefined, [notReady]), [], 'a host node we cannot read: vCluster\'s untainted fake node');
  });

  it('the original-taints annotation reads what vCluster writes and round-trips', () => {
    const vclusterValue = JSON.stringify([JSON.stringify({ key: 'gpu', value: 'true', effect: 'NoSchedule' })]);
    assert.deepEqual(readOriginalTaints(vclusterValue), [gpu]);
    assert.deepEqual(readOriginalTaints(writeOriginalTaints([gpu, unreachable])), [gpu, unreachable]);
    assert.equal(writeOriginalTaints([]), undefined);
    assert.deepEqual(readOriginalTaints('not json'), []);
  });

  it('desiredNodeSpec remembers the host taints of a mirrored node and leaves a fake node\'s cordon alone', () => {
    const virtual: Node = { metadata: { name: 'n1', annotations: { [ORIGINAL_TAINTS_ANNOTATION]: writeOriginalTaints([gpu])! } }, spec: { taints: [gpu, notReady] } };
    const mirrored = desiredNodeSpec('mirror', { ...hostNode([]), spec: { unschedulable: true } }, virtual);
    assert.deepEqual(mirrored, { taints: [], unschedulable: true, originalTaints: undefined });
    const fake = desiredNodeSpec('fake', hostNode([notReady]), { metadata: { name: 'n1' }, spec: { unschedulable: true, taints: [] } });
    assert.deepEqual(fake, { taints: [notReady], unschedulable: true, originalTaints: undefined });
  });
});

describe('fake node conditions', () => {
  const now = '2026-11-30T12:00:00.000Z';

  it('are the kubelet\'s healthy four when the host node cannot be read', () => {
    const conditions = fakeNodeConditions(undefined, undefined, now);
    assert.deepEqual(conditions.map((c) => [c.type, c.status]), [['MemoryPressure', 'False'], ['DiskPressure', 'False'], ['PIDPressure', 'False'], ['Ready', 'True']]);
    assert.ok(conditions.every((c) => c.lastTransitionTime === now));
  });

  it('follow the host node\'s, with its transition time, and stay put while nothing but heartbeats changes', () => {
    const broken = fakeNodeConditions(hostNode([notReady], 'Unknown'), undefined, now);
    const ready = broken.find((c) => c.type === 'Ready')!;
    assert.deepEqual([ready.status, ready.reason, ready.lastTransitionTime], ['Unknown', 'NodeStatusUnknown', '2026-11-30T09:00:00Z']);
    assert.equal(broken.find((c) => c.type === 'MemoryPressure')?.status, 'False', 'a condition the host lacks keeps the fake value');
    const later = fakeNodeConditions(hostNode([notReady], 'Unknown'), broken, '2026-11-30T13:00:00.000Z');
    assert.deepEqual(later, broken);
  });

  it('a fake node made for a host node that is not ready says so from the start', () => {
    const node = fakeNode('n1', kubelet, 'v1.36.3', hostNode([notReady, gpu], 'False'), now);
    assert.deepEqual(node.spec?.taints, [notReady]);
    assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    assert.deepEqual(fakeNode('n1', kubelet, 'v1.36.3', undefined, now).spec, {});
  });

  it('a fake node\'s kubelet is kubenest\'s endpoint: its only InternalIP and its kubelet port', () => {
    const node = fakeNode('n1.example', kubelet, 'v1.36.3', undefined, now);
    assert.deepEqual(node.status?.addresses, [
      { type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'n1-example.nodes.vcluster.com' },
    ]);
    assert.deepEqual(node.status?.['daemonEndpoints'], { kubeletEndpoint: { Port: 40123 } });
  });

  it('a mirrored node\'s host InternalIPs give way to the endpoint; its other addresses stay', () => {
    const status = kubeletAt({
      addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.6' }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } }, images: [],
    }, kubelet);
    assert.deepEqual(status.addresses, [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'n1' }]);
    assert.deepEqual(status['daemonEndpoints'], { kubeletEndpoint: { Port: 40123 } });
    assert.deepEqual(status.images, []);
  });
});
