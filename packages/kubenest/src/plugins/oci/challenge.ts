/**
 * WWW-Authenticate challenges (RFC 7235): `Bearer realm="https://auth.example/token",service="x",scope="repository:a/b:pull"`,
 * possibly several in one header (`Basic realm="r", Bearer realm="..."`). Scheme names are
 * compared case-insensitively and returned lower-case; parameter names lower-case; values unquoted.
 */

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const skipSpace = (): void => { while (i < header.length && /[\s,]/.test(header[i] ?? '')) i += 1; };
  const readToken = (): string => {
    const start = i;
    while (i < header.length && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i] ?? '')) i += 1;
    return header.slice(start, i);
  };
  /** An unquoted value: RFC 7235 allows only a token, but servers write URLs bare; read up to a comma or space. */
  const readBare = (): string => {
    const start = i;
    while (i < header.length && !/[\s,]/.test(header[i] ?? '')) i += 1;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    let value = '';
    i += 1; // opening quote
    while (i < header.length && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < header.length) i += 1;
      value += header[i];
      i += 1;
    }
    i += 1; // closing quote
    return value;
  };
  for (;;) {
    skipSpace();
    if (i >= header.length) break;
    const scheme = readToken();
    if (scheme === '') { i += 1; continue; } // not a token: skip the character rather than loop forever
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      while (i < header.length && /\s/.test(header[i] ?? '')) i += 1;
      const mark = i;
      const name = readToken();
      while (i < header.length && /\s/.test(header[i] ?? '')) i += 1;
      if (name === '' || header[i] !== '=') {
        i = mark; // not `name=`: the next challenge's scheme (token68 forms are not used by registries)
        break;
      }
      i += 1; // '='
      while (i < header.length && /\s/.test(header[i] ?? '')) i += 1;
      challenge.params[name.toLowerCase()] = header[i] === '"' ? readQuoted() : readBare();
      while (i < header.length && /\s/.test(header[i] ?? '')) i += 1;
      if (header[i] === ',') i += 1;
      else break;
    }
  }
  return challenges;
}
