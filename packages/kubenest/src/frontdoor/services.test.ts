import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestedClusterIpInJson, requestedClusterIpInProtobuf, requestRefusal, serviceRefusal } from './services.ts';

describe('which Service creates are made on the host first', () => {
  const base = { query: new URLSearchParams(), contentType: 'application/json', impersonating: false, namespace: 'default' };
  // Both checks, as the handler makes them: the request first, then the Service in its body.
  const hostFirstRefusal = (o: typeof base & { service: unknown }): string | undefined => requestRefusal(o) ?? serviceRefusal(o.namespace, o.service);
  const service = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = { name: 'web' }): unknown => ({ apiVersion: 'v1', kind: 'Service', metadata, spec });

  it('the request alone passes before its body is read (the check the handler makes first)', () => {
    assert.equal(requestRefusal(base), undefined);
    assert.equal(requestRefusal({ ...base, query: new URLSearchParams('fieldManager=kubectl-create&fieldValidation=Strict') }), undefined);
  });

  it('a plain ClusterIP, NodePort, LoadBalancer or headless-less Service in JSON, kind and apiVersion optional', () => {
    assert.equal(hostFirstRefusal({ ...base, service: service({ ports: [{ port: 80 }] }) }), undefined);
    assert.equal(hostFirstRefusal({ ...base, service: service({ type: 'NodePort', clusterIP: '' }) }), undefined);
    assert.equal(hostFirstRefusal({ ...base, contentType: 'application/json; charset=utf-8', service: { metadata: { name: 'web' } } }), undefined);
  });

  it('not: dry runs, other content types, impersonation, generateName, default/kubernetes, ExternalName, other namespaces', () => {
    assert.match(hostFirstRefusal({ ...base, query: new URLSearchParams('dryRun=All'), service: service() })!, /dry run/);
    assert.equal(hostFirstRefusal({ ...base, contentType: 'application/vnd.kubernetes.protobuf', service: service() }), undefined);
    assert.match(hostFirstRefusal({ ...base, contentType: 'application/yaml', service: service() })!, /neither JSON nor protobuf/);
    assert.match(hostFirstRefusal({ ...base, contentType: 'application/json-patch+json', service: service() })!, /neither JSON nor protobuf/);
    assert.match(hostFirstRefusal({ ...base, impersonating: true, service: service() })!, /impersonating/);
    assert.match(hostFirstRefusal({ ...base, service: service({}, { generateName: 'web-' }) })!, /generateName/);
    // What the handler checks is the dry run's answer, which carries a generated name beside generateName.
    assert.match(hostFirstRefusal({ ...base, service: service({}, { name: 'web-x7k2p', generateName: 'web-' }) })!, /generateName/);
    assert.match(hostFirstRefusal({ ...base, service: service({}, { name: 'kubernetes' }) })!, /virtual cluster's own/);
    assert.match(hostFirstRefusal({ ...base, service: service({ type: 'ExternalName', externalName: 'x.example' }) })!, /ExternalName/);
    assert.match(hostFirstRefusal({ ...base, service: service({}, { name: 'web', namespace: 'other' }) })!, /not the one in the path/);
    assert.match(hostFirstRefusal({ ...base, service: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } })!, /v1\/Pod/);
    assert.match(hostFirstRefusal({ ...base, service: [] })!, /not an object/);
  });
});

/** A protobuf length-delimited field. */
function field(number: number, bytes: Buffer): Buffer {
  const tag = (number << 3) | 2;
  const tagBytes = tag < 0x80 ? [tag] : [(tag & 0x7f) | 0x80, tag >> 7];
  return Buffer.concat([Buffer.from([...tagBytes, bytes.length]), bytes]);
}

describe('whether the caller asks for a ClusterIP of its own', () => {
  it('in JSON: clusterIP (None included) or clusterIPs; unreadable JSON is undefined', () => {
    assert.equal(requestedClusterIpInJson(Buffer.from('{"metadata":{"name":"a"},"spec":{"ports":[{"port":80}]}}')), false);
    assert.equal(requestedClusterIpInJson(Buffer.from('{"spec":{"clusterIP":""}}')), false);
    assert.equal(requestedClusterIpInJson(Buffer.from('{"spec":{"clusterIP":"None"}}')), true);
    assert.equal(requestedClusterIpInJson(Buffer.from('{"spec":{"clusterIPs":["10.96.0.9"]}}')), true);
    assert.equal(requestedClusterIpInJson(Buffer.from('{not json')), undefined);
  });

  it('in Kubernetes protobuf: ServiceSpec fields 3 and 18 inside the envelope', () => {
    const envelope = (spec: Buffer): Buffer => Buffer.concat([
      Buffer.from('k8s\0', 'latin1'),
      field(1, Buffer.concat([field(1, Buffer.from('v1')), field(2, Buffer.from('Service'))])),
      field(2, Buffer.concat([field(1, field(1, Buffer.from('web'))), field(2, spec)])),
    ]);
    const port = field(1, Buffer.concat([Buffer.from([0x18, 80])]));
    assert.equal(requestedClusterIpInProtobuf(envelope(port)), false);
    assert.equal(requestedClusterIpInProtobuf(envelope(Buffer.concat([port, field(3, Buffer.from('None'))]))), true);
    assert.equal(requestedClusterIpInProtobuf(envelope(Buffer.concat([port, field(3, Buffer.alloc(0))]))), false);
    assert.equal(requestedClusterIpInProtobuf(envelope(Buffer.concat([port, field(18, Buffer.from('10.96.0.9'))]))), true);
    assert.equal(requestedClusterIpInProtobuf(Buffer.from('{"kind":"Service"}')), undefined, 'not the envelope');
    assert.equal(requestedClusterIpInProtobuf(Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x12, 0x50])])), undefined, 'truncated');
  });
});
