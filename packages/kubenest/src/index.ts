export { BINARY_NAMES, BinariesError, cacheKey, checkCacheEntry, resolveBinaries, verifyCacheEntry } from './controlplane/binaries.ts';
export type { Binaries, BinaryName } from './controlplane/binaries.ts';
export { HOST_POD_CIDR, HOST_SERVICE_CIDR, HostCluster, hostPkiLeaves } from './controlplane/host-cluster.ts';
export { RunningControlPlane, clusterLayout } from './controlplane/control-plane.ts';
export type { ClusterLayout } from './controlplane/control-plane.ts';
export { ControlPlaneError, apiserverArgs, controllerManagerArgs, firstServiceIp, kineArgs, kineSocketPath, socketAccepts } from './controlplane/components.ts';
export { ensurePki } from './controlplane/pki.ts';
export { freePort } from './controlplane/ports.ts';
export type { HostClusterOptions } from './controlplane/host-cluster.ts';
export { isAlive, readPids } from './controlplane/pids.ts';
export { Supervisor, ComponentStartError } from './controlplane/supervisor.ts';
export type { ComponentSpec, ComponentStatus } from './controlplane/supervisor.ts';
export { VIRTUAL_CONTROLLERS, VirtualControlPlane } from './controlplane/virtual-control-plane.ts';
export type { VirtualControlPlaneOptions } from './controlplane/virtual-control-plane.ts';
export { FORCE_SYNC_ANNOTATION, configMapSyncer } from './syncers/configmaps/syncer.ts';
export type { ConfigMap, DataSyncerOptions } from './syncers/configmaps/syncer.ts';
export { secretSyncer } from './syncers/secrets/syncer.ts';
export type { Secret } from './syncers/secrets/syncer.ts';
export { ValuesError, loadValues, mergeValues, readValues } from './config/values.ts';
export type { Values, ValuesSource } from './config/values.ts';
export { ConfigError, validateValues } from './config/validate.ts';
export { PluginSchema, SyncSchema, VClusterValuesSchema } from './config/schema.ts';
export { serviceSyncer } from './syncers/services/syncer.ts';
export type { Service } from './syncers/services/syncer.ts';
export { endpointsSyncer } from './syncers/endpoints/syncer.ts';
export type { Endpoints } from './syncers/endpoints/syncer.ts';
export { eventSyncer, virtualEventMessage, virtualEventName } from './syncers/events/syncer.ts';
export type { Event } from './syncers/events/syncer.ts';
export { fromHostConfigMapSyncer } from './syncers/from-host-configmaps/syncer.ts';
export type { FromHostOptions } from './syncers/from-host-configmaps/syncer.ts';
export { FromHostMappings, mappingProblems } from './syncers/from-host-configmaps/mappings.ts';
export { fromHostSecretSyncer } from './syncers/from-host-secrets/syncer.ts';
export { INGRESS_SECRET_ANNOTATIONS, hostIngressSpec, hostSecretReference, ingressSyncer } from './syncers/ingresses/syncer.ts';
export type { Ingress, IngressSpec } from './syncers/ingresses/syncer.ts';
export { hostNetworkPolicySpec, networkPolicySyncer } from './syncers/networkpolicies/syncer.ts';
export type { NetworkPolicy, NetworkPolicySpec } from './syncers/networkpolicies/syncer.ts';
export { hostPodDisruptionBudgetSpec, podDisruptionBudgetSyncer } from './syncers/poddisruptionbudgets/syncer.ts';
export type { PodDisruptionBudget, PodDisruptionBudgetSpec } from './syncers/poddisruptionbudgets/syncer.ts';
export { neuterHostServiceAccount, serviceAccountSyncer } from './syncers/serviceaccounts/syncer.ts';
export type { ServiceAccount } from './syncers/serviceaccounts/syncer.ts';
export { MAX_USER_PRIORITY, hostPriorityClass, hostPriorityValue, priorityClassSyncer } from './syncers/priorityclasses/syncer.ts';
export type { PriorityClass } from './syncers/priorityclasses/syncer.ts';
export {
  BIND_COMPLETED_ANNOTATION, BOUND_BY_CONTROLLER_ANNOTATION, HOST_OWNED_ANNOTATIONS, SKIP_TRANSLATE_ANNOTATION, STORAGE_PROVISIONER_ANNOTATION,
  hostClaim, persistentVolumeClaimSyncer, syncClaim,
} from './syncers/persistentvolumeclaims/syncer.ts';
export type { PersistentVolumeClaim, PersistentVolumeClaimSyncerOptions } from './syncers/persistentvolumeclaims/syncer.ts';
export { FAKE_PV_LABEL, FAKE_PV_PROVISIONER, fakePersistentVolume, fakePersistentVolumes } from './syncers/fake-persistentvolumes/controller.ts';
export type { PersistentVolume } from './syncers/fake-persistentvolumes/controller.ts';
export {
  HOST_STORAGE_CLASS_SYNCER, decideStorageClass, labelsMatch, storageClassesFromHost, virtualStorageClass,
} from './syncers/storageclasses-from-host/controller.ts';
export type { StorageClass, StorageClassAction, StorageClassesFromHostOptions } from './syncers/storageclasses-from-host/controller.ts';
export { DEFAULT_STORAGE_CLASS, LOCAL_PROVISIONER, defaultStorageClass, quantityValue, startHostProvisioner, volumeFor } from './controlplane/host-provisioner.ts';
export type { HostProvisioner } from './controlplane/host-provisioner.ts';
