/**
 * A small client for the OCI distribution API: pulls (`/v2/<name>/manifests/<ref>`,
 * `/v2/<name>/blobs/<digest>`) and, for `kubenest plugin build --push`, monolithic blob uploads and
 * manifest PUTs: the Bearer token dance (WWW-Authenticate challenge, token
 * endpoint, anonymous or with docker config credentials), Basic auth, redirects (credentials are
 * not carried to another host), and digest verification of everything it returns.
 * docs/adr/0020-oci-plugin-images.md says why this is ours rather than a library.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { parseChallenges } from './challenge.ts';
import { DockerConfigError, runCredentialHelper, type RegistryAuth } from './docker-config.ts';
import { MANIFEST_ACCEPT } from './manifest.ts';

export type RegistryErrorKind = 'unreachable' | 'auth' | 'not-found' | 'digest' | 'protocol';

export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  constructor(kind: RegistryErrorKind, message: string) {
    super(message);
    this.name = 'RegistryError';
    this.kind = kind;
  }
}

export interface RegistryClientOptions {
  /** `https://ghcr.io`, `http://127.0.0.1:5000`. */
  baseUrl: string;
  repository: string;
  auth: RegistryAuth;
  /** The docker config file the credentials came from (named in errors). */
  configPath: string;
  /** Connect timeout; the default is 15 s. */
  connectTimeoutMs?: number;
  /** Time allowed between response headers or body chunks; the default is 60 s. */
  idleTimeoutMs?: number;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

export interface FetchedManifest { body: Buffer; digest: string; contentType: string | undefined }

