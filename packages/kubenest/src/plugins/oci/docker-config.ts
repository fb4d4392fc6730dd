/**
 * Registry credentials from the docker client's config file, as `docker login` writes it:
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. `auths` entries hold `auth`
 * (base64 of `user:password`), or `username`/`password`, or an `identitytoken` (an OAuth2 refresh
 * token). Credential helpers (`credsStore`, `credHelpers`) are not run: a registry whose
 * credentials live only in a helper is reported, and refused when it asks for credentials.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from './reference.ts';

export type RegistryAuth =
  /** No credentials for the registry in `configPath` (which may not exist). */
  | { kind: 'anonymous'; configPath: string }
  | { kind: 'basic'; username: string; password: string; source: string }
  | { kind: 'identity-token'; token: string; source: string }
  /** The credentials are kept by a credential helper, which kubenest does not run. */
  | { kind: 'helper'; helper: string; source: string };

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
      return { kind: 'helper', helper: `docker-credential-${helper}`, source: `credHelpers["${key}"] in ${configPath}` };
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
  // `docker login` with a credsStore leaves an empty `auths` entry: the secret is in the helper.
  if (typeof config.credsStore === 'string' && config.credsStore !== '' && entry !== undefined) {
    return { kind: 'helper', helper: `docker-credential-${config.credsStore}`, source: `credsStore in ${configPath}` };
  }
  return { kind: 'anonymous', configPath };
}
