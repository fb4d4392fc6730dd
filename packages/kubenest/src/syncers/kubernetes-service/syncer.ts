import { isDeepStrictEqual } from 'node:util';
import { CORE, isAlreadyExists, type KubeObject } from '@kubenest/kube';
import { ReconcileLoop, type HookedClient, type SyncContext } from '@kubenest/sync';

type ServicePort = { name?: string; port: number; targetPort?: number | string; protocol?: string; nodePort?: number };
type Service = KubeObject & { spec?: { clusterIP?: string; clusterIPs?: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string; ports?: ServicePort[]; type?: string } };
type Endpoints = KubeObject & { subsets?: { addresses?: { ip: string }[]; notReadyAddresses?: { ip: string }[]; ports?: ServicePort[] }[] };

/** Labels vCluster's chart gives the virtual cluster's own host Service. */
export function virtualClusterServiceLabels(name: string): Record<string, string> {
  return { app: 'vcluster', release: name };
}

/**
 * The host Service that stands for the virtual cluster's API (`<vc name>` in the host namespace,
 * as vCluster's chart names it): its ClusterIP is what virtual `default/kubernetes` and every
 * pod's KUBERNETES_SERVICE_HOST carry. Selector-less: the API server is a local process on
 * loopback, and Endpoints may not hold loopback addresses, so the host gives it none. Its target
 * port is the virtual cluster's front door (ADR 25), where pods' API calls belong.
 */
export async function ensureVirtualClusterService(host: HookedClient, hostNamespace: string, name: string, apiPort: number): Promise<Service> {
  // Server-side apply: idempotent, and fields others set (the ClusterIP) stay theirs.
  return host.resourceFor<Service>(CORE['services']!).apply({
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: hostNamespace, labels: virtualClusterServiceLabels(name) },
    spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, targetPort: apiPort, protocol: 'TCP' }] },
  }, { fieldManager: 'kubenest', force: true });
}

const KUBERNETES = 'default/kubernetes';

/**
 * Keeps virtual `default/kubernetes` pointing at what the host provides, as vCluster does: the
 * Service gets the host Service's ClusterIP (recreated, since a ClusterIP cannot change in place)
 * and ports; the Endpoints and EndpointSlice mirror the host Service's Endpoints, port `https`
 * only. Runs as its own loop with one key: the objects involved are few and fixed.
 */
export function kubernetesServiceLoop(ctx: SyncContext, onError?: (key: string, error: unknown) => void): ReconcileLoop {
  const hostServices = ctx.host.newInformer<Service>(CORE['services']!, { namespace: ctx.hostNamespace, fieldSelector: `metadata.name=${ctx.vclusterName}` });
  const hostEndpoints = ctx.host.newInformer<Endpoints>(CORE['endpoints']!, { namespace: ctx.hostNamespace, fieldSelector: `metadata.name=${ctx.vclusterName}` });
  const virtualServices = ctx.virtual.newInformer<Service>(CORE['services']!, { namespace: 'default', fieldSelector: 'metadata.name=kubernetes' });
  const virtualEndpoints = ctx.virtual.newInformer<Endpoints>(CORE['endpoints']!, { namespace: 'default', fieldSelector: 'metadata.name=kubernetes' });
  const hostKey = `${ctx.hostNamespace}/${ctx.vclusterName}`;

  const loop = new ReconcileLoop('kubernetes-service', async () => {
    const hostService = await hostServices.get(hostKey);
    const hostIp = hostService?.spec?.clusterIP;
    if (!hostService || !hostIp) return;
    const services = ctx.virtual.resourceFor<Service>(CORE['services']!);
    const ports = (hostService.spec?.ports ?? []).filter((p) => p.name !== 'kubelet').map(({ nodePort: _nodePort, ...port }) => port);
    const virtual = await virtualServices.get(KUBERNETES);
    if (!virtual || virtual.spec?.clusterIP !== hostIp) {
      if (virtual) await services.deleteExactly(virtual);
      try {
        await services.create({
          apiVersion: 'v1', kind: 'Service',
          metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
          spec: {
            type: 'ClusterIP', clusterIP: hostIp, clusterIPs: hostService.spec?.clusterIPs ?? [hostIp], ports,
            ...(hostService.spec?.ipFamilies ? { ipFamilies: hostService.spec.ipFamilies } : {}),
            ...(hostService.spec?.ipFamilyPolicy ? { ipFamilyPolicy: hostService.spec.ipFamilyPolicy } : {}),
          },
        });
      } catch (error) {
        // The virtual API server recreates its Service on its own schedule; look again.
        if (isAlreadyExists(error)) return { requeueAfterMs: 500 };
        throw error;
      }
    } else if (!isDeepStrictEqual(virtual.spec?.ports, ports)) {
      await services.update({ ...virtual, spec: { ...virtual.spec, ports } });
    }

    const subsets = ((await hostEndpoints.get(hostKey))?.subsets ?? []).map((subset) => ({
      ...(subset.addresses ? { addresses: subset.addresses.map((a) => ({ ip: a.ip })) } : {}),
      ...(subset.notReadyAddresses ? { notReadyAddresses: subset.notReadyAddresses.map((a) => ({ ip: a.ip })) } : {}),
      ports: (subset.ports ?? []).filter((p) => p.name === 'https'),
    })).filter((subset) => subset.ports.length > 0);
    const current = await virtualEndpoints.get(KUBERNETES);
    const endpoints = ctx.virtual.resourceFor<Endpoints>(CORE['endpoints']!);
    if (!current) {
      await endpoints.create({
        apiVersion: 'v1', kind: 'Endpoints',
        metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
        subsets,
      }).catch((error: unknown) => { if (!isAlreadyExists(error)) throw error; });
    } else if (!isDeepStrictEqual(current.subsets ?? [], subsets)) {
      await endpoints.update({ ...current, subsets });
    }
    return undefined;
  }, { workers: 1, ...(onError ? { onError } : {}) });
  loop.watch(hostServices, () => [KUBERNETES]);
  loop.watch(hostEndpoints, () => [KUBERNETES]);
  loop.watch(virtualServices, () => [KUBERNETES]);
  loop.watch(virtualEndpoints, () => [KUBERNETES]);
  return loop;
}