export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #agent: Agent;
  #authorization: string | undefined;

  constructor(options: RegistryClientOptions) {
    this.#options = options;
    const idle = options.idleTimeoutMs ?? 60_000;
    this.#agent = new Agent({ connect: { timeout: options.connectTimeoutMs ?? 15_000 }, headersTimeout: idle, bodyTimeout: idle });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** A manifest by tag or digest. By digest, the body must hash to it; by tag, to the registry's Docker-Content-Digest when it sends one. */
  async manifest(reference: string): Promise<FetchedManifest> {
    const path = `/v2/${this.#options.repository}/manifests/${reference}`;
    const what = `the manifest ${this.#options.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const response = await this.#get(path, { accept: MANIFEST_ACCEPT }, what);
    const body = await readLimited(response.body, MAX_MANIFEST_BYTES, what);
    const expected = reference.includes(':') ? reference : headerValue(response.headers['docker-content-digest']);
    const algorithm = expected?.split(':')[0] === 'sha512' ? 'sha512' : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    if (expected !== undefined && expected !== digest) {
      throw new RegistryError('digest', `${what} hashes to ${digest}, not ${expected}: refused (corrupted on the way or tampered with)`);
    }
    return { body, digest, contentType: headerValue(response.headers['content-type']) };
  }

  /**
   * Streams a blob into `file`, hashing as it goes; a blob whose size or digest differs from the
   * descriptor is refused (the caller removes the file). `onBytes` sees the running byte count.
   */
  async blob(digest: string, size: number, file: string, onBytes?: (bytes: number) => void): Promise<void> {
    const response = await this.#get(`/v2/${this.#options.repository}/blobs/${digest}`, {}, `the blob ${digest}`);
    const algorithm = digest.split(':')[0] === 'sha512' ? 'sha512' : 'sha256';
    const hash = createHash(algorithm);
    let bytes = 0;
    const verifier = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > size) { callback(new RegistryError('digest', `the blob ${digest} is longer than the ${size} bytes its manifest states: refused`)); return; }
        hash.update(chunk);
        onBytes?.(bytes);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(response.body, verifier, createWriteStream(file));
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      throw new RegistryError('unreachable', `downloading the blob ${digest} failed after ${bytes} of ${size} bytes: ${(error as Error).message}`);
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (bytes !== size) throw new RegistryError('digest', `the blob ${digest} ended after ${bytes} of the ${size} bytes its manifest states: refused`);
    if (actual !== digest) throw new RegistryError('digest', `the blob ${digest} hashes to ${actual}: refused (corrupted on the way or tampered with)`);
  }

  /** Whether the registry holds the blob (HEAD), so a push can skip it. */
  async hasBlob(digest: string): Promise<boolean> {
    const response = await this.#write('HEAD', `/v2/${this.#options.repository}/blobs/${digest}`, {}, undefined, [200, 404], `the blob ${digest}`);
    await response.body.dump();
    return response.statusCode === 200;
  }

  /** Uploads a blob in one go (POST an upload session, PUT its content with the digest). */
  async pushBlob(digest: string, content: Buffer): Promise<void> {
    const what = `uploading the blob ${digest}`;
    const started = await this.#write('POST', `/v2/${this.#options.repository}/blobs/uploads/`, { 'content-length': '0' }, undefined, [202], what);
    await started.body.dump();
    const location = headerValue(started.headers['location']);
    if (!location) throw new RegistryError('protocol', `${what}: the registry started an upload without a Location`);
    const url = new URL(location, this.#options.baseUrl);
    url.searchParams.set('digest', digest);
    const put = await this.#write('PUT', url.pathname + url.search, { 'content-type': 'application/octet-stream', 'content-length': String(content.length) }, content, [201], what, url.origin);
    await put.body.dump();
  }

  /** PUTs a manifest under a tag or digest; returns the digest the registry reports (or ours). */
  async pushManifest(reference: string, mediaType: string, body: Buffer): Promise<string> {
    const what = `pushing the manifest ${this.#options.repository}:${reference}`;
    const response = await this.#write('PUT', `/v2/${this.#options.repository}/manifests/${reference}`, { 'content-type': mediaType }, body, [201], what);
    await response.body.dump();
    return headerValue(response.headers['docker-content-digest']) ?? `sha256:${createHash('sha256').update(body).digest('hex')}`;
  }

  /** A write (or HEAD) with the auth dance: a 401 is answered once, then the request is sent again. */
  async #write(method: 'HEAD' | 'POST' | 'PUT', path: string, headers: Record<string, string>, body: Buffer | undefined, expected: number[], what: string, origin?: string): Promise<Dispatcher.ResponseData> {
    const url = new URL(path, origin ?? this.#options.baseUrl);
    for (let attempt = 0; ; attempt++) {
      const sent: Record<string, string> = { ...headers, 'user-agent': 'kubenest' };
      if (this.#authorization && url.origin === new URL(this.#options.baseUrl).origin) sent['authorization'] = this.#authorization;
      const response = await this.#send(url, method, sent, body);
      const status = response.statusCode;
      if (expected.includes(status)) return response;
      if (status === 401 && attempt === 0) {
        const challenge = headerValue(response.headers['www-authenticate']);
        await response.body.dump();
        this.#authorization = await this.#authorize(challenge ?? '', what);
        continue;
      }
      const text = (await readLimited(response.body, 64 * 1024, what).catch(() => Buffer.alloc(0))).toString('utf8');
      const detail = registryErrorText(text);
      if (status === 401 || status === 403) throw new RegistryError('auth', `${what}: the registry refused (HTTP ${status}${detail ? `: ${detail}` : ''})${this.#authHint()}`);
      if (status === 429 || status >= 500) throw new RegistryError('unreachable', `${what}: the registry answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
      throw new RegistryError('protocol', `${what}: the registry answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
    }
  }

  /** GET with the auth dance and redirects; returns a 200 response or throws a RegistryError. */
  async #get(path: string, headers: Record<string, string>, what: string): Promise<Dispatcher.ResponseData> {
    let url = new URL(path, this.#options.baseUrl);
    const origin = url.origin;
    let retriedAuth = false;
    for (let redirects = 0; ;) {
      const sameOrigin = url.origin === origin;
      const sent: Record<string, string> = { ...headers, 'user-agent': 'kubenest' };
      if (sameOrigin && this.#authorization) sent['authorization'] = this.#authorization;
      const response = await this.#send(url, 'GET', sent, undefined);
      const status = response.statusCode;
      if (status === 200) return response;
      if ([301, 302, 303, 307, 308].includes(status)) {
        await response.body.dump();
        const location = headerValue(response.headers['location']);
        if (!location || ++redirects > MAX_REDIRECTS) throw new RegistryError('protocol', `${what}: the registry redirected ${redirects > MAX_REDIRECTS ? 'too often' : 'without a Location'}`);
        url = new URL(location, url);
        continue;
      }
      if (status === 401 && sameOrigin && !retriedAuth) {
        const challenge = headerValue(response.headers['www-authenticate']);
        await response.body.dump();
        retriedAuth = true;
        this.#authorization = await this.#authorize(challenge ?? '', what);
        continue;
      }
      const text = (await readLimited(response.body, 64 * 1024, what).catch(() => Buffer.alloc(0))).toString('utf8');
      const detail = registryErrorText(text);
      if (status === 401 || status === 403) {
        throw new RegistryError('auth', `${what}: the registry refused access (HTTP ${status}${detail ? `: ${detail}` : ''})${this.#authHint()}`);
      }
      if (status === 404) throw new RegistryError('not-found', `${what}: not found in the registry (HTTP 404${detail ? `: ${detail}` : ''})`);
      if (status === 429 || status >= 500) throw new RegistryError('unreachable', `${what}: the registry answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
      throw new RegistryError('protocol', `${what}: the registry answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
    }
  }

  async #send(url: URL, method: 'GET' | 'HEAD' | 'POST' | 'PUT', headers: Record<string, string>, body: string | Buffer | undefined): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, { method, headers, body, dispatcher: this.#agent });
    } catch (error) {
      const err = error as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      const code = err.code ?? err.cause?.code;
      throw new RegistryError('unreachable', `cannot reach ${url.origin} (${code ? `${code}: ` : ''}${err.cause?.message ?? err.message})`);
    }
  }

  /** Answers a 401's challenge: a Bearer token from the realm, or Basic credentials. Returns the Authorization header. */
  async #authorize(header: string, what: string): Promise<string> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (this.#options.auth.kind === 'helper') {
      // Asked only now that the registry wants credentials.
      try {
        this.#options.auth = runCredentialHelper(this.#options.auth, this.#options.configPath);
      } catch (error) {
        if (error instanceof DockerConfigError) throw new RegistryError('auth', `${what}: the registry asks for credentials, and ${error.message}`);
        throw error;
      }
    }
    const auth = this.#options.auth;
    if (bearer) return `Bearer ${await this.#token(bearer.params, what)}`;
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (auth.kind !== 'basic') throw new RegistryError('auth', `${what}: the registry asks for a user name and password${this.#authHint()}`);
      return basicHeader(auth.username, auth.password);
    }
    throw new RegistryError('auth', `${what}: the registry answered 401 with a challenge kubenest cannot answer (${header === '' ? 'no WWW-Authenticate header' : header})`);
  }

  /** The token endpoint of a Bearer challenge (the distribution token spec; OAuth2 refresh tokens for identity tokens). */
  async #token(params: Record<string, string>, what: string): Promise<string> {
    const realm = params['realm'];
    if (!realm) throw new RegistryError('auth', `${what}: the registry's Bearer challenge names no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('auth', `${what}: the registry's Bearer realm "${realm}" is not a URL`);
    }
    const scope = params['scope'] ?? `repository:${this.#options.repository}:pull`;
    const auth = this.#options.auth;
    let response: Dispatcher.ResponseData;
    if (auth.kind === 'identity-token') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.token, client_id: 'kubenest', scope });
      if (params['service']) form.set('service', params['service']);
      response = await this.#send(url, 'POST', { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'kubenest' }, form.toString());
    } else {
      if (params['service']) url.searchParams.set('service', params['service']);
      url.searchParams.set('scope', scope);
      const headers: Record<string, string> = { 'user-agent': 'kubenest' };
      if (auth.kind === 'basic') headers['authorization'] = basicHeader(auth.username, auth.password);
      response = await this.#send(url, 'GET', headers, undefined);
    }
    const text = (await readLimited(response.body, 1024 * 1024, 'the token').catch(() => Buffer.alloc(0))).toString('utf8');
    if (response.statusCode === 401 || response.statusCode === 403) {
      throw new RegistryError('auth', `${what}: the token service ${url.origin}${url.pathname} refused ${auth.kind === 'anonymous' ? 'anonymous access' : 'the credentials'} (HTTP ${response.statusCode}${registryErrorText(text) ? `: ${registryErrorText(text)}` : ''})${this.#authHint()}`);
    }
    if (response.statusCode !== 200) throw new RegistryError(response.statusCode >= 500 ? 'unreachable' : 'auth', `${what}: the token service ${url.origin}${url.pathname} answered HTTP ${response.statusCode}`);
    let token: unknown;
    try {
      const json = JSON.parse(text) as { token?: unknown; access_token?: unknown };
      token = json.token ?? json.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '') throw new RegistryError('auth', `${what}: the token service ${url.origin}${url.pathname} sent no token`);
    return token;
  }

  #authHint(): string {
    const auth = this.#options.auth;
    const host = new URL(this.#options.baseUrl).host;
    return auth.kind === 'anonymous' ? `; ${auth.configPath} holds no credentials for ${host} (run docker login ${host}, or set DOCKER_CONFIG to a directory whose config.json does)`
      : auth.kind === 'helper' ? ''
      : ` (credentials from ${auth.source})`;
  }
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      body.destroy();
      throw new RegistryError('protocol', `${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The distribution spec's error body (`{"errors":[{"code","message"}]}`) as one line, or the first 200 characters of the text. */
export function registryErrorText(text: string): string {
  try {
    const json = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(json.errors) && json.errors.length > 0) return json.errors.map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ');
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}
