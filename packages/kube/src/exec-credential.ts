import { execFile } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import type { TokenProvider } from './kubeconfig.ts';

/** The ExecCredential versions this provider speaks (v1alpha1 was removed from Kubernetes in v1.24). */
export const EXEC_API_VERSIONS: readonly string[] = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** `users[].user.exec` of a kubeconfig, as written there. */
export interface ExecConfig {
  apiVersion: string;
  command: string;
  args?: string[] | null | undefined;
  env?: { name: string; value: string }[] | null | undefined;
  installHint?: string | null | undefined;
  provideClusterInfo?: boolean | null | undefined;
  /** `Never`, `IfAvailable` (the default here) or `Always` (refused: a plugin never gets a terminal). */
  interactiveMode?: string | null | undefined;
}

/** What the plugin is told about the cluster when `provideClusterInfo` is true. */
export interface ExecClusterInfo {
  server: string;
  caData?: Buffer | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
  /** The cluster's `client.authentication.k8s.io/exec` extension, handed over as spec.cluster.config. */
  config?: unknown;
}

export interface ExecCredentialOptions {
  /** Names where the exec section came from in errors, e.g. `user "alice" in /home/alice/.kube/config`. */
  source?: string | undefined;
  /** A relative command containing a slash is resolved against this directory (the kubeconfig's). */
  baseDir?: string | undefined;
  cluster?: ExecClusterInfo | undefined;
  /** The environment the plugin's `env` entries are merged over; default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Milliseconds since the epoch; default Date.now. */
  now?: (() => number) | undefined;
  /** How long one run may take before it is killed; default 60 s. */
  timeoutMs?: number | undefined;
}

export interface ClientCertificate {
  /** PEM */
  cert: string;
  /** PEM */
  key: string;
}

export class ExecCredentialError extends Error {
  /** The message without the leading "where" part. */
  readonly detail: string;

  constructor(where: string, detail: string) {
    super(`${where}: ${detail}`);
    this.name = 'ExecCredentialError';
    this.detail = detail;
  }
}

interface Credential {
  token: string | undefined;
  certificate: ClientCertificate | undefined;
  /** Milliseconds since the epoch; undefined: valid until invalidated. */
  expiresAt: number | undefined;
}

/** A cached credential is used until this long before it expires. */
const EXPIRY_MARGIN_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const STDERR_LINES = 10;

/**
 * Runs a client-go credential plugin (`users[].user.exec`) and caches what it prints: the token
 * until shortly before status.expirationTimestamp (or until invalidate() when there is none), and
 * the client certificate from the same run. Concurrent callers share one run.
 */
