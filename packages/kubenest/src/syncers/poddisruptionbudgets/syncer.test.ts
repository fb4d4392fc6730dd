import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator } from '@kubenest/sync';
import { hostPodDisruptionBudgetSpec } from './syncer.ts';

const meta = new MetadataTranslator('suffix', 'host-ns');

describe('pod disruption budget translation', () => {
  it('translates the selector keys and adds no scoping labels (as vCluster)', () => {
    assert.deepEqual(hostPodDisruptionBudgetSpec(meta, {
      minAvailable: 2,
      selector: { matchLabels: { app: 'web', release: 'r1' }, matchExpressions: [{ key: 'release', operator: 'Exists' }] },
    }), {
      minAvailable: 2,
      selector: {
        matchLabels: { app: 'web', 'vcluster.loft.sh/label-suffix-x-a4d451ec23': 'r1' },
        matchExpressions: [{ key: 'vcluster.loft.sh/label-suffix-x-a4d451ec23', operator: 'Exists' }],
      },
    });
  });

  it('copies maxUnavailable and the other fields, and leaves a missing selector missing', () => {
    assert.deepEqual(hostPodDisruptionBudgetSpec(meta, { maxUnavailable: '25%', unhealthyPodEvictionPolicy: 'AlwaysAllow' }),
      { maxUnavailable: '25%', unhealthyPodEvictionPolicy: 'AlwaysAllow' });
  });
});
