// The benchmark's no-op hook in TypeScript (bench/plugin-sdk.ts): ConfigMap CreatePhysical and
// UpdatePhysical hooks that change nothing, so the plugin answers mutated=false, as kntest does
// with `noop: true` (tools/test-plugins).
import { plugin } from '@kubenest/plugin-sdk';

const p = await plugin.init();
p.hook({ apiVersion: 'v1', kind: 'ConfigMap', createPhysical: () => {}, updatePhysical: () => {} });
await p.start();
