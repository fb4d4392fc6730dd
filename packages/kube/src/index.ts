export { ApiError, isAlreadyExists, isConflict, isNotFound } from './errors.ts';
export { KubeconfigError, loadKubeconfig, restConfigFromKubeconfig } from './kubeconfig.ts';
export type { RestConfig } from './kubeconfig.ts';
export { RestClient } from './rest-client.ts';
export type { KubeObject, RequestOptions } from './rest-client.ts';
