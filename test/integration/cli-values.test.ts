import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '@kubenest/kube';
import { cliSandbox, eventually, run, type CliSandbox, type CommandResult } from '@kubenest/testing';

const VALUES = `
sync:
  toHost:
    ingresses:
      enabled: true
    pods:
      enabled: true
      translateImage:
        "registry.internal/app:1": "mirror.example/app:1"
      enforceTolerations: ["tenant=demo:NoSchedule"]
      runtimeClassName: sandboxed
      priorityClassName: tenant-default
      useSecretsForSATokens: true
  fromHost:
    nodes:
      enabled: true
      selector:
        all: true
    configMaps:
      enabled: true
      mappings:
        byName:
          "shared/*": "imported/*"
policies:
  podSecurityStandard: privileged
`;

/** Switches in a vcluster.yaml given to `kubenest create` turn the syncers on and off as documented. */
describe('values switch syncers (kubenest create -f)', () => {
  let sandbox: CliSandbox;
  const vk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), ...args]);
  const hk = (...args: string[]): Promise<CommandResult> => run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), ...args]);

  before(async () => {
    sandbox = await cliSandbox('kn-values-');
    assert.equal((await sandbox.cli('host', 'up', '--nodes', '2')).code, 0);
    writeFileSync(join(sandbox.dir, 'vcluster.yaml'), VALUES);
    assert.equal((await hk('create', 'namespace', 'shared')).code, 0);
    assert.equal((await hk('-n', 'shared', 'create', 'configmap', 'settings', '--from-literal=region=eu')).code, 0);
    // What the pod settings name must exist on the host, as with vCluster.
    const hostClasses = { apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'sandboxed' }, handler: 'runc' },
      { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'tenant-default' }, value: 1000 },
    ] };
    const classes = await run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(hostClasses) });
    assert.equal(classes.code, 0, classes.stderr);
    const created = await sandbox.cli('create', 'demo', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-f', join(sandbox.dir, 'vcluster.yaml'));
    assert.equal(created.code, 0, created.stderr);
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
  });

  it('fromHost.nodes with selector.all mirrors every host node', async () => {
    await eventually(async () => {
      const nodes = await vk('get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}');
      assert.equal(nodes.stdout, 'kwok-node-0 kwok-node-1');
    });
    const label = await vk('get', 'node', 'kwok-node-0', '-o', 'jsonpath={.metadata.labels.vcluster\\.loft\\.sh/managed-by}');
    assert.equal(label.stdout, 'demo');
  });

  it('fromHost.configMaps imports the mapped host namespace', async () => {
    await eventually(async () => assert.equal((await vk('-n', 'imported', 'get', 'configmap', 'settings', '-o', 'jsonpath={.data.region}')).stdout, 'eu'));
  });

  it('toHost.ingresses syncs an ingress, with its TLS Secret counted as in use', async () => {
    assert.equal((await vk('create', 'secret', 'generic', 'site-tls', '--from-literal=tls.crt=x')).code, 0);
    assert.equal((await vk('create', 'ingress', 'site', '--rule=example.test/*=web:80,tls=site-tls')).code, 0);
    await eventually(async () => {
      const backend = await hk('-n', 'vcluster-demo', 'get', 'ingress', 'site-x-default-x-demo', '-o', 'jsonpath={.spec.rules[0].http.paths[0].backend.service.name}');
      assert.equal(backend.stdout, 'web-x-default-x-demo', backend.stderr);
      const secret = await hk('-n', 'vcluster-demo', 'get', 'secret', 'site-tls-x-default-x-demo', '-o', 'name');
      assert.equal(secret.stdout.trim(), 'secret/site-tls-x-default-x-demo', secret.stderr);
    });
  });

  it('policies.podSecurityStandard: privileged lets a privileged pod run on the host', async () => {
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root', namespace: 'default' },
      spec: { containers: [{ name: 'app', image: 'busybox', securityContext: { privileged: true } }] },
    };
    const created = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-'], { input: JSON.stringify(pod) });
    assert.equal(created.code, 0, created.stderr);
    await eventually(async () => assert.equal((await vk('get', 'pod', 'root', '-o', 'jsonpath={.status.phase}')).stdout, 'Running'), { timeoutMs: 60_000 });
    assert.equal((await hk('-n', 'vcluster-demo', 'get', 'pod', 'root-x-default-x-demo', '-o', 'jsonpath={.spec.containers[0].securityContext.privileged}')).stdout, 'true');
  });

  it('pod settings shape every host pod: translateImage, enforceTolerations, runtimeClassName, priorityClassName', async () => {
    assert.equal((await vk('run', 'app', '--image=registry.internal/app:1')).code, 0);
    await eventually(async () => assert.equal((await vk('get', 'pod', 'app', '-o', 'jsonpath={.status.phase}')).stdout, 'Running'), { timeoutMs: 60_000 });
    const hostPod = JSON.parse((await hk('-n', 'vcluster-demo', 'get', 'pod', 'app-x-default-x-demo', '-o', 'json')).stdout) as {
      spec: { containers: { image: string }[]; tolerations?: Record<string, unknown>[]; runtimeClassName?: string; priorityClassName?: string };
    };
    assert.equal(hostPod.spec.containers[0]!.image, 'mirror.example/app:1');
    assert.ok(hostPod.spec.tolerations?.some((t) => t['key'] === 'tenant' && t['operator'] === 'Equal' && t['value'] === 'demo' && t['effect'] === 'NoSchedule'), JSON.stringify(hostPod.spec.tolerations));
    assert.equal(hostPod.spec.runtimeClassName, 'sandboxed');
    assert.equal(hostPod.spec.priorityClassName, 'tenant-default');
    assert.equal((await vk('get', 'pod', 'app', '-o', 'jsonpath={.spec.containers[0].image}')).stdout, 'registry.internal/app:1', 'the virtual pod keeps its image');

    // A changed image goes through the same map.
    assert.equal((await vk('set', 'image', 'pod/app', 'app=registry.internal/app:2')).code, 0);
    await eventually(async () => assert.equal((await hk('-n', 'vcluster-demo', 'get', 'pod', 'app-x-default-x-demo', '-o', 'jsonpath={.spec.containers[0].image}')).stdout, 'registry.internal/app:2'));
  });

  it('useSecretsForSATokens: the token is in a host Secret owned by the host pod, not in an annotation', async () => {
    assert.equal((await vk('run', 'tokens', '--image=nginx')).code, 0);
    await eventually(async () => assert.equal((await vk('get', 'pod', 'tokens', '-o', 'jsonpath={.status.phase}')).stdout, 'Running'), { timeoutMs: 60_000 });
    const hostPod = JSON.parse((await hk('-n', 'vcluster-demo', 'get', 'pod', 'tokens-x-default-x-demo', '-o', 'json')).stdout) as KubeObject & {
      spec: { volumes: { name: string; projected?: { sources: { secret?: { name: string; items: { key: string; path: string }[] }; serviceAccountToken?: unknown; downwardAPI?: unknown }[] } }[] };
    };
    const tokenVolume = hostPod.spec.volumes.find((v) => v.name.startsWith('kube-api-access-'))!;
    const source = tokenVolume.projected!.sources.find((s) => s.secret)!;
    assert.deepEqual(source.secret, { name: 'tokens-sa-token-x-default-x-demo', items: [{ key: tokenVolume.name, path: 'token', mode: 420 }] });
    assert.ok(!Object.keys(hostPod.metadata?.annotations ?? {}).some((k) => k.startsWith('vcluster.loft.sh/token-')), 'no token annotation');

    const secret = await eventually(async () => {
      const got = JSON.parse((await hk('-n', 'vcluster-demo', 'get', 'secret', 'tokens-sa-token-x-default-x-demo', '-o', 'json')).stdout) as { metadata: { ownerReferences?: { kind: string; name: string; uid: string }[] }; data: Record<string, string> };
      assert.deepEqual(got.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid]), [['Pod', 'tokens-x-default-x-demo', hostPod.metadata?.uid]]);
      return got;
    });
    const token = Buffer.from(secret.data[tokenVolume.name] ?? '', 'base64').toString();
    const review = await run('kubectl', ['--kubeconfig', join(sandbox.vclustersDir, 'demo', 'kubeconfig'), 'create', '-f', '-', '-o', 'jsonpath={.status.authenticated}'], {
      input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }),
    });
    assert.equal(review.stdout, 'true', 'the token authenticates to the virtual API');

    // The host deletes the Secret with its pod.
    assert.equal((await vk('delete', 'pod', 'tokens', '--timeout=60s')).code, 0);
    await eventually(async () => assert.equal((await hk('-n', 'vcluster-demo', 'get', 'secret', 'tokens-sa-token-x-default-x-demo')).code, 1), { timeoutMs: 60_000 });
  });

  it('refuses options kubenest does not implement, naming the file and the option', async () => {
    writeFileSync(join(sandbox.dir, 'unsupported.yaml'), 'sync:\n  fromHost:\n    ingressClasses:\n      enabled: true\n');
    const refused = await sandbox.cli('create', 'other', '--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-f', join(sandbox.dir, 'unsupported.yaml'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unsupported\.yaml: sync\.fromHost\.ingressClasses\.enabled: true is not supported by kubenest yet \(IngressClasses from the host\); remove it or set it to false/);
    assert.equal((await hk('get', 'namespace', 'vcluster-other')).code, 1, 'nothing was created on the host');
  });
});
