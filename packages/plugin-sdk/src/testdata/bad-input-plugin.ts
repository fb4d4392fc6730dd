#!/usr/bin/env node
// A plugin written with the SDK that meets bad input, for test/integration/plugin-sdk-examples.test.ts:
// a ConfigMap hook that throws (refuse-*) or returns something that is not the object (weird-*),
// a CRD syncer whose CRD the host does not have, and an interceptor that throws.
import { plugin } from '../index.ts';

const p = await plugin.init();
p.hook({
  apiVersion: 'v1', kind: 'ConfigMap', name: 'picky',
  createPhysical: (cm) => {
    if (cm.metadata?.name?.startsWith('refuse')) throw new Error('ConfigMaps named refuse-* stay virtual');
    if (cm.metadata?.name?.startsWith('weird')) return 'not an object' as never;
  },
});
p.syncCrd({ apiVersion: 'example.loft.sh/v1', kind: 'Truck' });
p.intercept({
  name: 'broken',
  rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
  handle: () => { throw new Error('this interceptor always fails'); },
});
await p.start();
