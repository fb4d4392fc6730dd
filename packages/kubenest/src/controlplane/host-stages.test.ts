import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { hostStageFiles, hostStagesConfig } from './host-stages.ts';

type Stage = { kind?: string; metadata?: { name?: string }; spec?: { resourceRef?: { kind?: string }; steps?: unknown[]; next?: object } };

describe('the local host\'s kwok stages', () => {
  const kwokOwn = ['node-initialize.yaml', 'node-heartbeat-with-lease.yaml', 'pod-ready.yaml', 'pod-complete.yaml', 'pod-delete.yaml'].map((f) => `/bin/kwok-stages/${f}`);

  it('kwok\'s pod-ready and pod-delete give way to ours; kwok\'s node stages and pod-complete stay', () => {
    const files = hostStageFiles(kwokOwn).map((f) => f.split('/').pop());
    assert.deepEqual(files.slice(0, 3), ['node-initialize.yaml', 'node-heartbeat-with-lease.yaml', 'pod-complete.yaml']);
    assert.ok(files.includes('pod-lifecycle.yaml'));
    assert.ok(!files.includes('pod-ready.yaml') && !files.includes('pod-delete.yaml'));
  });

  it('our stage files hold the pod lifecycle, one Stage per step of it, each well-formed YAML', () => {
    const ours = hostStageFiles([]);
    const docs = parseAllDocuments(hostStagesConfig([]));
    for (const doc of docs) assert.deepEqual(doc.errors, [], `${ours.join(', ')}: ${doc.errors.join('; ')}`);
    const stages = docs.map((d) => d.toJS() as Stage);
    const pods = stages.filter((s) => s.spec?.resourceRef?.kind === 'Pod').map((s) => s.metadata?.name);
    for (const name of ['kubenest-pod-initialize', 'kubenest-container-start', 'kubenest-pod-ready', 'kubenest-container-stop', 'kubenest-pod-delete']) {
      assert.ok(pods.includes(name), `${name} in ${pods.join(', ')}`);
    }
    for (const stage of stages) {
      assert.equal(stage.kind, 'Stage');
      // kwok takes the older `next` form too (the run-to-completion stages use it).
      assert.ok((stage.spec?.steps ?? []).length > 0 || stage.spec?.next !== undefined, `${stage.metadata?.name} has steps or next`);
    }
  });
});
