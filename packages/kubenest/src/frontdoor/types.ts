import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestInfo } from '@kubenest/kube';

export type { RequestInfo };
import type { Duplex } from 'node:stream';

/**
 * The contract between the front door's parts (issue 10): the authenticating proxy decides who
 * is calling and parses the request; handlers (plugin interceptors, the Services-in-one-request
 * handler) may answer before the request is forwarded to the virtual kube-apiserver.
 */

/** Who is calling, as the kube-apiserver's authenticators would have decided it. */
export interface Caller {
  user: string;
  groups: string[];
  uid?: string | undefined;
  extra: Record<string, string[]>;
}

/** A request the proxy has authenticated and parsed. */
export interface FrontDoorRequest {
  req: IncomingMessage;
  res: ServerResponse;
  caller: Caller;
  info: RequestInfo;
  /**
   * Set for an upgrade request (exec, attach, port-forward over SPDY or WebSocket): the caller's
   * raw socket and the bytes that came after its headers. `res` then writes onto that socket, for
   * a refusal; a handler that takes the upgrade itself uses the socket.
   */
  upgrade?: { socket: Duplex; head: Buffer } | undefined;
}

/**
 * Forwards a request to the virtual kube-apiserver as the caller (front-proxy headers), streaming
 * the answer to `res`; `body` replaces the request's own body when given (the request's stream
 * must then not have been read by anyone else).
 */
export type ForwardToApiserver = (request: FrontDoorRequest, body?: Buffer) => Promise<void>;

/** One part of the front door that may answer a request itself. */
export interface FrontDoorHandler {
  readonly name: string;
  /** True when the handler answered (or is answering) the request; false to pass it on untouched. */
  handle(request: FrontDoorRequest, forward: ForwardToApiserver): Promise<boolean>;
}
