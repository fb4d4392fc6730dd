// The vcluster-sdk "bootstrap-with-deployment" example in TypeScript: once this replica leads,
// manifests/mydeployment.yaml is applied to the virtual cluster (again at every start: apply is idempotent).
import { plugin } from '@kubenest/plugin-sdk';

const p = await plugin.init();
p.onLeader(async () => {
  await p.apply('./manifests/mydeployment.yaml');
  p.log.info('applied manifests/mydeployment.yaml');
});
await p.start();
