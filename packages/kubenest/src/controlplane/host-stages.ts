import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SOURCE_ROOT } from '../source-root.ts';

/** kubenest's own kwok stage files: every `*.yaml` in this folder, committed as source. */
export const KUBENEST_STAGES_DIR = join(SOURCE_ROOT, 'packages', 'kubenest', 'src', 'controlplane', 'kwok-stages');

/**
 * kwok's stages that ours replace (kwok picks at random among stages that match a pod, so a
 * replaced stage must not be loaded at all): our pod-lifecycle.yaml writes the kubelet's events
 * and condition times that kwok's fast pod-ready and pod-delete skip.
 */
export const REPLACED_KWOK_STAGES: ReadonlySet<string> = new Set(['pod-ready.yaml', 'pod-delete.yaml']);

/** The stage files the local host's kwok loads: kwok's own (less the replaced ones), then ours. */
export function hostStageFiles(kwokStages: string[]): string[] {
  const ours = readdirSync(KUBENEST_STAGES_DIR).filter((file) => file.endsWith('.yaml')).sort().map((file) => join(KUBENEST_STAGES_DIR, file));
  return [...kwokStages.filter((file) => !REPLACED_KWOK_STAGES.has(basename(file))), ...ours];
}

/** kwok's --config: the stage files as one multi-document YAML. */
export function hostStagesConfig(kwokStages: string[]): string {
  return hostStageFiles(kwokStages).map((file) => readFileSync(file, 'utf8').trim()).join('\n---\n') + '\n';
}
