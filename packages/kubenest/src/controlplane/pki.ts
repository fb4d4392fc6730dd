import { X509Certificate as NodeX509 } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { writeFileAtomic } from './files.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
const LEAF_DAYS = 365;
/** Leaf certificates closer than this to expiry are re-issued at start-up. */
const RENEW_BEFORE_DAYS = 30;

export interface LeafSpec {
  /** File stem: writes `<name>.crt` and `<name>.key`. */
  name: string;
  commonName: string;
  organizations?: string[];
  server?: { dnsNames: string[]; ips: string[] };
  client?: boolean;
}

export interface PkiPaths {
  dir: string;
  caCert: string;
  caKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  cert(name: string): string;
  key(name: string): string;
}

export function pkiPaths(dir: string): PkiPaths {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
    cert: (name) => join(dir, `${name}.crt`),
    key: (name) => join(dir, `${name}.key`),
  };
}

/**
 * Makes sure a cluster's CA, service-account key pair and the given leaf certificates exist and
 * are valid. Existing material is kept (a restarted cluster keeps its identity); a leaf is issued
 * again only when it is missing, near expiry, or no longer matches its spec.
 * Every file is written with mode 0600.
 */
export async function ensurePki(dir: string, leaves: LeafSpec[]): Promise<PkiPaths> {
  const paths = pkiPaths(dir);
  const ca = await ensureCa(paths.caCert, paths.caKey, 'kubenest-ca');
  if (!existsSync(paths.serviceAccountKey) || !existsSync(paths.serviceAccountPub)) {
    const keys = await generateKeys();
    await writeFileAtomic(paths.serviceAccountKey, await privateKeyPem(keys.privateKey), 0o600);
    await writeFileAtomic(paths.serviceAccountPub, await publicKeyPem(keys.publicKey), 0o600);
  }
  for (const leaf of leaves) {
    if (!leafIsCurrent(paths, paths.caCert, leaf)) await issueLeaf(paths, leaf, ca);
  }
  return paths;
}

/** The front-proxy CA and the client certificate an authenticating proxy presents with it. */
export interface FrontProxyPki {
  caCert: string;
  clientCert: string;
  clientKey: string;
  /** The client certificate's CN: the apiserver's `--requestheader-allowed-names`. */
  clientName: string;
}

export const FRONT_PROXY_CLIENT = 'front-proxy-client';

/**
 * A second CA, only for the front proxy (kube-apiserver's `--requestheader-client-ca-file`), and
 * its one client certificate. Separate from the cluster CA as kubeadm keeps it: a user's client
 * certificate of the cluster CA can never pass as the proxy, whatever its CN.
 */
export async function ensureFrontProxyPki(dir: string): Promise<FrontProxyPki> {
  const paths = pkiPaths(dir);
  const caCert = join(dir, 'front-proxy-ca.crt');
  const ca = await ensureCa(caCert, join(dir, 'front-proxy-ca.key'), 'kubenest-front-proxy-ca');
  const leaf: LeafSpec = { name: FRONT_PROXY_CLIENT, commonName: FRONT_PROXY_CLIENT, client: true };
  if (!leafIsCurrent(paths, caCert, leaf)) await issueLeaf(paths, leaf, ca);
  return { caCert, clientCert: paths.cert(leaf.name), clientKey: paths.key(leaf.name), clientName: FRONT_PROXY_CLIENT };
}

interface Authority { certificate: x509.X509Certificate; privateKey: webcrypto.CryptoKey }

async function ensureCa(certFile: string, keyFile: string, commonName: string): Promise<Authority> {
  if (existsSync(certFile) && existsSync(keyFile)) {
    return {
      certificate: new x509.X509Certificate(readFileSync(certFile, 'utf8')),
      privateKey: await importPrivateKey(readFileSync(keyFile, 'utf8')),
    };
  }
  const keys = await generateKeys();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  // Key first: a CA certificate without its key on disk would be unusable after a crash.
  await writeFileAtomic(keyFile, await privateKeyPem(keys.privateKey), 0o600);
  await writeFileAtomic(certFile, certificate.toString('pem') + '\n', 0o600);
  return { certificate, privateKey: keys.privateKey };
}

async function issueLeaf(paths: PkiPaths, spec: LeafSpec, ca: Authority): Promise<void> {
  const keys = await generateKeys();
  const now = Date.now();
  const usages: string[] = [];
  if (spec.server) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (spec.client) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
  ];
  if (spec.server) {
    extensions.push(new x509.SubjectAlternativeNameExtension([
      ...spec.server.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...spec.server.ips.map((value) => ({ type: 'ip' as const, value })),
    ]));
  }
  const subject = [`CN=${spec.commonName}`, ...(spec.organizations ?? []).map((o) => `O=${o}`)].join(', ');
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.certificate.subject,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + LEAF_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    extensions,
  });
  await writeFileAtomic(paths.key(spec.name), await privateKeyPem(keys.privateKey), 0o600);
  await writeFileAtomic(paths.cert(spec.name), certificate.toString('pem') + '\n', 0o600);
}

function leafIsCurrent(paths: PkiPaths, caCert: string, spec: LeafSpec): boolean {
  if (!existsSync(paths.cert(spec.name)) || !existsSync(paths.key(spec.name))) return false;
  try {
    const cert = new NodeX509(readFileSync(paths.cert(spec.name)));
    if (!cert.verify(new NodeX509(readFileSync(caCert)).publicKey)) return false;
    if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) return false;
    if (!cert.subject.split('\n').includes(`CN=${spec.commonName}`)) return false;
    if (spec.server) {
      const sans = cert.subjectAltName ?? '';
      const wanted = [...spec.server.dnsNames.map((d) => `DNS:${d}`), ...spec.server.ips.map((ip) => `IP Address:${ip}`)];
      if (!wanted.every((entry) => sans.split(', ').includes(entry))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, true, ['sign']);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

async function publicKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('spki', key);
  return x509.PemConverter.encode(der, 'PUBLIC KEY') + '\n';
}
