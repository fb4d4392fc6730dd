import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { inClusterConfig, SERVICE_ACCOUNT_ROOT } from './in-cluster.ts';
import { KubeconfigError, loadKubeconfig, readKubeconfigDocument, restConfigFromMergedKubeconfig } from './kubeconfig.ts';
import type { RestConfig } from './kubeconfig.ts';

export interface LoadRestConfigOptions {
  /** A kubeconfig file to use instead of KUBECONFIG and the defaults. */
  kubeconfig?: string | undefined;
  /** The context to use instead of current-context (kubeconfig sources only). */
  context?: string | undefined;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** The home directory holding .kube/config; default $HOME, then the OS's idea of it. */
  home?: string | undefined;
  /** The service-account directory for in-cluster config; default /var/run/secrets/kubernetes.io/serviceaccount. */
  inClusterRoot?: string | undefined;
}

const SECTIONS = ['clusters', 'users', 'contexts'] as const;

/**
 * Finds the config to use, in this order: the `kubeconfig` file; the files in KUBECONFIG, merged;
 * the pod's service account (in-cluster); `<home>/.kube/config`.
 */
export function loadRestConfig(options: LoadRestConfigOptions = {}): RestConfig {
  const env = options.env ?? process.env;
  if (options.kubeconfig) return loadKubeconfig(options.kubeconfig, options.context);

  const list = env['KUBECONFIG'] ?? '';
  const files = [...new Set(list.split(delimiter).filter((file) => file !== ''))];
  if (files.length > 0) return loadMerged(files, list, options.context);

  const root = options.inClusterRoot ?? SERVICE_ACCOUNT_ROOT;
  const inCluster = inClusterConfig({ root, env });
  if (inCluster) {
    if (options.context !== undefined) {
      throw new KubeconfigError('in-cluster config', `context "${options.context}" was asked for, but KUBECONFIG is not set and the in-cluster service account (${root}) has no contexts; set KUBECONFIG to a kubeconfig with that context or drop the context`);
    }
    return inCluster;
  }

  const homeConfig = join(options.home ?? (env['HOME'] || homedir()), '.kube', 'config');
  if (existsSync(homeConfig)) return loadKubeconfig(homeConfig, options.context);

  throw new KubeconfigError('kubeconfig', 'no cluster config found. Tried: '
    + 'KUBECONFIG (not set); '
    + 'in-cluster service account (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set); '
    + `${homeConfig} (does not exist). `
    + 'Set KUBECONFIG to a kubeconfig file or pass one explicitly');
}

/** Merges kubeconfig files as kubectl does: for each name the first file that defines it wins, and so does the first current-context. */
function loadMerged(files: string[], list: string, context: string | undefined): RestConfig {
  const present = files.filter((file) => existsSync(file));
  if (present.length === 0) {
    throw new KubeconfigError(`KUBECONFIG=${list}`, `none of its files exists (${files.join(', ')}); point KUBECONFIG at a kubeconfig file or unset it`);
  }
  const merged: Record<string, unknown> & Record<(typeof SECTIONS)[number], unknown[]> = { clusters: [], users: [], contexts: [] };
  const origins = new Map<string, string>();
  for (const file of present) {
    const doc = readKubeconfigDocument(file);
    if (doc === null || doc === undefined) continue; // an empty file adds nothing
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new KubeconfigError(file, 'not a kubeconfig (expected a YAML map)');
    const root = doc as Record<string, unknown>;
    const current = root['current-context'];
    if (merged['current-context'] === undefined && typeof current === 'string' && current !== '') merged['current-context'] = current;
    for (const section of SECTIONS) {
      const entries = root[section];
      if (entries === undefined || entries === null) continue;
      if (!Array.isArray(entries)) throw new KubeconfigError(file, `${section} must be a list of named entries`);
      for (const entry of entries as unknown[]) {
        const name = (entry as { name?: unknown } | null)?.name;
        if (typeof name !== 'string') continue;
        const key = `${section}/${name}`;
        if (origins.has(key)) continue;
        origins.set(key, file);
        merged[section].push(entry);
      }
    }
  }
  const label = present.length === 1 ? present[0]! : `${present.join(', ')} (merged from KUBECONFIG)`;
  return restConfigFromMergedKubeconfig(merged, label, context, origins);
}
