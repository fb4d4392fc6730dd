import { CORE } from '@kubenest/kube';
import type { FromHostSyncer } from '@kubenest/sync';
import { importSyncer, type FromHostOptions } from '../from-host-configmaps/syncer.ts';
import type { Secret } from '../secrets/syncer.ts';

const SERVICE_ACCOUNT_TOKEN = 'kubernetes.io/service-account-token';

/** `sync.fromHost.secrets`: host Secrets copied into the virtual cluster, read-only there. */
export function fromHostSecretSyncer(options: FromHostOptions): FromHostSyncer<Secret> {
  const syncer = importSyncer<Secret>('from-host-secret', CORE['secrets']!, ['type', 'data', 'immutable'], options);
  return {
    ...syncer,
    async toVirtual(ctx, host) {
      const virtual = await syncer.toVirtual(ctx, host);
      // The virtual token controller would fill (or, lacking the service account, delete) a token Secret.
      if (virtual?.type === SERVICE_ACCOUNT_TOKEN) virtual.type = 'Opaque';
      return virtual;
    },
  };
}
