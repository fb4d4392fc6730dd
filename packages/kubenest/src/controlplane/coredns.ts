import type { KubeObject, ResourceRef } from '@kubenest/kube';
import type { HookedClient } from '@kubenest/sync';

/** The image vCluster deploys (its e2e suite checks for this one). */
export const COREDNS_IMAGE = 'coredns/coredns:1.14.2';
const FIELD_MANAGER = 'kubenest';

const ref = (group: string, version: string, resource: string, kind: string, namespaced: boolean): ResourceRef => ({ group, version, resource, kind, namespaced });
const REFS: Record<string, ResourceRef> = {
  ServiceAccount: ref('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  ClusterRole: ref('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  ClusterRoleBinding: ref('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  ConfigMap: ref('', 'v1', 'configmaps', 'ConfigMap', true),
  Deployment: ref('apps', 'v1', 'deployments', 'Deployment', true),
  Service: ref('', 'v1', 'services', 'Service', true),
};

/** The objects of the virtual cluster's DNS, in kube-system, as vCluster deploys them. */
export function coreDnsManifests(clusterDomain: string): KubeObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const corefile = [
    '.:53 {',
    '    errors',
    '    health',
    '    ready',
    '    hosts /etc/coredns/NodeHosts {',
    '      ttl 60',
    '      reload 15s',
    '      fallthrough',
    '    }',
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    '      pods insecure',
    '      fallthrough in-addr.arpa ip6.arpa',
    '    }',
    '    prometheus :9153',
    '    forward . /etc/resolv.conf',
    '    cache 30',
    '    loop',
    '    loadbalance',
    '}',
  ].join('\n');
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: corefile, NodeHosts: '' } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            // CoreDNS resolves upstream through the node, not through itself.
            dnsPolicy: 'Default',
            containers: [{
              name: 'coredns', image: COREDNS_IMAGE, args: ['-conf', '/etc/coredns/Corefile'],
              ports: [
                { name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
              ],
              resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '1000m', memory: '170Mi' } },
              readinessProbe: { httpGet: { path: '/ready', port: 8181 } },
              livenessProbe: { httpGet: { path: '/health', port: 8080 } },
              volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
            }],
            volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }, { key: 'NodeHosts', path: 'NodeHosts' }] } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        ports: [
          { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
          { name: 'metrics', port: 9153, targetPort: 9153, protocol: 'TCP' },
        ],
      },
    },
  ];
}

/** Applies the DNS objects (server-side apply: idempotent, and a user's later changes to other fields stay). */
export async function deployCoreDns(virtual: HookedClient, clusterDomain: string): Promise<void> {
  for (const object of coreDnsManifests(clusterDomain)) {
    await virtual.resourceFor(REFS[object.kind ?? '']!).apply(object, { fieldManager: FIELD_MANAGER, force: true });
  }
}
