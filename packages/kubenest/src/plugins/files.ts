import { join } from 'node:path';

// Kept apart from the plugin host so that what only reads them (the CLI, the supervisor's
// clean-up) does not load gRPC (the host is loaded only when a virtual cluster has plugins).

/** What the plugin host writes for `kubenest plugins`: each plugin's state. */
export function pluginStatusFile(dataDir: string): string {
  return join(dataDir, 'plugins', 'status.json');
}

/** The plugin processes' pids, so that a supervisor that was killed has them ended by the next. */
export function pluginPidsFile(dataDir: string): string {
  return join(dataDir, 'run', 'plugin-pids.json');
}
