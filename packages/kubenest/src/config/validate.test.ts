import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateValues } from './validate.ts';

function problems(values: Record<string, unknown>, name = 'values.yaml'): string[] {
  try {
    validateValues([{ name, values }]);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
}

describe('validateValues', () => {
  it('accepts vcluster.yaml files that use sections kubenest does not read yet', () => {
    assert.deepEqual(problems({
      sync: { toHost: { configMaps: { all: true }, pods: { enabled: true, rewriteHosts: { enabled: false } } }, fromHost: { csiDrivers: { enabled: 'auto' }, nodes: { selector: { labels: { a: 'b' } } } } },
      controlPlane: { distro: { k8s: { enabled: true } }, statefulSet: { resources: {} } },
      networking: { advanced: { clusterDomain: 'cluster.local' } },
      plugins: { hooks: { image: 'x', rbac: { role: { extraRules: [{ verbs: ['get'], resources: ['pods'] }] } } } },
    }), []);
  });

  it('names the file, the path and the expected type', () => {
    assert.deepEqual(problems({ sync: { toHost: { configMaps: { all: 'yes' } } } }, 'a.yaml'),
      ['a.yaml: sync.toHost.configMaps.all: expected boolean, got string "yes"']);
    assert.deepEqual(problems({ sync: { fromHost: { csiNodes: { enabled: 'sometimes' } } } }),
      ['values.yaml: sync.fromHost.csiNodes.enabled: expected true, false or "auto", got string "sometimes"']);
    assert.deepEqual(problems({ sync: 'on' }), ['values.yaml: sync: expected a map, got string "on"']);
  });

  it('checks the pod options kubenest reads (rewriteHosts) and leaves the others open', () => {
    assert.deepEqual(problems({ sync: { toHost: { pods: {
      translateImage: { a: 'b' }, rewriteHosts: { enabled: true, initContainer: { image: { registry: 'r.example', repository: 'alpine', tag: '3' }, resources: {} } },
    } } } }), []);
    assert.deepEqual(problems({ sync: { toHost: { pods: { rewriteHosts: { initContainer: { image: 'alpine:3.20' } } } } } }), []);
    assert.match(problems({ sync: { toHost: { pods: { rewriteHosts: { enabeld: true } } } } })[0]!, /^values\.yaml: sync\.toHost\.pods\.rewriteHosts\.enabeld: unknown key \(did you mean "enabled"\?\)/);
    assert.match(problems({ sync: { toHost: { pods: { rewriteHosts: { initContainer: { image: 3 } } } } } })[0]!, /^values\.yaml: sync\.toHost\.pods\.rewriteHosts\.initContainer\.image: expected /);
  });

  it('refuses options kubenest does not implement, naming the last file that switched them on', () => {
    const sources = (...values: Record<string, unknown>[]) => values.map((v, i) => ({ name: `v${i}.yaml`, values: v }));
    const refuse = (...values: Record<string, unknown>[]): string[] => {
      try {
        validateValues(sources(...values));
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    assert.deepEqual(refuse({ sync: { toHost: { persistentVolumes: { enabled: true } } } }), [
      'v0.yaml: sync.toHost.persistentVolumes.enabled: true is not supported by kubenest yet (real PersistentVolume sync; without it bound claims get fake PersistentVolumes); remove it or set it to false',
    ]);
    assert.deepEqual(refuse({ sync: { fromHost: { priorityClasses: { enabled: true } } } }, { sync: { fromHost: { priorityClasses: { enabled: false } } } }), [], 'a later file switched it off');
    assert.match(refuse({}, { sync: { toHost: { pods: { hybridScheduling: { enabled: true } } } } })[0]!, /^v1\.yaml: sync\.toHost\.pods\.hybridScheduling\.enabled: true is not supported/);
    assert.match(refuse({ sync: { toHost: { customResources: { 'widgets.example.com': { enabled: true } } } } })[0]!, /sync\.toHost\.customResources\.widgets\.example\.com\.enabled: true is not supported by kubenest yet \(custom resource sync \(widgets\.example\.com\); a plugin can sync it\)/);
    // vCluster's defaults load: endpointSlices on, csi* and storageClasses on auto.
    assert.deepEqual(refuse({ sync: { toHost: { endpointSlices: { enabled: true } }, fromHost: { csiNodes: { enabled: 'auto' }, storageClasses: { enabled: 'auto' } } } }), []);
  });

  it('checks each enforceTolerations entry', () => {
    assert.deepEqual(problems({ sync: { toHost: { pods: { enforceTolerations: ['a=b:NoSchedule', 'x:Sometimes'] } } } }), [
      'values.yaml: sync.toHost.pods.enforceTolerations[1]: "Sometimes" in "x:Sometimes" is not an effect (NoSchedule, PreferNoSchedule, NoExecute); expected "key", "key=value", "key:Effect", "key=value:Effect" or "*"',
    ]);
  });

  it('calls unknown keys errors, with a suggestion', () => {
    const [problem] = problems({ sync: { toHost: { configmaps: { enabled: true } } } });
    assert.match(problem!, /^values\.yaml: sync\.toHost\.configmaps: unknown key \(did you mean "configMaps"\?\); known here: services, /);
    assert.match(problems({ snyc: {} })[0]!, /^values\.yaml: snyc: unknown key \(did you mean "sync"\?\)/);
  });

  it('reports every problem of every file at once', () => {
    let error: unknown;
    try {
      validateValues([
        { name: 'one.yaml', values: { sync: { toHost: { secrets: { all: 1 } } } } },
        { name: 'two.yaml', values: { plugins: { p: { command: 'sh' } } } },
      ]);
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'one.yaml: sync.toHost.secrets.all: expected boolean, got number 1',
      'two.yaml: plugins.p.command: expected a list, got string "sh"',
    ]);
  });
});

describe('validateValues: from-host mappings', () => {
  it('accepts the documented mapping forms', () => {
    assert.deepEqual(problems({ sync: { fromHost: { configMaps: { enabled: true, mappings: { byName: { 'a/*': 'b/*', '/x': 'b/y', '': 'c' } } } } } }), []);
  });

  it('names the entry, the expected form and the file for a malformed mapping', () => {
    assert.deepEqual(problems({ sync: { fromHost: { configMaps: { enabled: true, mappings: { byName: { 'team/*': 'copies/one' } } }, secrets: { mappings: { byName: { nope: 'a/b' } } } } } }, 'v.yaml'), [
      'v.yaml: sync.fromHost.configMaps.mappings.byName["team/*"]: a key for a whole namespace ("team/*") needs a value of the form VIRTUAL_NAMESPACE/*, got "copies/one"',
      'v.yaml: sync.fromHost.secrets.mappings.byName["nope"]: expected a key of the form HOST_NAMESPACE/NAME, HOST_NAMESPACE/*, /NAME or "" (the virtual cluster\'s host namespace), got "nope"',
    ]);
  });

  it('refuses an enabled from-host syncer without mappings, looking at all files together', () => {
    assert.match(problems({ sync: { fromHost: { secrets: { enabled: true } } } })[0]!, /^values\.yaml: sync\.fromHost\.secrets: enabled, but mappings\.byName is empty/);
    assert.doesNotThrow(() => validateValues([
      { name: 'one.yaml', values: { sync: { fromHost: { secrets: { enabled: true } } } } },
      { name: 'two.yaml', values: { sync: { fromHost: { secrets: { mappings: { byName: { 'a/*': 'b/*' } } } } } } },
    ]));
  });

  it('names the allowed choices of a union for a misspelled pod policy', () => {
    assert.deepEqual(problems({ policies: { podSecurityStandard: 'privilaged' } }),
      ['values.yaml: policies.podSecurityStandard: expected "privileged", "baseline" or "restricted", got string "privilaged"']);
    assert.deepEqual(problems({ policies: { podSecurityStandard: 'privileged', other: { kept: true } } }), []);
  });
});
