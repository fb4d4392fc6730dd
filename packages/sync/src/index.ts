export { NameTranslator, safeConcatName, sha256Hex } from './translate/names.ts';
export {
  CONTROLLER_LABEL, HOST_NAME_ANNOTATION, HOST_NAMESPACE_ANNOTATION, KIND_ANNOTATION, LABELS_TO_TRANSLATE, LABEL_PREFIX,
  MANAGED_ANNOTATIONS_ANNOTATION, MANAGED_LABELS_ANNOTATION, MARKER_LABEL, MetadataTranslator, NAMESPACE_ANNOTATION,
  NAMESPACE_LABEL, NAMESPACE_LABEL_PREFIX, NAME_ANNOTATION, UID_ANNOTATION, kindString,
} from './translate/metadata.ts';
export type { LabelSelector, Labels } from './translate/metadata.ts';
export { isExcluded } from './framework/exclusion.ts';
export { copyBidirectional, mergeBidirectional } from './framework/bidirectional.ts';
export { HookedClient, HookedInformer, HookedResource } from './framework/hooked-client.ts';
export type { Side } from './framework/hooked-client.ts';
export { SyncController } from './framework/controller.ts';
export type { SyncContext, SyncControllerStats, SyncEvent, SyncResult, Syncer } from './framework/controller.ts';
export { hostCopy, syncMetadata } from './framework/host-object.ts';
export { syncMetadataAndMaps } from './framework/data-fields.ts';
export { ReconcileLoop } from './framework/reconcile-loop.ts';
export type { ReconcileOutcome } from './framework/reconcile-loop.ts';
export { FromHostController, IMPORTED_BY_LABEL, IMPORTED_FROM_ANNOTATION, isImported, sameContent } from './framework/from-host.ts';
export type { FromHostControllerStats, FromHostSyncer } from './framework/from-host.ts';
export { ReferenceIndex } from './framework/references.ts';
export { HOOK_TYPES, NO_HOOKS } from './framework/hooks.ts';
export type { HookType, ObjectHooks } from './framework/hooks.ts';
