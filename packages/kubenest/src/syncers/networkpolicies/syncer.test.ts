import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MARKER_LABEL, MetadataTranslator, NAMESPACE_LABEL } from '@kubenest/sync';
import { hostNetworkPolicySpec, type NetworkPolicySpec } from './syncer.ts';

// The cases of vCluster's networkpolicies TestSync (vc name "suffix", namespace "test").
const meta = new MetadataTranslator('suffix', 'host-ns');
const NS = 'test';
const ports = [{ port: 32 }, { port: 1024, endPort: 2048 }, { port: 'namedport' }];
const base: NetworkPolicySpec = {
  podSelector: { matchLabels: { mykey: 'mylabel' }, matchExpressions: [{ key: 'secondkey', operator: 'In', values: ['label-A', 'label-B'] }] },
};
const hostBase: NetworkPolicySpec = {
  podSelector: {
    matchLabels: { mykey: 'mylabel', [NAMESPACE_LABEL]: NS, [MARKER_LABEL]: 'suffix' },
    matchExpressions: [{ key: 'secondkey', operator: 'In', values: ['label-A', 'label-B'] }],
  },
};
const withIngressPeer = (spec: NetworkPolicySpec, peer: object): NetworkPolicySpec => ({ ...spec, ingress: [{ ports, from: [peer] }] });

describe('network policy translation', () => {
  it('narrows the podSelector to the namespace and the virtual cluster', () => {
    assert.deepEqual(hostNetworkPolicySpec(meta, NS, base), hostBase);
    assert.deepEqual(hostNetworkPolicySpec(meta, NS, { podSelector: {} }), {
      podSelector: { matchLabels: { [NAMESPACE_LABEL]: NS, [MARKER_LABEL]: 'suffix' } },
    });
  });

  it('translates the colliding label keys in selectors', () => {
    const spec = hostNetworkPolicySpec(meta, NS, { podSelector: { matchLabels: { release: 'r' } } });
    assert.deepEqual(spec.podSelector?.matchLabels, { 'vcluster.loft.sh/label-suffix-x-a4d451ec23': 'r', [NAMESPACE_LABEL]: NS, [MARKER_LABEL]: 'suffix' });
  });

  it('keeps ipBlock peers and ports as they are', () => {
    const peer = { ipBlock: { cidr: '10.0.0.0/24', except: ['10.25.0.0/30'] } };
    assert.deepEqual(hostNetworkPolicySpec(meta, NS, withIngressPeer(base, peer)), withIngressPeer(hostBase, peer));
  });

  it('a pod peer without namespaceSelector means the policy\'s own namespace', () => {
    const spec = hostNetworkPolicySpec(meta, NS, withIngressPeer(base, { podSelector: { matchLabels: { 'random-key': 'value' } } }));
    assert.deepEqual(spec, withIngressPeer(hostBase, { podSelector: { matchLabels: { 'random-key': 'value', [MARKER_LABEL]: 'suffix', [NAMESPACE_LABEL]: NS } } }));
  });

  it('an empty namespaceSelector means every namespace of the virtual cluster', () => {
    const spec = hostNetworkPolicySpec(meta, NS, withIngressPeer(base, { podSelector: { matchLabels: { 'random-key': 'value' } }, namespaceSelector: {} }));
    assert.deepEqual(spec, withIngressPeer(hostBase, { podSelector: { matchLabels: { 'random-key': 'value', [MARKER_LABEL]: 'suffix' } } }));
  });

  it('turns namespaceSelector labels into ns-label keys on the pod selector; the host namespaceSelector stays unset', () => {
    const spec = hostNetworkPolicySpec(meta, NS, withIngressPeer(base, { podSelector: { matchLabels: { 'random-key': 'value' } }, namespaceSelector: { matchLabels: { nslabelkey: 'abc' } } }));
    assert.deepEqual(spec, withIngressPeer(hostBase, { podSelector: { matchLabels: {
      'random-key': 'value', 'vcluster.loft.sh/ns-label-suffix-x-994c938852': 'abc', [MARKER_LABEL]: 'suffix',
    } } }));
  });

  it('translates matchExpressions of both selectors, pod expressions first', () => {
    const spec = hostNetworkPolicySpec(meta, NS, withIngressPeer(base, {
      podSelector: { matchExpressions: [{ key: 'pod-expr-key', operator: 'Exists' }] },
      namespaceSelector: { matchExpressions: [{ key: 'ns-expr-key', operator: 'DoesNotExist' }] },
    }));
    assert.deepEqual(spec, withIngressPeer(hostBase, { podSelector: {
      matchLabels: { [MARKER_LABEL]: 'suffix' },
      matchExpressions: [
        { key: 'pod-expr-key', operator: 'Exists' },
        { key: 'vcluster.loft.sh/ns-label-suffix-x-d0e9fddeff', operator: 'DoesNotExist' },
      ],
    } }));
  });

  it('translates egress peers the same way and copies policyTypes', () => {
    const spec = hostNetworkPolicySpec(meta, NS, { ...base, policyTypes: ['Ingress', 'Egress'], egress: [{ ports, to: [{ podSelector: { matchLabels: { app: 'db' } } }] }] });
    assert.deepEqual(spec, {
      ...hostBase, policyTypes: ['Ingress', 'Egress'],
      egress: [{ ports, to: [{ podSelector: { matchLabels: { app: 'db', [NAMESPACE_LABEL]: NS, [MARKER_LABEL]: 'suffix' } } }] }],
    });
  });
});
