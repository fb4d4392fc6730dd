import { createHash } from 'node:crypto';

/** Longest name a host object may get: a DNS label. */
const MAX_NAME = 63;
/** Past MAX_NAME a name keeps this many characters, then "-" and ten hex digits of its sha256. */
const KEEP = 52;
const HASH_DIGITS = 10;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Joins parts with "-"; a result longer than 63 characters is cut to 52, followed by "-" and
 * the first ten hex digits of the sha256 of the whole, and any ".-" is then turned into "-".
 * Must stay bit-exact with vCluster: host objects created by either are found by this name.
 */
export function safeConcatName(...parts: string[]): string {
  const full = parts.join('-');
  if (full.length <= MAX_NAME) return full;
  return `${full.slice(0, KEEP)}-${sha256Hex(full).slice(0, HASH_DIGITS)}`.replaceAll('.-', '-');
}

/** Base-36 digits (0-9a-z) of a big-endian unsigned integer. */
function base36(bytes: Buffer): string {
  let value = BigInt(`0x${bytes.toString('hex')}`);
  if (value === 0n) return '0';
  let out = '';
  while (value > 0n) {
    out = '0123456789abcdefghijklmnopqrstuvwxyz'[Number(value % 36n)]! + out;
    value /= 36n;
  }
  return out;
}

/** Names of a virtual cluster's objects on the host, in single-namespace mode. */
export class NameTranslator {
  readonly vclusterName: string;
  readonly hostNamespace: string;

  constructor(vclusterName: string, hostNamespace: string) {
    this.vclusterName = vclusterName;
    this.hostNamespace = hostNamespace;
  }

  /** A namespaced virtual object's host name: `<name>-x-<namespace>-x-<vcluster>`, hashed past 63 characters. */
  hostName(name: string, namespace: string): string {
    return safeConcatName(name, 'x', namespace, 'x', this.vclusterName);
  }

  /** A cluster-scoped virtual object's host name (storage classes, priority classes, volumes). */
  hostNameCluster(name: string): string {
    return safeConcatName('vcluster', name, 'x', this.hostNamespace, 'x', this.vclusterName);
  }

  /** The 14-character form `v` + 13 base-36 digits, used where a name must be short. */
  hostNameShort(name: string, namespace: string): string {
    const digest = createHash('sha256').update(`${name}-x-${namespace}-x-${this.vclusterName}`).digest();
    return `v${base36(digest).slice(0, 13)}`;
  }

  /** The value of the managed-by marker on cluster-scoped host objects. */
  clusterMarker(): string {
    return safeConcatName(this.hostNamespace, 'x', this.vclusterName);
  }

  /** The Lease the syncer elects its leader on. */
  leaderLeaseName(): string {
    return safeConcatName('vcluster', this.vclusterName, 'controller');
  }

  /** The host Secret holding the virtual cluster's kubeconfig. */
  kubeconfigSecretName(): string {
    return `vc-${this.vclusterName}`;
  }
}
