// The vcluster-sdk "import-secrets" example in TypeScript: a host Secret in the virtual cluster's
// host namespace annotated vcluster.loft.sh/import=NAMESPACE/NAME is copied into the virtual
// cluster as NAMESPACE/NAME (the namespace made if missing), kept up to date, and removed when
// the host Secret or its annotation goes. The copy is the host's: a virtual edit is reverted.
import { plugin, CORE, type FromHostSyncer, type SyncObject } from '@kubenest/plugin-sdk';
import type { Secret } from 'kubernetes-types/core/v1.js';

const IMPORT = 'vcluster.loft.sh/import';
const IMPORTED = 'vcluster.loft.sh/imported';

const p = await plugin.init();
const importSecrets: FromHostSyncer<SyncObject<Secret>> = {
  name: 'import-secrets',
  hostResource: CORE['secrets']!,
  virtualResource: CORE['secrets']!,
  hostNamespaces: [p.sync.hostNamespace],
  hostLabelSelector: '!vcluster.loft.sh/managed-by', // not the copies the syncer made of virtual Secrets
  ownsCopies: true,
  namespaces: 'create',
  toVirtual(_ctx, host) {
    const target = host.metadata?.annotations?.[IMPORT];
    if (target === undefined) return undefined;
    const [namespace, name, ...rest] = target.split('/');
    if (!namespace || !name || rest.length) {
      p.log.warn(`host Secret ${host.metadata?.name}: ${IMPORT}=${JSON.stringify(target)} is not NAMESPACE/NAME; not imported`);
      return undefined;
    }
    const { [IMPORT]: _, ...annotations } = host.metadata?.annotations ?? {};
    return {
      apiVersion: 'v1', kind: 'Secret', type: host.type, data: host.data, immutable: host.immutable,
      metadata: { name, namespace, labels: host.metadata?.labels ?? {}, annotations: { ...annotations, [IMPORTED]: `${host.metadata?.namespace}/${host.metadata?.name}` } },
    };
  },
};
p.syncFromHost(importSecrets);
await p.start();
