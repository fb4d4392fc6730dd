import { STATUS_CODES, type ServerResponse } from 'node:http';

/** A `metav1.Status` failure, as the kube-apiserver answers it (clients print its message). */
export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  /** What the failure is about (the object's name, group and kind), when the apiserver says. */
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

export function failure(code: number, reason: string, message: string): StatusObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Answers with a Status; a response already under way is cut instead (its client sees the break). */
export function writeStatus(res: ServerResponse, status: StatusObject): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(status);
  res.writeHead(status.code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache, private' });
  res.end(body);
}

/**
 * A whole HTTP/1.1 response carrying a Status, for a socket that has no ServerResponse (a request
 * Node's parser refused); the connection is closed after it.
 */
export function rawStatusResponse(status: StatusObject): string {
  const body = JSON.stringify(status);
  return `HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\nCache-Control: no-cache, private\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export const UNAUTHORIZED = failure(401, 'Unauthorized', 'Unauthorized');
