import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator, type SyncContext } from '@kubenest/sync';
import { hostIngressSpec, hostSecretReference, ingressSecretReferences, ingressSyncer, type Ingress } from './syncer.ts';

const names = new NameTranslator('demo', 'vc-demo');
// Translation only: no client is touched.
const ctx = { names, meta: new MetadataTranslator('demo', 'vc-demo'), vclusterName: 'demo', hostNamespace: 'vc-demo' } as unknown as SyncContext;

describe('ingress translation', () => {
  it('renames Secrets in nginx annotations, given as name or namespace/name (vCluster)', () => {
    assert.equal(hostSecretReference(names, 'team', 'basic-auth'), 'basic-auth-x-team-x-demo');
    assert.equal(hostSecretReference(names, 'team', 'other/ca'), 'vc-demo/ca-x-other-x-demo');
    assert.equal(hostSecretReference(names, 'team', 'a/b/c'), 'a/b/c');
  });

  it('points backends and TLS at the host copies and keeps everything else', () => {
    const spec = hostIngressSpec(names, 'team', {
      ingressClassName: 'nginx',
      defaultBackend: { service: { name: 'fallback', port: { number: 80 } } },
      rules: [{ host: 'a.example', http: { paths: [
        { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } },
        { path: '/files', pathType: 'Prefix', backend: { resource: { apiGroup: 'example.com', kind: 'Bucket', name: 'files' } } },
      ] } }],
      tls: [{ hosts: ['a.example'], secretName: 'a-tls' }, { hosts: ['b.example'] }],
    });
    assert.deepEqual(spec, {
      ingressClassName: 'nginx',
      defaultBackend: { service: { name: 'fallback-x-team-x-demo', port: { number: 80 } } },
      rules: [{ host: 'a.example', http: { paths: [
        { path: '/', pathType: 'Prefix', backend: { service: { name: 'web-x-team-x-demo', port: { name: 'http' } } } },
        { path: '/files', pathType: 'Prefix', backend: { resource: { apiGroup: 'example.com', kind: 'Bucket', name: 'files-x-team-x-demo' } } },
      ] } }],
      tls: [{ hosts: ['a.example'], secretName: 'a-tls-x-team-x-demo' }, { hosts: ['b.example'] }],
    });
  });

  const virtualIngress = (): Ingress => ({
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
    metadata: { name: 'site', namespace: 'team', uid: 'u1', annotations: { 'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth', note: 'x' } },
    spec: { ingressClassName: 'nginx', defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
    status: { loadBalancer: {} },
  });

  it('creates the host copy with translated annotations', async () => {
    const host = await ingressSyncer().toHost(ctx, virtualIngress());
    assert.equal(host.metadata?.name, 'site-x-team-x-demo');
    assert.equal(host.metadata?.annotations?.['nginx.ingress.kubernetes.io/auth-secret'], 'basic-auth-x-team-x-demo');
    assert.equal(host.metadata?.annotations?.['note'], 'x');
    assert.equal(host.spec?.defaultBackend?.service?.name, 'web-x-team-x-demo');
    assert.equal(host.status, undefined);
  });

  it('puts back a Secret annotation edited on the host, without copying it to the virtual side', async () => {
    const syncer = ingressSyncer();
    const virtual = virtualIngress();
    const synced = await syncer.toHost(ctx, virtual);
    const host = structuredClone(synced);
    host.metadata!.annotations!['nginx.ingress.kubernetes.io/auth-secret'] = 'vc-demo/someone-elses';
    host.metadata!.annotations!['added-on-host'] = 'y';
    const result = await syncer.sync(ctx, { virtual, host, virtualOld: virtual, hostOld: synced });
    assert.equal(result.host?.metadata?.annotations?.['nginx.ingress.kubernetes.io/auth-secret'], 'basic-auth-x-team-x-demo');
    assert.deepEqual(result.virtual?.metadata?.annotations, { 'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth', note: 'x', 'added-on-host': 'y' });
  });

  it('takes ingressClassName from whichever side changed it, and the status from the host', async () => {
    const syncer = ingressSyncer();
    const virtual = virtualIngress();
    const synced = await syncer.toHost(ctx, virtual);
    const host = structuredClone(synced);
    host.spec!.ingressClassName = 'traefik';
    host.status = { loadBalancer: { ingress: [{ ip: '127.0.0.9' }] } };
    const result = await syncer.sync(ctx, { virtual, host, virtualOld: virtual, hostOld: synced });
    assert.equal(result.virtual?.spec?.ingressClassName, 'traefik');
    assert.equal(result.host, undefined);
    assert.deepEqual(result.virtualStatus?.status, { loadBalancer: { ingress: [{ ip: '127.0.0.9' }] } });

    const edited = structuredClone(synced);
    edited.spec!.defaultBackend = { service: { name: 'elsewhere', port: { number: 80 } } };
    const putBack = await syncer.sync(ctx, { virtual, host: edited, virtualOld: virtual, hostOld: synced });
    assert.deepEqual(putBack.host?.spec, synced.spec);
    assert.equal(putBack.virtual, undefined);
  });
});

describe('ingressSecretReferences', () => {
  it('lists TLS secrets and the nginx secret annotations, in both forms, as namespace/name', () => {
    const ingress: Ingress = {
      metadata: {
        name: 'web', namespace: 'shop',
        annotations: { 'nginx.ingress.kubernetes.io/auth-secret': 'basic', 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'certs/upstream', other: 'x' },
      },
      spec: { tls: [{ secretName: 'tls-a' }, { hosts: ['h'] }] },
    };
    assert.deepEqual([...ingressSecretReferences(ingress)].sort(), ['certs/upstream', 'shop/basic', 'shop/tls-a']);
  });
});
