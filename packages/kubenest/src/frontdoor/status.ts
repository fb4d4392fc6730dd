import type { ServerResponse } from 'node:http';

/** A Kubernetes `Status` of failure, as the apiserver sends it. */
export function statusObject(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Answers with a Status (JSON); a response already under way is cut instead. */
export function writeStatus(res: ServerResponse, code: number, status: Record<string, unknown>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(status);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
