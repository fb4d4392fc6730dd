export { FrontDoor, MAX_HEADER_BYTES, type FrontDoorOptions } from './proxy.ts';
export { TokenAuthenticator, type TokenReviewStatus } from './authn.ts';
export type { Caller, FrontDoorHandler, FrontDoorRequest, ForwardToApiserver, RequestInfo } from './types.ts';
export { InterceptorHandler, InterceptorTable, type PluginInterceptors } from './interceptors.ts';
export { ServiceCreateHandler, apiserverAsCaller } from './services.ts';
export { subjectAccessReviewer, type Authorizer } from './authorize.ts';
