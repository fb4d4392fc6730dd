import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginEntryProblems } from './entries.ts';
import { pluginAccessNames, pluginExtraRules, sdkStartupRules } from './rbac.ts';

describe('plugin least privilege (ADR 22)', () => {
  it('names: namespaced by virtual cluster and plugin; cluster-scoped naming the host namespace too, shortened past 63', () => {
    assert.deepEqual(pluginAccessNames('demo', 'vcluster-demo', 'crd-sync'), { namespaced: 'vc-plugin-demo-crd-sync', cluster: 'vc-plugin-vcluster-demo-x-demo-x-crd-sync' });
    assert.notEqual(pluginAccessNames('demo', 'team-a', 'p').cluster, pluginAccessNames('demo', 'team-b', 'p').cluster);
    const long = pluginAccessNames('a'.repeat(40), 'n'.repeat(40), 'plugin');
    assert.ok(long.namespaced.length <= 63 && long.cluster.length <= 63);
  });

  it('the SDK start-up needs only a get of its config Secret', () => {
    assert.deepEqual(sdkStartupRules('demo'), [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['vc-config-demo'], verbs: ['get'] }]);
  });

  it('takes the entry\'s extraRules as they are, and refuses malformed ones naming the field', () => {
    const rule = { apiGroups: ['example.loft.sh'], resources: ['cars'], verbs: ['get'] };
    assert.deepEqual(pluginExtraRules({ name: 'p', raw: { rbac: { role: { extraRules: [rule] } } } }), { role: [rule], clusterRole: [] });
    assert.deepEqual(pluginExtraRules({ name: 'p', raw: {} }), { role: [], clusterRole: [] });
    const problems = pluginEntryProblems({ plugins: { p: { path: '/x', rbac: { role: { extraRules: 'all' }, clusterRole: { extraRules: [{ resources: ['x'] }] } } } } });
    assert.deepEqual(problems, ['plugins.p.rbac.role.extraRules must be a list of RBAC rules (apiGroups, resources, verbs)']);
    assert.deepEqual(pluginEntryProblems({ plugins: { p: { path: '/x', rbac: { clusterRole: { extraRules: [{ resources: ['x'] }] } } } } }),
      ['plugins.p.rbac.clusterRole.extraRules[0] must be an RBAC rule with a list of verbs']);
  });
});
