#!/usr/bin/env node
// A plugin written with the SDK for plugin.test.ts: a config schema, a ConfigMap hook that refuses
// names starting with "refuse", leader-only work (which prints), a console.log after the handshake, and with
// prefix "bad-hook" a hook the SDK refuses, with "intercept" an interceptor.
import { plugin, Type } from '../index.ts';

const p = await plugin.init(Type.Object({ prefix: Type.String(), port: Type.Optional(Type.Number()) }));
p.hook({
  apiVersion: 'v1', kind: 'ConfigMap', name: 'stamp',
  createPhysical: (cm) => {
    if (cm.metadata?.name?.startsWith('refuse')) throw new Error('refused by test plugin');
    cm.data = { ...cm.data, prefix: p.config.prefix, cwd: process.cwd(), vcluster: p.init.vcluster.name ?? '' };
  },
});
// A mistake of the plugin's author: refused by p.hook(), which ends the plugin.
if (p.config.prefix === 'bad-hook') p.hook({ apiVersion: 'v1', kind: 'configmaps', createPhysical: () => {} });
p.onLeader(() => {
  p.log.info('leader work ran');
  // Once the host has opened GRPCStdio, stdout travels over it.
  console.log('printed once leading');
});
// With prefix "intercept", an interceptor answering every GET of a ConfigMap with one named by the prefix.
if (p.config.prefix === 'intercept') {
  p.intercept({
    name: 'cm', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    handle: (req, res) => res.object({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${p.config.prefix}-${req.info.name}` } }),
  });
}
console.log('printed after the handshake');
await p.start();