export class ExecCredentialProvider implements TokenProvider {
  private readonly apiVersion: string;
  private readonly command: string;
  private readonly args: string[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly installHint: string | undefined;
  private readonly label: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private cached: Credential | undefined;
  private inflight: Promise<Credential> | undefined;
  private generation = 0;

  constructor(exec: ExecConfig, options: ExecCredentialOptions = {}) {
    const where = options.source ?? 'exec credential plugin';
    const problem = checkExecConfig(exec);
    if (problem) throw new ExecCredentialError(where, problem);
    this.apiVersion = exec.apiVersion;
    this.command = exec.command.includes('/') && !isAbsolute(exec.command) && options.baseDir !== undefined
      ? resolve(options.baseDir, exec.command)
      : exec.command;
    this.args = exec.args ?? [];
    this.installHint = typeof exec.installHint === 'string' && exec.installHint.trim() !== '' ? exec.installHint.trim() : undefined;
    this.label = `exec plugin "${exec.command}"${options.source ? ` for ${options.source}` : ''}`;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

    const spec: Record<string, unknown> = { interactive: false };
    if (exec.provideClusterInfo === true) {
      const cluster = options.cluster;
      if (!cluster) throw new ExecCredentialError(where, 'exec.provideClusterInfo is true, but no cluster was given to describe');
      const info: Record<string, unknown> = { server: cluster.server };
      if (cluster.tlsServerName) info['tls-server-name'] = cluster.tlsServerName;
      if (cluster.insecureSkipTlsVerify) info['insecure-skip-tls-verify'] = true;
      if (cluster.caData) info['certificate-authority-data'] = cluster.caData.toString('base64');
      if (cluster.config !== undefined) info['config'] = cluster.config;
      spec['cluster'] = info;
    }
    const execInfo = JSON.stringify({ apiVersion: exec.apiVersion, kind: 'ExecCredential', spec });
    const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
    for (const { name, value } of exec.env ?? []) env[name] = value;
    env['KUBERNETES_EXEC_INFO'] = execInfo;
    this.env = env;
  }

  async token(): Promise<string | undefined> {
    return (await this.credential()).token;
  }

  /** The client certificate the plugin printed (status.clientCertificateData/clientKeyData), running it if needed. */
  async certificate(): Promise<ClientCertificate | undefined> {
    return (await this.credential()).certificate;
  }

  invalidate(): void {
    this.cached = undefined;
    this.inflight = undefined;
    this.generation++;
  }

  private credential(): Promise<Credential> {
    const cached = this.cached;
    if (cached && (cached.expiresAt === undefined || this.now() < cached.expiresAt - EXPIRY_MARGIN_MS)) {
      return Promise.resolve(cached);
    }
    if (!this.inflight) {
      const generation = this.generation;
      const run: Promise<Credential> = this.run()
        .then((credential) => {
          // A run that started before invalidate() may carry the rejected credential: do not keep it.
          if (generation === this.generation) this.cached = credential;
          return credential;
        })
        .finally(() => {
          if (this.inflight === run) this.inflight = undefined;
        });
      this.inflight = run;
    }
    return this.inflight;
  }

  private async run(): Promise<Credential> {
    const { stdout, stderr, error } = await new Promise<{ stdout: string; stderr: string; error: ExecError | null }>((done) => {
      const child = execFile(this.command, this.args, {
        env: this.env,
        timeout: this.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT_BYTES,
        encoding: 'utf8',
        windowsHide: true,
      }, (err, out, errOut) => done({ stdout: out, stderr: errOut, error: err as ExecError | null }));
      // Never interactive: the plugin reads end-of-file if it asks for input.
      child.stdin?.on('error', () => { /* the plugin may exit before stdin closes */ });
      child.stdin?.end();
    });
    if (error) throw this.runError(error, stderr);
    return this.parse(stdout);
  }

  private runError(error: ExecError, stderr: string): ExecCredentialError {
    if (error.code === 'ENOENT') {
      const fix = this.installHint ?? 'install the plugin, put it on PATH, or fix users[].user.exec.command in the kubeconfig';
      return new ExecCredentialError(this.label, `command not found (${this.command}). ${fix}`);
    }
    if (error.code === 'EACCES') {
      return new ExecCredentialError(this.label, `${this.command} is not executable (EACCES); make it executable (chmod +x) or fix users[].user.exec.command`);
    }
    if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
      return new ExecCredentialError(this.label, `printed more than ${MAX_OUTPUT_BYTES} bytes; a credential plugin prints one ExecCredential object`);
    }
    const tail = lastLines(stderr);
    const stderrPart = tail ? `; stderr ends with:\n${tail}` : ' and printed nothing on stderr';
    if (error.killed && error.signal) {
      return new ExecCredentialError(this.label, `did not finish within ${this.timeoutMs / 1000} s and was killed${stderrPart}`);
    }
    if (typeof error.code === 'number') {
      return new ExecCredentialError(this.label, `exited with code ${error.code}${stderrPart}`);
    }
    if (error.signal) return new ExecCredentialError(this.label, `was killed by ${error.signal}${stderrPart}`);
    return new ExecCredentialError(this.label, `could not be run: ${error.message}`);
  }

