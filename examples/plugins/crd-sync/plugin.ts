// The vcluster-sdk "crd-sync" example in TypeScript: Cars made in the virtual cluster get host
// copies under vCluster's names; the Car CRD comes from the host (manifests/crds.yaml).
import { plugin } from '@kubenest/plugin-sdk';

const p = await plugin.init();
p.syncCrd({ apiVersion: 'example.loft.sh/v1', kind: 'Car', name: 'car' });
await p.start();
