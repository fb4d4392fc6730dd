import { CORE, type KubeObject } from '@kubenest/kube';
import { hostCopy, syncMetadataAndMaps, type Syncer } from '@kubenest/sync';
import { wantedOnHost, type DataSyncerOptions } from '../configmaps/syncer.ts';

export type Secret = KubeObject & { type?: string; data?: Record<string, string>; stringData?: Record<string, string> };

const SERVICE_ACCOUNT_TOKEN = 'kubernetes.io/service-account-token';

/**
 * Secrets to the host, as vCluster does: only those in use (or all, or forced), `data` merged
 * both ways. A service-account token Secret becomes Opaque on the host: the host's token
 * controller must not fill it with a token for the host's own service account.
 */
export function secretSyncer(options: DataSyncerOptions): Syncer<Secret> {
  return {
    name: 'secret',
    resource: CORE['secrets']!,
    wants: (_ctx, virtual) => wantedOnHost(options, virtual),
    toHost: (ctx, virtual) => {
      const host = hostCopy(ctx, virtual);
      if (host.type === SERVICE_ACCOUNT_TOKEN) host.type = 'Opaque';
      return host;
    },
    sync: (ctx, event) => syncMetadataAndMaps(ctx, event, ['data']),
  };
}
