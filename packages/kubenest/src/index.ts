export { BINARY_NAMES, BinariesError, cacheKey, checkCacheEntry, resolveBinaries, verifyCacheEntry } from './controlplane/binaries.ts';
export type { Binaries, BinaryName } from './controlplane/binaries.ts';
export { HOST_POD_CIDR, HOST_SERVICE_CIDR, HostCluster, HostClusterError, apiserverArgs, hostLayout, hostPkiLeaves, kineArgs, socketAccepts } from './controlplane/host-cluster.ts';
export { ensurePki } from './controlplane/pki.ts';
export { freePort } from './controlplane/ports.ts';
export type { HostClusterOptions, HostLayout } from './controlplane/host-cluster.ts';
export { readPids } from './controlplane/pids.ts';
export { Supervisor, ComponentStartError } from './controlplane/supervisor.ts';
export type { ComponentSpec, ComponentStatus } from './controlplane/supervisor.ts';
