import { CORE, type KubeObject } from '@kubenest/kube';
import { hostCopy, syncMetadata, type SyncContext, type SyncEvent, type Syncer } from '@kubenest/sync';

export type ServiceAccount = KubeObject & {
  secrets?: unknown[];
  imagePullSecrets?: unknown[];
  automountServiceAccountToken?: boolean;
};

/**
 * Makes a host ServiceAccount inert: no token Secrets or pull Secrets of the virtual cluster's
 * (their names mean nothing on the host), and no host token mounted into pods that use it.
 * Returns whether anything changed.
 */
export function neuterHostServiceAccount(host: ServiceAccount): boolean {
  const changed = host.secrets !== undefined || host.imagePullSecrets !== undefined || host.automountServiceAccountToken !== false;
  delete host.secrets;
  delete host.imagePullSecrets;
  host.automountServiceAccountToken = false;
  return changed;
}

/**
 * ServiceAccounts to the host (`sync.toHost.serviceAccounts`), so host-side tooling that keys on
 * a pod's service account (IRSA-style annotations, for one) sees the tenant's. Labels and
 * annotations sync both ways. vCluster strips the three fields only when it creates the host
 * copy; here a host edit of them is also put back, so a host token never gets mounted by accident.
 */
export function serviceAccountSyncer(): Syncer<ServiceAccount> {
  return {
    name: 'serviceaccount',
    resource: CORE['serviceaccounts']!,
    toHost(ctx, virtual) {
      const host = hostCopy(ctx, virtual);
      neuterHostServiceAccount(host);
      return host;
    },
    sync(ctx: SyncContext, event: SyncEvent<ServiceAccount>) {
      const virtual = structuredClone(event.virtual);
      const host = structuredClone(event.host);
      const { virtualChanged, hostChanged: metadataChanged } = syncMetadata(ctx, { ...event, virtual, host });
      let hostChanged = metadataChanged;
      if (neuterHostServiceAccount(host)) hostChanged = true;
      return { ...(virtualChanged ? { virtual } : {}), ...(hostChanged ? { host } : {}) };
    },
  };
}
