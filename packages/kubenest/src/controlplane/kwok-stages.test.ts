import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { RUN_TO_COMPLETION_ANNOTATION } from '../syncers/pods/translate.ts';
import { hostStageFiles } from './host-stages.ts';

type Stage = {
  apiVersion?: string; kind?: string; metadata?: { name?: string };
  spec?: { selector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] }; weight?: number; next?: { statusTemplate?: string } };
};

const own = hostStageFiles(['/kwok/pod-complete.yaml']).slice(1);
const stages: Stage[] = own.flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => doc.toJS() as Stage));
const byName = (name: string): Stage => {
  const stage = stages.find((s) => s.metadata?.name === name);
  assert.ok(stage, `no stage ${name} in ${own.join(', ')}`);
  return stage;
};
const keys = (stage: Stage): string[] => (stage.spec?.selector?.matchExpressions ?? []).map((e) => e.key);

describe('kubenest kwok stages', () => {
  it('are loaded after kwok\'s own, every document a kwok Stage', () => {
    assert.equal(hostStageFiles(['/kwok/pod-complete.yaml'])[0], '/kwok/pod-complete.yaml');
    assert.ok(stages.length >= 3);
    for (const stage of stages) {
      assert.equal(stage.apiVersion, 'kwok.x-k8s.io/v1alpha1');
      assert.equal(stage.kind, 'Stage');
      assert.ok(stage.metadata?.name?.startsWith('kubenest-'), `${stage.metadata?.name}: kubenest's stages are named kubenest-*`);
    }
  });

  it('complete exactly the pods the pod syncer marks, with the marker it writes', () => {
    const complete = byName('kubenest-pod-run-to-completion');
    assert.ok(keys(complete).includes(`.metadata.annotations["${RUN_TO_COMPLETION_ANNOTATION}"]`));
    assert.match(complete.spec?.next?.statusTemplate ?? '', /phase: Succeeded/);
  });

  it('fail a labelled pod by its restartPolicy, winning over the completing stages', () => {
    const failed = byName('kubenest-pod-container-failed');
    const restarted = byName('kubenest-pod-container-restarted');
    const policy = (stage: Stage): string[] | undefined => stage.spec?.selector?.matchExpressions?.find((e) => e.key === '.spec.restartPolicy')?.values;
    assert.deepEqual(policy(failed), ['Never']);
    assert.deepEqual(policy(restarted), ['OnFailure']);
    assert.match(failed.spec?.next?.statusTemplate ?? '', /phase: Failed/);
    assert.doesNotMatch(restarted.spec?.next?.statusTemplate ?? '', /phase:/);
    for (const stage of [failed, restarted]) assert.ok((stage.spec?.weight ?? 0) > 0, `${stage.metadata?.name} needs a weight to win over weightless stages`);
  });
});
