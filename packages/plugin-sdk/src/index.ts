// @kubenest/plugin-sdk: write vCluster plugins (protocol v2) in TypeScript. One entry point:
//   const p = await plugin.init(Type.Object({ port: Type.Number() }));
//   p.hook({ apiVersion: 'v1', kind: 'Pod', createPhysical: (pod) => { ... } });
//   await p.start();
export { plugin, NOT_A_COMMAND, type Plugin, type InitConfig, type InitOptions } from './plugin.ts';
export { HOOK_TYPES, HookRegistry, HookError, type Hook, type HookFn, type HookContext, type HookType, type HookMethod, type KubeObject, type ObjectOf, type ClientHookConfig } from './hooks.ts';
export { parsePluginConfig, PluginConfigError } from './config.ts';
export { type Log } from './log.ts';
export { Type, type Static, type TSchema } from '@sinclair/typebox';
