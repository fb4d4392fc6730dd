/**
 * `sync.fromHost.{configMaps,secrets}.mappings.byName`, as vCluster reads it. Keys name host
 * objects, values say where they go in the virtual cluster:
 *   "hostNs/name" -> "virtualNs/name"   one object (a value "virtualNs/*" keeps the name)
 *   "hostNs/*"    -> "virtualNs/*"      every object of a namespace, same names
 *   "/name"       -> "virtualNs/name"   one object of the virtual cluster's own host namespace
 *   ""            -> "virtualNs" or "virtualNs/*"   every object of that host namespace
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const KEY_FORMS = 'HOST_NAMESPACE/NAME, HOST_NAMESPACE/*, /NAME or "" (the virtual cluster\'s host namespace)';

export interface MappingProblem {
  key: string;
  message: string;
}

function namespaceProblem(namespace: string, what: string): string | undefined {
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) return `${what} "${namespace}" is not a valid namespace name (lower-case letters, digits and "-", at most 63)`;
  return undefined;
}

function nameProblem(name: string, what: string): string | undefined {
  if (name === '*') return undefined;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `${what} "${name}" is not a valid object name (a DNS subdomain: lower-case letters, digits, "-" and ".")`;
  return undefined;
}

/** Every problem with the entries of a `byName` map, one per entry at most; empty when all are well formed. */
export function mappingProblems(byName: Record<string, unknown>): MappingProblem[] {
  const problems: MappingProblem[] = [];
  for (const [key, value] of Object.entries(byName)) {
    const message = entryProblem(key, value);
    if (message) problems.push({ key, message });
  }
  return problems;
}

function entryProblem(key: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
  if (key === '') {
    const [namespace = '', name, ...rest] = value.split('/');
    if (rest.length > 0 || (name !== undefined && name !== '*')) return `expected VIRTUAL_NAMESPACE or VIRTUAL_NAMESPACE/* for the key "" (every object of the host namespace), got "${value}"`;
    return namespaceProblem(namespace, 'virtual namespace');
  }
  const keyParts = key.split('/');
  if (keyParts.length !== 2) return `expected a key of the form ${KEY_FORMS}, got "${key}"`;
  const [hostNamespace = '', hostName = ''] = keyParts;
  const valueParts = value.split('/');
  if (valueParts.length !== 2 || !valueParts[1]) return `expected a value of the form VIRTUAL_NAMESPACE/NAME or VIRTUAL_NAMESPACE/*, got "${value}"`;
  const [virtualNamespace = '', virtualName = ''] = valueParts;
  if (!hostName) return `expected a key of the form ${KEY_FORMS}, got "${key}" (no object name)`;
  if (hostName === '*' && virtualName !== '*') return `a key for a whole namespace ("${key}") needs a value of the form VIRTUAL_NAMESPACE/*, got "${value}"`;
  if (hostName === '*' && !hostNamespace) return `expected a key of the form ${KEY_FORMS}, got "${key}" (use "" for the whole host namespace)`;
  return (hostNamespace ? namespaceProblem(hostNamespace, 'host namespace') : undefined) ??
    nameProblem(hostName, 'host name') ?? namespaceProblem(virtualNamespace, 'virtual namespace') ?? nameProblem(virtualName, 'virtual name');
}

export interface VirtualTarget {
  namespace: string;
  name: string;
}

/**
 * A validated `byName` map, resolved against the virtual cluster's host namespace. Lookups follow
 * vCluster's order: the exact key, then the namespace wildcard, then `/name`, then `""`.
 */
export class FromHostMappings {
  private readonly byName: Record<string, string>;
  private readonly vclusterNamespace: string;

  /** Throws on the first malformed entry; validate config with `mappingProblems` first for all of them. */
  constructor(byName: Record<string, string>, vclusterNamespace: string) {
    const [problem] = mappingProblems(byName);
    if (problem) throw new Error(`mappings.byName["${problem.key}"]: ${problem.message}`);
    this.byName = { ...byName };
    this.vclusterNamespace = vclusterNamespace;
  }

  /** The host namespaces the mappings read from. */
  hostNamespaces(): string[] {
    const namespaces = new Set<string>();
    for (const key of Object.keys(this.byName)) {
      const namespace = key === '' ? '' : key.slice(0, key.indexOf('/'));
      namespaces.add(namespace || this.vclusterNamespace);
    }
    return [...namespaces].sort();
  }

  /** Where a host object goes in the virtual cluster, or undefined when no mapping names it. */
  virtualOf(hostNamespace: string, hostName: string): VirtualTarget | undefined {
    const split = (value: string): VirtualTarget => {
      const [namespace = '', name = '*'] = value.split('/');
      return { namespace, name: name === '*' ? hostName : name };
    };
    const exact = this.byName[`${hostNamespace}/${hostName}`];
    if (exact !== undefined) return split(exact);
    const wildcard = this.byName[`${hostNamespace}/*`];
    if (wildcard !== undefined) return split(wildcard);
    if (hostNamespace !== this.vclusterNamespace) return undefined;
    const own = this.byName[`/${hostName}`];
    if (own !== undefined) return split(own);
    const all = this.byName[''];
    if (all !== undefined) return split(all);
    return undefined;
  }
}
