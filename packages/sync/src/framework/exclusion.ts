import type { KubeObject } from '@kubenest/kube';
import { CONTROLLER_LABEL } from '../translate/metadata.ts';

/**
 * Whether a syncer must leave an object alone, on either side. A `controlled-by` label (any
 * value) tells every syncer to keep off; the annotation of the same key claims the object for the
 * one syncer it names and keeps all others off. This is how vCluster lets plugins and other
 * controllers own objects.
 */
export function isExcluded(object: KubeObject, syncerName: string): boolean {
  if (object.metadata?.labels?.[CONTROLLER_LABEL]) return true;
  const claimedBy = object.metadata?.annotations?.[CONTROLLER_LABEL];
  return claimedBy !== undefined && claimedBy !== '' && claimedBy !== syncerName;
}
