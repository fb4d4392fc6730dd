import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import type { Caller } from './types.ts';

/**
 * Authentication as the kube-apiserver does it, for the front door: who a request is from, and
 * the headers that tell the apiserver so when the front door forwards it (request-header
 * authentication, the apiserver's `--requestheader-*` flags).
 */

export const AUTHENTICATED = 'system:authenticated';

/** The user of a verified client certificate: CN the name, each O a group (the apiserver's x509 authenticator). */
export function callerFromCertificate(cert: Pick<PeerCertificate, 'subject'>): Caller | undefined {
  const subject = cert.subject as unknown as Record<string, string | string[] | undefined> | undefined;
  const cn = subject?.['CN'];
  const user = Array.isArray(cn) ? cn[0] : cn;
  if (!user) return undefined;
  const o = subject?.['O'];
  const organizations = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return { user, groups: withAuthenticated(organizations), extra: {} };
}

/** Every authenticated caller is in `system:authenticated`, as the apiserver adds it. */
export function withAuthenticated(groups: string[]): string[] {
  return groups.includes(AUTHENTICATED) ? groups : [...groups, AUTHENTICATED];
}

/** The bearer token of an `Authorization` header, if it carries one (see also websocketBearerToken). */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/**
 * The apiserver's WebSocket token: a browser cannot set `Authorization` on a WebSocket, so it
 * sends the token as a subprotocol `base64url.bearer.authorization.k8s.io.<token, base64url>`.
 */
const WEBSOCKET_BEARER = 'base64url.bearer.authorization.k8s.io.';

export function websocketBearerToken(headers: IncomingHttpHeaders): string | undefined {
  if (headers.upgrade?.toLowerCase() !== 'websocket') return undefined;
  const entry = websocketProtocols(headers).find((p) => p.startsWith(WEBSOCKET_BEARER));
  if (!entry) return undefined;
  const token = Buffer.from(entry.slice(WEBSOCKET_BEARER.length), 'base64url').toString('utf8');
  return token.length > 0 ? token : undefined;
}

function websocketProtocols(headers: IncomingHttpHeaders): string[] {
  return (headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

/** A TokenReview's answer (`status`), the part the front door reads. */
export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}

export interface TokenAuthenticatorOptions {
  /** Sends a TokenReview for the token to the apiserver and returns its status. */
  review: (token: string) => Promise<TokenReviewStatus>;
  /** How long an answer is reused; default 10 s. */
  ttlMs?: number;
  /** Answers kept at most (the oldest go first); default 4096. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Bearer tokens checked with a TokenReview against the virtual apiserver, which knows every kind
 * of token it accepts (service-account, bootstrap). Answers, refusals included, are kept briefly
 * by the token's SHA-256, so a client's burst costs one review; concurrent first uses share one.
 */
export class TokenAuthenticator {
  private readonly cache = new Map<string, { caller: Caller | undefined; expires: number }>();
  private readonly pending = new Map<string, Promise<Caller | undefined>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly review: (token: string) => Promise<TokenReviewStatus>;

  constructor(options: TokenAuthenticatorOptions) {
    this.review = options.review;
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 4096;
    this.now = options.now ?? Date.now;
  }

  /** The caller the token belongs to, or undefined when the apiserver does not accept it. A failed review throws. */
  async authenticate(token: string): Promise<Caller | undefined> {
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.cache.get(key);
    if (cached && cached.expires > this.now()) return cached.caller;
    if (cached) this.cache.delete(key);
    let answer = this.pending.get(key);
    if (!answer) {
      answer = this.review(token).then((status) => {
        const caller = callerFromTokenReview(status);
        this.remember(key, caller);
        return caller;
      }).finally(() => this.pending.delete(key));
      this.pending.set(key, answer);
    }
    return answer;
  }

  get size(): number {
    return this.cache.size;
  }

  private remember(key: string, caller: Caller | undefined): void {
    this.cache.delete(key);
    while (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(key, { caller, expires: this.now() + this.ttlMs });
  }
}

export function callerFromTokenReview(status: TokenReviewStatus): Caller | undefined {
  if (!status.authenticated || !status.user?.username) return undefined;
  return {
    user: status.user.username,
    groups: withAuthenticated(status.user.groups ?? []),
    uid: status.user.uid || undefined,
    extra: status.user.extra ?? {},
  };
}

/** Headers that never cross a proxy (RFC 9110 §7.6.1), plus any the Connection header names. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  return new Set((value ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/**
 * The headers of a request forwarded to the apiserver as from the front proxy: the caller's own,
 * without hop-by-hop headers (kept, for an upgrade, `Connection: Upgrade` and `Upgrade`), its
 * credentials (`Authorization`) and any identity headers it sent itself (`X-Remote-*`), plus the
 * identity the front door established. `Impersonate-*` headers pass on: the apiserver checks
 * that the caller may impersonate.
 */
export function forwardedRequestHeaders(incoming: IncomingHttpHeaders, caller: Caller, options: { upgrade?: boolean } = {}): OutgoingHttpHeaders {
  const out = endToEndHeaders(incoming, (lower) => lower === 'authorization' || lower === 'host' || lower.startsWith('x-remote-'));
  // The WebSocket token is a credential too: the other subprotocols go on.
  const protocols = websocketProtocols(incoming);
  if (protocols.some((p) => p.startsWith(WEBSOCKET_BEARER))) {
    const rest = protocols.filter((p) => !p.startsWith(WEBSOCKET_BEARER));
    if (rest.length > 0) out['sec-websocket-protocol'] = rest.join(', ');
    else delete out['sec-websocket-protocol'];
  }
  if (options.upgrade && incoming.upgrade) {
    out['connection'] = 'Upgrade';
    out['upgrade'] = incoming.upgrade;
  }
  out['x-remote-user'] = caller.user;
  if (caller.groups.length > 0) out['x-remote-group'] = caller.groups;
  for (const [key, values] of Object.entries(caller.extra)) {
    if (values.length > 0) out[`x-remote-extra-${escapeExtraKey(key)}`] = values;
  }
  return out;
}

/**
 * An extra key as a header name: characters a header name may not hold (`/` in
 * `authentication.kubernetes.io/credential-id`) and `%` percent-encoded, as client-go does; the
 * apiserver lower-cases and unescapes it.
 */
export function escapeExtraKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && c !== '%' && /[A-Za-z0-9!#$&'*+\-.^_`|~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The headers of the apiserver's answer passed back to the caller: all but hop-by-hop ones. */
export function forwardedResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  return endToEndHeaders(incoming);
}

/** The end-to-end headers (not hop-by-hop, not named by `Connection`), lower-cased, but those `drop` names. */
function endToEndHeaders(incoming: IncomingHttpHeaders, drop: (lower: string) => boolean = () => false): OutgoingHttpHeaders {
  const named = connectionTokens(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower) || drop(lower)) continue;
    out[lower] = value;
  }
  return out;
}
