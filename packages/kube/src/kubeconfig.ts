import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { ExecCredentialError, ExecCredentialProvider } from './exec-credential.ts';
import type { ExecConfig } from './exec-credential.ts';

/** Supplies bearer tokens that change over time (exec plugins, rotated service-account tokens). */
export interface TokenProvider {
  token(): Promise<string | undefined>;
  /** called after a 401 so the next token() fetches a fresh one */
  invalidate(): void;
  /** A client certificate and key (PEM) the provider supplies instead of a token; exec plugins may. */
  certificate?(): Promise<{ cert: string; key: string } | undefined>;
}

/** Everything needed to reach one cluster as one user. Secrets are held as bytes/strings, not paths. */
export interface RestConfig {
  server: string;
  caData?: Buffer | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
  clientCertData?: Buffer | undefined;
  clientKeyData?: Buffer | undefined;
  token?: string | undefined;
  /** Set instead of `token` when the token comes from a plugin or a file that rotates. */
  tokenProvider?: TokenProvider | undefined;
}

export class KubeconfigError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'KubeconfigError';
  }
}

interface NamedEntry { name?: unknown; [key: string]: unknown }

/** Reads a kubeconfig file and returns the config of the named context (default: current-context). */
export function loadKubeconfig(file: string, context?: string): RestConfig {
  return restConfigFromKubeconfig(readKubeconfigDocument(file), file, context);
}

/** Reads and parses a kubeconfig file without interpreting it. */
export function readKubeconfigDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new KubeconfigError(file, `cannot read the kubeconfig (${(error as NodeJS.ErrnoException).code ?? String(error)}); check the path or set KUBECONFIG`);
  }
  try {
    return parse(text) as unknown;
  } catch (error) {
    throw new KubeconfigError(file, `not valid YAML: ${(error as Error).message}`);
  }
}

export function restConfigFromKubeconfig(doc: unknown, file: string, context?: string): RestConfig {
  return restConfigFromMergedKubeconfig(doc, file, context, new Map());
}

/**
 * Like restConfigFromKubeconfig for a document merged from several files: `origins` maps
 * "clusters/<name>", "users/<name>" and "contexts/<name>" to the file that defined the entry, and
 * that file's directory anchors the entry's relative paths and names it in errors. Entries missing
 * from `origins` belong to `file`, which also labels errors about the document as a whole.
 */
