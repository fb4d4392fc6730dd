/**
 * The kubelet API paths the kube-apiserver calls for a pod's logs, exec, attach and
 * port-forward, and the host API request each one becomes. Pure: no I/O.
 *
 * What the apiserver sends (k8s.io/kubernetes pkg/registry/core/pod/strategy.go):
 * - `/containerLogs/{namespace}/{pod}/{container}?follow&previous&timestamps&sinceSeconds&sinceTime&tailLines&limitBytes&stream`
 * - `/exec/{namespace}/{pod}[/{uid}]/{container}?command=...&input=1&output=1&error=1&tty=1`
 * - `/attach/{namespace}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1`
 * - `/portForward/{namespace}/{pod}[/{uid}]?port=...`
 */

export type KubeletVerb = 'log' | 'exec' | 'attach' | 'portforward';

/** A kubelet request about one pod of the virtual cluster. */
export interface KubeletRequest {
  verb: KubeletVerb;
  namespace: string;
  pod: string;
  /** The virtual pod's UID, where the apiserver sent one. */
  uid?: string | undefined;
  container?: string | undefined;
  query: URLSearchParams;
}

/** Why a path is not one this endpoint serves: the answer is 404 with this message. */
export interface NotServed {
  notServed: string;
}

const VERBS: Record<string, KubeletVerb> = { containerLogs: 'log', exec: 'exec', attach: 'attach', portForward: 'portforward' };

/** Parses a kubelet URL (path and query, as the request line carries it). */
export function parseKubeletPath(url: string): KubeletRequest | NotServed {
  const parsed = new URL(url, 'https://kubelet.invalid');
  let segments: string[];
  try {
    segments = parsed.pathname.split('/').slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return { notServed: `malformed path ${parsed.pathname}` };
  }
  const [first, ...rest] = segments;
  const verb = VERBS[first ?? ''];
  if (!verb || rest.some((s) => s === '')) {
    return { notServed: `${parsed.pathname} is not served here: this endpoint stands in for the kubelet only for /containerLogs, /exec, /attach and /portForward` };
  }
  const query = parsed.searchParams;
  const [namespace, pod] = rest;
  if (!namespace || !pod) return { notServed: `${parsed.pathname}: expected /${first}/{namespace}/{pod}...` };
  if (verb === 'portforward') {
    if (rest.length > 3) return { notServed: `${parsed.pathname}: expected /portForward/{namespace}/{pod}[/{uid}]` };
    return { verb, namespace, pod, uid: rest[2], query };
  }
  if (verb === 'log') {
    if (rest.length !== 3) return { notServed: `${parsed.pathname}: expected /containerLogs/{namespace}/{pod}/{container}` };
    return { verb, namespace, pod, container: rest[2], query };
  }
  if (rest.length === 3) return { verb, namespace, pod, container: rest[2], query };
  if (rest.length === 4) return { verb, namespace, pod, uid: rest[2], container: rest[3], query };
  return { notServed: `${parsed.pathname}: expected /${first}/{namespace}/{pod}[/{uid}]/{container}` };
}

/** Log options the pods/log subresource takes under the same names as the kubelet's query. */
const LOG_PARAMS = ['follow', 'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'tailLines', 'limitBytes', 'stream'];
/** The kubelet's stream flags and their names on the pods/exec and pods/attach subresources. */
const STREAM_PARAMS: Record<string, string> = { input: 'stdin', output: 'stdout', error: 'stderr', tty: 'tty' };

function flag(value: string): string {
  // The kubelet reads "1" and "true" (strconv.ParseBool); the API's boolean query parameters want "true".
  return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value) ? 'true' : 'false';
}

/** The host API path (with query) for a kubelet request on a pod the host knows as `hostNamespace/hostName`. */
export function hostApiPath(request: KubeletRequest, hostNamespace: string, hostName: string): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(hostNamespace)}/pods/${encodeURIComponent(hostName)}/${request.verb}`;
  const out = new URLSearchParams();
  if (request.container) out.append('container', request.container);
  if (request.verb === 'log') {
    for (const name of LOG_PARAMS) {
      for (const value of request.query.getAll(name)) out.append(name, ['follow', 'previous', 'timestamps'].includes(name) ? flag(value) : value);
    }
  } else if (request.verb === 'portforward') {
    for (const port of request.query.getAll('port')) out.append('ports', port);
  } else {
    for (const [kubelet, api] of Object.entries(STREAM_PARAMS)) {
      const value = request.query.get(kubelet);
      if (value !== null) out.append(api, flag(value));
    }
    if (request.verb === 'exec') for (const part of request.query.getAll('command')) out.append('command', part);
  }
  const query = out.toString();
  return query ? `${base}?${query}` : base;
}
