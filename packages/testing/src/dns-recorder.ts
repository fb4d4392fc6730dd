/**
 * Loaded into kubenest's own Node processes by tests (NODE_OPTIONS=--import): appends every host
 * name they ask the resolver for to the file named by KUBENEST_DNS_RECORD, one per line. The Go
 * components are watched the same way through GODEBUG=netdns=go+2 (see `loopbackOnlyEnv`).
 */
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';

const file = process.env['KUBENEST_DNS_RECORD'];
if (file) {
  const record = (hostname: unknown): void => appendFileSync(file, `${process.pid} ${String(hostname)}\n`);
  const lookup = dns.lookup;
  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    record(hostname);
    return (lookup as (...args: unknown[]) => unknown)(hostname, ...rest);
  }) as typeof dns.lookup;
  const promiseLookup = dns.promises.lookup;
  dns.promises.lookup = ((hostname: string, ...rest: unknown[]) => {
    record(hostname);
    return (promiseLookup as (...args: unknown[]) => unknown)(hostname, ...rest);
  }) as typeof dns.promises.lookup;
  for (const name of ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname', 'resolveSrv', 'resolveTxt'] as const) {
    const original = dns[name] as (...args: unknown[]) => unknown;
    (dns as unknown as Record<string, unknown>)[name] = (hostname: string, ...rest: unknown[]) => {
      record(hostname);
      return original(hostname, ...rest);
    };
  }
}
