import { HOOK_TYPES, type HookType } from '@kubenest/sync';

/** What `GetPluginConfig` returns (plugin-protocol.md §2.2). */
export interface PluginConfig {
  clientHooks: { apiVersion: string; kind: string; types: HookType[] }[];
  interceptors: Record<string, InterceptorRule[]>;
}

export interface InterceptorRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs?: string[];
}

/**
 * Parses and checks a plugin's `GetPluginConfig` answer as vCluster does: invalid JSON and a hook
 * without apiVersion or kind fail the start; empty type strings are skipped; type strings that are
 * not one of the 10 never fire (kept out). Interceptor rules are checked as in §4.5.
 */
export function parsePluginConfig(plugin: string, text: string): PluginConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`plugin "${plugin}": GetPluginConfig returned invalid JSON (${(error as Error).message}): ${JSON.stringify(text.slice(0, 200))}; it must return at least {}`, { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`plugin "${plugin}": GetPluginConfig returned ${JSON.stringify(text.slice(0, 200))}, expected a JSON object`);
  const raw = parsed as { clientHooks?: unknown; interceptors?: unknown };
  const clientHooks: PluginConfig['clientHooks'] = [];
  for (const hook of Array.isArray(raw.clientHooks) ? raw.clientHooks as Record<string, unknown>[] : []) {
    if (!hook?.['apiVersion']) throw new Error(`plugin "${plugin}": api version is empty in a client hook (${JSON.stringify(hook)})`);
    if (!hook['kind']) throw new Error(`plugin "${plugin}": kind is empty in a client hook (${JSON.stringify(hook)})`);
    const types = (Array.isArray(hook['types']) ? hook['types'] as unknown[] : []).filter((t): t is HookType => (HOOK_TYPES as readonly unknown[]).includes(t));
    if (typeof hook['apiVersion'] !== 'string' || typeof hook['kind'] !== 'string') throw new Error(`plugin "${plugin}": apiVersion and kind of a client hook must be strings (${JSON.stringify(hook)})`);
    clientHooks.push({ apiVersion: hook['apiVersion'], kind: hook['kind'], types });
  }
  const interceptors: Record<string, InterceptorRule[]> = {};
  if (raw.interceptors && typeof raw.interceptors === 'object') {
    for (const [handler, rules] of Object.entries(raw.interceptors as Record<string, unknown>)) {
      if (!Array.isArray(rules)) throw new Error(`plugin "${plugin}": interceptor ${handler}: expected a list of rules`);
      rules.forEach((rule: InterceptorRule, index) => {
        const problem = interceptorRuleProblem(rule);
        if (problem) throw new Error(`plugin "${plugin}": interceptor ${handler} rule ${index}: ${problem}`);
      });
      interceptors[handler] = rules as InterceptorRule[];
    }
  }
  return { clientHooks, interceptors };
}

/** vCluster's `validateInterceptor` (§4.5). */
export function interceptorRuleProblem(rule: InterceptorRule): string | undefined {
  const verbs = rule.verbs ?? [];
  if (verbs.length === 0) return 'verbs must not be empty';
  for (const [field, list] of [['verbs', verbs], ['resources', rule.resources ?? []], ['apiGroups', rule.apiGroups ?? []]] as const) {
    if (list.includes('*') && list.length > 1) return `"*" must stand alone in ${field}`;
  }
  if ((rule.nonResourceURLs ?? []).length === 0 && ((rule.resources ?? []).length === 0 || (rule.apiGroups ?? []).length === 0)) {
    return 'without nonResourceURLs, both resources and apiGroups must be set';
  }
  for (const url of rule.nonResourceURLs ?? []) {
    if (url.indexOf('*') !== -1 && url.indexOf('*') !== url.length - 1) return `nonResourceURL ${url}: "*" is allowed only as the last character`;
  }
  return undefined;
}

/**
 * Interceptor rules of several plugins that claim the same requests (§4.6), each conflict named
 * by both plugins. A `*` overlaps everything; rules without resourceNames claim every name.
 * (Stricter than vCluster in one case: a specific name after a name-less rule is refused too.)
 */
export function interceptorConflicts(plugins: { name: string; config: PluginConfig }[]): string[] {
  const claimed: { plugin: string; handler: string; key: string[] }[] = [];
  const problems: string[] = [];
  const overlaps = (a: string, b: string): boolean => a === '*' || b === '*' || a === b;
  for (const { name, config } of plugins) {
    for (const [handler, rules] of Object.entries(config.interceptors)) {
      for (const rule of rules) {
        const keys: string[][] = [];
        for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs ?? []) {
          for (const resourceName of (rule.resourceNames?.length ? rule.resourceNames : ['*'])) keys.push(['r', group, resource, verb, resourceName]);
        }
        for (const url of (rule.nonResourceURLs ?? []).filter(Boolean)) for (const verb of rule.verbs ?? []) keys.push(['u', url, verb]);
        for (const key of keys) {
          const clash = claimed.find((c) => c.key[0] === key[0] && (key[0] === 'u'
            ? c.key[1] === key[1] && c.key[2] === key[2]
            : c.key.slice(1).every((part, i) => overlaps(part, key[i + 1]!))));
          if (clash) problems.push(`interceptor rules conflict: plugin "${clash.plugin}" (${clash.handler}) and plugin "${name}" (${handler}) both claim ${key.slice(1).join(' ')}`);
          else claimed.push({ plugin: name, handler, key });
        }
      }
    }
  }
  return problems;
}