  private parse(stdout: string): Credential {
    const fail = (detail: string): ExecCredentialError => new ExecCredentialError(this.label, `malformed output: ${detail}`);
    if (stdout.trim() === '') throw fail('stdout is empty; the plugin must print an ExecCredential JSON object');
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      // The output is not echoed: it may hold a secret.
      throw fail(`stdout is not JSON (${stdout.length} bytes); the plugin must print an ExecCredential JSON object`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('stdout is JSON but not an object');
    const object = parsed as Record<string, unknown>;
    if (object['kind'] !== 'ExecCredential') throw fail(`kind is ${JSON.stringify(object['kind'])}, expected "ExecCredential"`);
    if (object['apiVersion'] !== this.apiVersion) {
      throw fail(`apiVersion is ${JSON.stringify(object['apiVersion'])}, but exec.apiVersion in the kubeconfig is "${this.apiVersion}"; make them match`);
    }
    const status = object['status'];
    if (status === null || typeof status !== 'object' || Array.isArray(status)) {
      throw fail('status is missing; expected status.token or status.clientCertificateData and status.clientKeyData');
    }
    const fields = status as Record<string, unknown>;
    const text = (name: string): string | undefined => {
      const value = fields[name];
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value !== 'string') throw fail(`status.${name} is a ${typeof value}, expected a string`);
      return value;
    };
    const token = text('token');
    const cert = text('clientCertificateData');
    const key = text('clientKeyData');
    if ((cert === undefined) !== (key === undefined)) {
      throw fail(`status has ${cert ? 'clientCertificateData but no clientKeyData' : 'clientKeyData but no clientCertificateData'}; a certificate needs both`);
    }
    if (token === undefined && cert === undefined) {
      throw fail('status has neither token nor clientCertificateData and clientKeyData');
    }
    const expiration = text('expirationTimestamp');
    let expiresAt: number | undefined;
    if (expiration !== undefined) {
      expiresAt = Date.parse(expiration);
      if (!Number.isFinite(expiresAt)) throw fail(`status.expirationTimestamp ${JSON.stringify(expiration)} is not an RFC 3339 time`);
    }
    return { token, certificate: cert !== undefined && key !== undefined ? { cert, key } : undefined, expiresAt };
  }
}

type ExecError = Error & { code?: string | number | null; killed?: boolean; signal?: NodeJS.Signals | null };

/** Returns what is wrong with an exec section, or undefined. */
function checkExecConfig(exec: ExecConfig): string | undefined {
  const raw = exec as unknown as Record<string, unknown>;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'exec must be a map with apiVersion and command';
  const apiVersion = raw['apiVersion'];
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return `exec.apiVersion is missing; set it to ${EXEC_API_VERSIONS.join(' or ')}`;
  }
  if (!EXEC_API_VERSIONS.includes(apiVersion)) {
    return `exec.apiVersion "${apiVersion}" is not supported; use ${EXEC_API_VERSIONS.join(' or ')}`;
  }
  if (typeof raw['command'] !== 'string' || raw['command'].trim() === '') {
    return 'exec.command is missing; set it to the credential plugin\'s executable';
  }
  const args = raw['args'];
  if (args !== undefined && args !== null && (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string'))) {
    return 'exec.args must be a list of strings';
  }
  const env = raw['env'];
  if (env !== undefined && env !== null) {
    if (!Array.isArray(env)) return 'exec.env must be a list of {name, value} entries';
    for (const [index, entry] of env.entries()) {
      const item = entry as Record<string, unknown> | null;
      if (item === null || typeof item !== 'object' || typeof item['name'] !== 'string' || item['name'] === '' || typeof item['value'] !== 'string') {
        return `exec.env[${index}] must have a string name and a string value`;
      }
    }
  }
  const provide = raw['provideClusterInfo'];
  if (provide !== undefined && provide !== null && typeof provide !== 'boolean') return 'exec.provideClusterInfo must be true or false';
  const mode = raw['interactiveMode'];
  if (mode !== undefined && mode !== null && mode !== '') {
    if (mode === 'Always') {
      return 'exec.interactiveMode is "Always", but kubenest runs credential plugins without a terminal; '
        + 'set interactiveMode to "IfAvailable" or "Never" and log in with the plugin beforehand, or use a non-interactive credential';
    }
    if (mode !== 'Never' && mode !== 'IfAvailable') {
      return `exec.interactiveMode ${JSON.stringify(mode)} is not one of Never, IfAvailable, Always`;
    }
  }
  return undefined;
}

function lastLines(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-STDERR_LINES).join('\n').slice(-2000);
}
