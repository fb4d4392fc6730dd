import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeconfigError } from './kubeconfig.ts';
import type { RestConfig, TokenProvider } from './kubeconfig.ts';

/** Where the kubelet mounts a pod's service-account token, CA certificate and namespace. */
export const SERVICE_ACCOUNT_ROOT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Bound service-account tokens rotate: the file is read again after this long. */
const TOKEN_REREAD_MS = 60_000;

export interface InClusterOptions {
  /** The service-account directory; default /var/run/secrets/kubernetes.io/serviceaccount. */
  root?: string | undefined;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Milliseconds since the epoch; default Date.now. */
  now?: (() => number) | undefined;
}

/**
 * The config of a process running in a pod, or undefined when KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT are not both set (not in a cluster). Throws KubeconfigError when they
 * are set but the service-account token or CA certificate cannot be read.
 */
export function inClusterConfig(options: InClusterOptions = {}): RestConfig | undefined {
  const env = options.env ?? process.env;
  const host = env['KUBERNETES_SERVICE_HOST']?.trim();
  const port = env['KUBERNETES_SERVICE_PORT']?.trim();
  if (!host || !port) return undefined;
  const root = options.root ?? SERVICE_ACCOUNT_ROOT;
  const caFile = join(root, 'ca.crt');
  let caData: Buffer;
  try {
    caData = readFileSync(caFile);
  } catch (error) {
    throw new KubeconfigError(caFile, `cannot read the in-cluster CA certificate (${codeOf(error)}); KUBERNETES_SERVICE_HOST is set, so this looks like a pod: mount the service account (automountServiceAccountToken: true) or set KUBECONFIG`);
  }
  const tokenProvider = new ServiceAccountTokenProvider(join(root, 'token'), options.now ?? Date.now);
  tokenProvider.read(); // fail now, not at the first request, when the token is missing
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { server: `https://${hostPart}:${port}`, caData, tokenProvider };
}

/** The pod's namespace from `<root>/namespace`, or undefined when there is no such file. */
export function inClusterNamespace(root: string = SERVICE_ACCOUNT_ROOT): string | undefined {
  const file = join(root, 'namespace');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new KubeconfigError(file, `cannot read the pod's namespace (${code})`);
  }
  return text.trim() || undefined;
}

/** Reads the mounted token again once it is a minute old, and at once after invalidate(). */
class ServiceAccountTokenProvider implements TokenProvider {
  private readonly file: string;
  private readonly now: () => number;
  private current: string | undefined;
  private readAt = 0;

  constructor(file: string, now: () => number) {
    this.file = file;
    this.now = now;
  }

  token(): Promise<string | undefined> {
    // A read error becomes a rejection, not a synchronous throw.
    return Promise.resolve().then(() => {
      if (this.current === undefined || this.now() - this.readAt >= TOKEN_REREAD_MS) this.read();
      return this.current;
    });
  }

  invalidate(): void {
    this.current = undefined;
  }

  read(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      throw new KubeconfigError(this.file, `cannot read the service-account token (${codeOf(error)}); mount the service account (automountServiceAccountToken: true) or set KUBECONFIG`);
    }
    const token = text.trim();
    if (token === '') throw new KubeconfigError(this.file, 'the service-account token file is empty; the kubelet has not written it yet, or the mount is wrong');
    this.current = token;
    this.readAt = this.now();
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
