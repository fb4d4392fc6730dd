import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostFirstRefusal } from './services.ts';

describe('which Service creates are made on the host first', () => {
  const base = { query: new URLSearchParams(), contentType: 'application/json', impersonating: false, namespace: 'default' };
  const service = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = { name: 'web' }): unknown => ({ apiVersion: 'v1', kind: 'Service', metadata, spec });

  it('a plain ClusterIP, NodePort, LoadBalancer or headless-less Service in JSON, kind and apiVersion optional', () => {
    assert.equal(hostFirstRefusal({ ...base, service: service({ ports: [{ port: 80 }] }) }), undefined);
    assert.equal(hostFirstRefusal({ ...base, service: service({ type: 'NodePort', clusterIP: '' }) }), undefined);
    assert.equal(hostFirstRefusal({ ...base, contentType: 'application/json; charset=utf-8', service: { metadata: { name: 'web' } } }), undefined);
  });

  it('not: dry runs, other content types, impersonation, generateName, default/kubernetes, ExternalName, requested IPs, other namespaces', () => {
    assert.match(hostFirstRefusal({ ...base, query: new URLSearchParams('dryRun=All'), service: service() })!, /dry run/);
    assert.match(hostFirstRefusal({ ...base, contentType: 'application/vnd.kubernetes.protobuf', service: service() })!, /not JSON/);
    assert.match(hostFirstRefusal({ ...base, contentType: 'application/json-patch+json', service: service() })!, /not JSON/);
    assert.match(hostFirstRefusal({ ...base, impersonating: true, service: service() })!, /impersonating/);
    assert.match(hostFirstRefusal({ ...base, service: service({}, { generateName: 'web-' }) })!, /generateName/);
    assert.match(hostFirstRefusal({ ...base, service: service({}, { name: 'kubernetes' }) })!, /virtual cluster's own/);
    assert.match(hostFirstRefusal({ ...base, service: service({ type: 'ExternalName', externalName: 'x.example' }) })!, /ExternalName/);
    assert.match(hostFirstRefusal({ ...base, service: service({ clusterIP: 'None' }) })!, /requested clusterIP \(None\)/);
    assert.match(hostFirstRefusal({ ...base, service: service({ clusterIP: '10.96.0.9' }) })!, /requested clusterIP/);
    assert.match(hostFirstRefusal({ ...base, service: service({}, { name: 'web', namespace: 'other' }) })!, /not the one in the path/);
    assert.match(hostFirstRefusal({ ...base, service: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } })!, /v1\/Pod/);
    assert.match(hostFirstRefusal({ ...base, service: [] })!, /not an object/);
  });
});
