// The vcluster-sdk e2e test plugin's interceptor in TypeScript: GET of any pod through the
// virtual cluster's front door answers a Pod named "definitelynotstuff".
import { plugin } from '@kubenest/plugin-sdk';

const p = await plugin.init();
p.intercept({
  name: 'testinterceptor',
  rules: [{ apiGroups: ['*'], resources: ['pods'], resourceNames: ['*'], verbs: ['get'] }],
  handle: (req, res) => res.object({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'definitelynotstuff', namespace: req.info.namespace },
    spec: { containers: [{ name: 'none', image: 'none' }] },
  }),
});
await p.start();
