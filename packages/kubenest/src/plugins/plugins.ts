import type { KubeClient } from '@kubenest/kube';
import { NO_HOOKS, type ObjectHooks } from '@kubenest/sync';
import type { PluginHost } from './host.ts';

/** A virtual cluster's plugins as the syncer uses them. With no plugins, every call is a no-op. */
export interface Plugins {
  /** The chain the syncer's hooked clients run on every read and write. */
  hooks: ObjectHooks;
  /**
   * A syncer's error for a virtual key: a plugin's refusal becomes a Warning event `PluginRefused`
   * on the virtual object, naming the plugin and its message (the syncer retries with backoff).
   */
  reportError(virtualKey: string, error: unknown, virtual: KubeClient): void;
  setLeader(): Promise<void>;
  endTerm(): Promise<void>;
  stop(): Promise<void>;
  host?: PluginHost | undefined;
}

export const NO_PLUGINS: Plugins = {
  hooks: NO_HOOKS,
  reportError: () => {},
  setLeader: () => Promise.resolve(),
  endTerm: () => Promise.resolve(),
  stop: () => Promise.resolve(),
};
