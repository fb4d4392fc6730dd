/**
 * Registry credentials from the docker client's config file, as `docker login` writes it:
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. `auths` entries hold `auth`
 * (base64 of `user:password`), or `username`/`password`, or an `identitytoken` (an OAuth2 refresh
 * token). Credential helpers (`credsStore`, `credHelpers`) are run as docker runs them
 * (`docker-credential-<name> get`, the server on stdin), and only when the registry asks for
 * credentials, so a broken or absent helper does not stop anonymous pulls.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from './reference.ts';

export type RegistryAuth =
  /** No credentials for the registry in `configPath` (which may not exist). */
  | { kind: 'anonymous'; configPath: string }
  | { kind: 'basic'; username: string; password: string; source: string }
  | { kind: 'identity-token'; token: string; source: string }
  /** The credentials are kept by a credential helper (`docker-credential-<name>`), asked with `server`. */
  | { kind: 'helper'; helper: string; server: string; source: string };

export class DockerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerConfigError';
  }
}

interface AuthEntry { auth?: unknown; username?: unknown; password?: unknown; identitytoken?: unknown }
interface DockerConfig { auths?: Record<string, AuthEntry>; credsStore?: unknown; credHelpers?: Record<string, unknown> }

/** Where the docker config file is looked for: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'];
  return dir ? join(dir, 'config.json') : join(env['HOME'] ?? homedir(), '.docker', 'config.json');
}

/** `https://index.docker.io/v1/` -> `docker.io`; `http://host:5000/path` -> `host:5000`. */
export function normalizeConfigKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/** The credentials the config file holds for `registry` (as in the image reference: `docker.io`, `127.0.0.1:5000`). */
export function findRegistryAuth(registry: string, configPath: string = dockerConfigPath()): RegistryAuth {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'anonymous', configPath };
    throw new DockerConfigError(`cannot read the docker config file ${configPath}: ${(error as Error).message}`);
  }
  let config: DockerConfig;
  try {
    config = JSON.parse(text) as DockerConfig;
  } catch (error) {
    throw new DockerConfigError(`the docker config file ${configPath} is not valid JSON (${(error as Error).message}); fix it or point DOCKER_CONFIG at another directory`);
  }
  if (typeof config !== 'object' || config === null) throw new DockerConfigError(`the docker config file ${configPath} is not a JSON object`);
  const wanted = normalizeConfigKey(registry);

  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (normalizeConfigKey(key) === wanted && typeof helper === 'string') {
      return { kind: 'helper', helper: `docker-credential-${helper}`, server: key, source: `credHelpers["${key}"] in ${configPath}` };
    }
  }
  const keys = Object.keys(config.auths ?? {});
  // An exact key first (`127.0.0.1:5000`), then any spelling that names the same host.
  const key = keys.find((k) => k === registry) ?? keys.find((k) => normalizeConfigKey(k) === wanted);
  const entry = key !== undefined ? config.auths?.[key] : undefined;
  const source = `auths["${key}"] in ${configPath}`;
  if (entry && typeof entry === 'object') {
    if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') return { kind: 'identity-token', token: entry.identitytoken, source };
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new DockerConfigError(`${source}: "auth" is not base64 of "user:password"; run docker login again or write username and password`);
      return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { kind: 'basic', username: entry.username, password: entry.password, source };
    }
  }
  // `docker login` with a credsStore leaves an empty `auths` entry (or none): the secret is in the store.
  if (typeof config.credsStore === 'string' && config.credsStore !== '') {
    const server = key ?? (wanted === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry);
    return { kind: 'helper', helper: `docker-credential-${config.credsStore}`, server, source: `credsStore in ${configPath}` };
  }
  return { kind: 'anonymous', configPath };
}

/**
 * Asks a credential helper for the credentials of `auth.server`, as docker does. A helper that
 * knows none answers anonymous; a helper that is missing, fails or hangs (10 s) is an error.
 */
export function runCredentialHelper(auth: Extract<RegistryAuth, { kind: 'helper' }>, configPath: string, env: NodeJS.ProcessEnv = process.env): RegistryAuth {
  const ran = spawnSync(auth.helper, ['get'], { input: auth.server, encoding: 'utf8', timeout: 10_000, env });
  const named = `the credential helper ${auth.helper} (${auth.source})`;
  if (ran.error) {
    const code = (ran.error as NodeJS.ErrnoException).code;
    throw new DockerConfigError(code === 'ENOENT'
      ? `${named} is not on PATH; install it, or write the credentials into "auths" of ${configPath}`
      : `${named} failed: ${ran.error.message}`);
  }
  if (ran.status !== 0) {
    const said = `${ran.stdout}${ran.stderr}`.trim();
    if (/credentials not found/i.test(said)) return { kind: 'anonymous', configPath };
    throw new DockerConfigError(`${named} exited ${ran.status ?? ran.signal}: ${said.slice(0, 300)}`);
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(ran.stdout) as { Username?: unknown; Secret?: unknown };
  } catch {
    throw new DockerConfigError(`${named} printed something that is not JSON`);
  }
  if (typeof answer.Secret !== 'string' || answer.Secret === '') return { kind: 'anonymous', configPath };
  const source = `${auth.helper} (${auth.source})`;
  if (answer.Username === '<token>') return { kind: 'identity-token', token: answer.Secret, source };
  return { kind: 'basic', username: typeof answer.Username === 'string' ? answer.Username : '', password: answer.Secret, source };
}
