// The vcluster-sdk "hooks" example in TypeScript: host pods get a label, host Services an extra
// port, and an otherwise unused Secret is synced.
import { plugin, CORE, isAlreadyExists } from '@kubenest/plugin-sdk';
import type { Service } from 'kubernetes-types/core/v1.js';

const p = await plugin.init();

const label = (pod: { metadata?: { labels?: Record<string, string> } }) => {
  pod.metadata = { ...pod.metadata, labels: { ...pod.metadata?.labels, 'created-by-plugin': 'pod-hook' } };
};
p.hook({ apiVersion: 'v1', kind: 'Pod', createPhysical: label, updatePhysical: label });

// The port goes on the host Service; GetVirtual shows vCluster's syncer the same port on the
// virtual one, so the syncer sees no difference to remove (users still see their own ports).
const withPluginPort = (svc: Service) => {
  const ports = svc.spec?.ports ?? [];
  if (!ports.some((x) => x.name === 'plugin' && x.port === 19000 && (x.protocol ?? 'TCP') === 'TCP')) {
    svc.spec = { ...svc.spec, ports: [...ports, { name: 'plugin', protocol: 'TCP', port: 19000 }] };
  }
};
p.hook({ apiVersion: 'v1', kind: 'Service', createPhysical: withPluginPort, getVirtual: withPluginPort });

// Secret default/test, made once this replica leads, reaches the host although nothing uses it:
// the syncer's view of it (GetVirtual) carries vCluster's force-sync annotation.
p.hook({
  apiVersion: 'v1', kind: 'Secret',
  getVirtual: (secret) => {
    if (secret.metadata?.namespace === 'default' && secret.metadata.name === 'test') {
      secret.metadata.annotations = { ...secret.metadata.annotations, 'vcluster.loft.sh/force-sync': 'true' };
    }
  },
});
p.onLeader(async () => {
  const secrets = p.virtual.resourceFor(CORE['secrets']!);
  await secrets.create({ metadata: { name: 'test', namespace: 'default' }, data: { 'my-data': btoa('my-data') } })
    .catch((error: unknown) => { if (!isAlreadyExists(error)) throw error; });
});

await p.start();
