export { FrontDoor, MAX_HEADER_BYTES, type FrontDoorOptions } from './proxy.ts';
export { TokenAuthenticator, type TokenReviewStatus } from './authn.ts';
export type { Caller, FrontDoorHandler, FrontDoorRequest, ForwardToApiserver, RequestInfo } from './types.ts';
