import { CORE, isAlreadyExists, isNotFound, type KubeObject } from '@kubenest/kube';
import type { SyncContext } from '@kubenest/sync';
import { setting, type Values } from '../config/values.ts';
import { ensureVirtualClusterService } from '../syncers/kubernetes-service/syncer.ts';
import type { WorkloadSetup } from '../syncers/registry.ts';
import { deployCoreDns } from './coredns.ts';

/** The host service account host pods run as, as vCluster's chart names it. */
export function workloadServiceAccountName(values: Values, vclusterName: string): string {
  return (setting(values, ['controlPlane', 'advanced', 'workloadServiceAccount', 'name']) as string | undefined) ?? `vc-workload-${vclusterName}`;
}

/**
 * What running workloads needs once, before the syncers of any term: the host Service standing
 * for the virtual API, the host service account pods run as, and DNS in the virtual cluster.
 */
export async function prepareWorkloads(ctx: SyncContext, values: Values, apiPort: number): Promise<WorkloadSetup> {
  await ensureVirtualClusterService(ctx.host, ctx.hostNamespace, ctx.vclusterName, apiPort);
  const hostServiceAccount = workloadServiceAccountName(values, ctx.vclusterName);
  try {
    await ctx.host.resourceFor(CORE['serviceaccounts']!).create({
      metadata: { name: hostServiceAccount, namespace: ctx.hostNamespace, labels: { app: 'vcluster', release: ctx.vclusterName } },
      automountServiceAccountToken: false,
    });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  const clusterDomain = (setting(values, ['networking', 'advanced', 'clusterDomain']) as string | undefined) ?? 'cluster.local';
  const dns = setting(values, ['controlPlane', 'coredns', 'enabled']) !== false;
  if (dns) await deployCoreDns(ctx.virtual, clusterDomain);
  // Not an object: nothing for the hooks.
  const version = await ctx.virtual.unhooked.rest.get<{ gitVersion?: string }>('/version');
  return { hostServiceAccount, clusterDomain, dns, kubeletVersion: version.gitVersion ?? 'v0.0.0' };
}

/** Deletes what prepareWorkloads made on the host (the pods and the rest go by their marker label). */
export async function deleteWorkloadHostObjects(ctx: Pick<SyncContext, 'host' | 'hostNamespace' | 'vclusterName'>, values: Values): Promise<void> {
  for (const [ref, name] of [[CORE['services']!, ctx.vclusterName], [CORE['serviceaccounts']!, workloadServiceAccountName(values, ctx.vclusterName)]] as const) {
    try {
      await ctx.host.resourceFor<KubeObject>(ref).delete({ metadata: { name, namespace: ctx.hostNamespace } });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
