import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';

/** Everything needed to reach one cluster as one user. Secrets are held as bytes/strings, not paths. */
export interface RestConfig {
  server: string;
  caData?: Buffer | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
  clientCertData?: Buffer | undefined;
  clientKeyData?: Buffer | undefined;
  token?: string | undefined;
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new KubeconfigError(file, `cannot read the kubeconfig (${(error as NodeJS.ErrnoException).code ?? String(error)}); check the path or set KUBECONFIG`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new KubeconfigError(file, `not valid YAML: ${(error as Error).message}`);
  }
  return restConfigFromKubeconfig(doc, file, context);
}

export function restConfigFromKubeconfig(doc: unknown, file: string, context?: string): RestConfig {
  if (doc === null || typeof doc !== 'object') throw new KubeconfigError(file, 'not a kubeconfig (expected a YAML map)');
  const root = doc as Record<string, unknown>;
  const contextName = context ?? (typeof root['current-context'] === 'string' ? root['current-context'] : undefined);
  if (!contextName) throw new KubeconfigError(file, 'no current-context is set; pass a context name');
  const ctx = findNamed(root, 'contexts', contextName, file)['context'] as Record<string, unknown> | undefined;
  if (!ctx || typeof ctx['cluster'] !== 'string') throw new KubeconfigError(file, `context "${contextName}" names no cluster`);
  const cluster = findNamed(root, 'clusters', ctx['cluster'], file)['cluster'] as Record<string, unknown> | undefined;
  if (!cluster || typeof cluster['server'] !== 'string') throw new KubeconfigError(file, `cluster "${ctx['cluster']}" has no server`);
  const user = typeof ctx['user'] === 'string'
    ? (findNamed(root, 'users', ctx['user'], file)['user'] as Record<string, unknown> | undefined) ?? {}
    : {};
  const base = dirname(file);
  return {
    server: cluster['server'].replace(/\/+$/, ''),
    caData: bytes(cluster, 'certificate-authority', base, file),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    clientCertData: bytes(user, 'client-certificate', base, file),
    clientKeyData: bytes(user, 'client-key', base, file),
    token: typeof user['token'] === 'string'
      ? user['token']
      : bytes(user, 'tokenFile', base, file, false)?.toString('utf8').trim(),
  };
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