export function restConfigFromMergedKubeconfig(doc: unknown, file: string, context: string | undefined, origins: ReadonlyMap<string, string>): RestConfig {
  if (doc === null || typeof doc !== 'object') throw new KubeconfigError(file, 'not a kubeconfig (expected a YAML map)');
  const root = doc as Record<string, unknown>;
  const contextName = context ?? (typeof root['current-context'] === 'string' ? root['current-context'] : undefined);
  if (!contextName) throw new KubeconfigError(file, 'no current-context is set; pass a context name');
  const ctx = findNamed(root, 'contexts', contextName, file)['context'] as Record<string, unknown> | undefined;
  const contextFile = origins.get(`contexts/${contextName}`) ?? file;
  if (!ctx || typeof ctx['cluster'] !== 'string') throw new KubeconfigError(contextFile, `context "${contextName}" names no cluster`);
  const clusterName = ctx['cluster'];
  const cluster = findNamed(root, 'clusters', clusterName, file)['cluster'] as Record<string, unknown> | undefined;
  const clusterFile = origins.get(`clusters/${clusterName}`) ?? file;
  if (!cluster || typeof cluster['server'] !== 'string') throw new KubeconfigError(clusterFile, `cluster "${clusterName}" has no server`);
  if (isSet(cluster['proxy-url'])) {
    // The URL is not repeated: it may carry proxy credentials.
    throw new KubeconfigError(clusterFile, `cluster "${clusterName}" sets proxy-url, but kubenest never connects through a proxy; remove proxy-url so the server is reached directly`);
  }
  const userName = typeof ctx['user'] === 'string' ? ctx['user'] : undefined;
  const user = userName !== undefined
    ? (findNamed(root, 'users', userName, file)['user'] as Record<string, unknown> | undefined) ?? {}
    : {};
  const userFile = (userName !== undefined ? origins.get(`users/${userName}`) : undefined) ?? file;
  if (isSet(user['username']) || isSet(user['password'])) {
    throw new KubeconfigError(userFile, `user "${userName}" sets username/password (basic auth), which kubenest does not support (Kubernetes removed it in v1.19); give the user a token, a client certificate or an exec credential plugin instead`);
  }
  const authProvider = user['auth-provider'];
  if (isSet(authProvider)) {
    const providerName = (authProvider as { name?: unknown } | null)?.name;
    const named = typeof providerName === 'string' ? ` "${providerName}"` : '';
    throw new KubeconfigError(userFile, `user "${userName}" uses auth-provider${named}, which kubenest does not support (client-go dropped auth providers in v1.26); switch the user to an exec credential plugin (for example kubelogin or gke-gcloud-auth-plugin)`);
  }

  const caData = bytes(cluster, 'certificate-authority', dirname(clusterFile), clusterFile);
  const insecureSkipTlsVerify = cluster['insecure-skip-tls-verify'] === true;
  const tlsServerName = typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined;
  const userBase = dirname(userFile);
  let tokenProvider: TokenProvider | undefined;
  if (isSet(user['exec'])) {
    const exec = user['exec'];
    if (typeof exec !== 'object' || Array.isArray(exec)) throw new KubeconfigError(userFile, `user "${userName}": exec must be a map with apiVersion and command`);
    try {
      tokenProvider = new ExecCredentialProvider(exec as ExecConfig, {
        source: `user "${userName}" in ${userFile}`,
        baseDir: userBase,
        cluster: { server: cluster['server'], caData, insecureSkipTlsVerify, tlsServerName, config: execExtension(cluster) },
      });
    } catch (error) {
      if (error instanceof ExecCredentialError) throw new KubeconfigError(userFile, `user "${userName}": ${error.detail}`);
      throw error;
    }
  }
  return {
    server: cluster['server'].replace(/\/+$/, ''),
    caData,
    insecureSkipTlsVerify,
    tlsServerName,
    clientCertData: bytes(user, 'client-certificate', userBase, userFile),
    clientKeyData: bytes(user, 'client-key', userBase, userFile),
    token: tokenProvider
      ? undefined
      : typeof user['token'] === 'string'
        ? user['token']
        : bytes(user, 'tokenFile', userBase, userFile, false)?.toString('utf8').trim(),
    ...(tokenProvider ? { tokenProvider } : {}),
  };
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** The cluster's extension named client.authentication.k8s.io/exec, which exec plugins receive as spec.cluster.config. */
function execExtension(cluster: Record<string, unknown>): unknown {
  const extensions = Array.isArray(cluster['extensions']) ? (cluster['extensions'] as NamedEntry[]) : [];
  return extensions.find((entry) => entry?.name === 'client.authentication.k8s.io/exec')?.['extension'];
}

function findNamed(root: Record<string, unknown>, list: string, name: string, file: string): NamedEntry {
  const entries = Array.isArray(root[list]) ? (root[list] as NamedEntry[]) : [];
  const found = entries.find((entry) => entry?.name === name);
  if (!found) {
    const known = entries.map((entry) => String(entry?.name)).join(', ') || 'none';
    throw new KubeconfigError(file, `no ${list.slice(0, -1)} named "${name}" (known: ${known})`);
  }
  return found;
}

/** Reads `<key>-data` (base64) or `<key>` (a path relative to the kubeconfig's directory). */
function bytes(section: Record<string, unknown>, key: string, base: string, file: string, hasDataForm = true): Buffer | undefined {
  const data = hasDataForm ? section[`${key}-data`] : undefined;
  if (typeof data === 'string') return Buffer.from(data, 'base64');
  const path = section[key];
  if (typeof path !== 'string') return undefined;
  const full = isAbsolute(path) ? path : resolve(base, path);
  try {
    return readFileSync(full);
  } catch (error) {
    throw new KubeconfigError(file, `${key} ${full} is unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
