#!/usr/bin/env node
// A plugin written with the SDK that syncs a cluster-scoped custom resource (Garage, garage-crd.yaml)
// to the host, for test/integration/plugin-sdk-examples.test.ts.
import { plugin } from '../index.ts';

const p = await plugin.init();
p.syncCrd({ apiVersion: 'example.kubenest.dev/v1', kind: 'Garage' });
await p.start();
