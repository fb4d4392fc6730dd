// @kubenest/plugin-sdk: write vCluster plugins (protocol v2) in TypeScript. One entry point:
//   const p = await plugin.init(Type.Object({ port: Type.Number() }));
//   p.hook({ apiVersion: 'v1', kind: 'Pod', createPhysical: (pod) => { ... } });
//   p.syncCrd({ apiVersion: 'example.loft.sh/v1', kind: 'Car' });
//   p.intercept({ name, rules, handle: (req, res) => res.object({...}) });
//   await p.start();
export { plugin, NOT_A_COMMAND, type Plugin, type InitConfig, type InitOptions } from './plugin.ts';
export { HOOK_TYPES, HookRegistry, HookError, type Hook, type HookFn, type HookContext, type HookType, type HookMethod, type KubeObject, type ObjectOf, type ClientHookConfig } from './hooks.ts';
export { parsePluginConfig, PluginConfigError } from './config.ts';
export { type Log } from './log.ts';
export {
  InterceptorError, InterceptorRegistry, STATUS_CODES, requestInfo, statusFailure,
  type InterceptedRequest, type Interceptor, type InterceptorResponse, type InterceptorRule, type RequestInfo, type StatusReason,
} from './interceptors.ts';
export { ClusterConfigError, CrdMissingError, applyManifestFile, clustersFrom, ensureCrdFromHost, type Clusters } from './clusters.ts';
export { copyContent, copyToHost, decideCopy, type SyncObject } from './syncers.ts';
// The framework's own syncer interfaces and helpers, the ones the built-in syncers use.
export {
  IMPORTED_BY_LABEL, IMPORTED_FROM_ANNOTATION, hostCopy, syncMetadata,
  type FromHostSyncer, type SyncContext, type SyncEvent, type SyncResult, type Syncer,
} from '@kubenest/sync';
export { CORE, isAlreadyExists, isNotFound, type KubeClient, type ResourceRef } from '@kubenest/kube';
export { Type, type Static, type TSchema } from '@sinclair/typebox';
