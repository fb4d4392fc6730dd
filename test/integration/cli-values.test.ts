import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliSandbox, eventually, run, type CliSandbox, type CommandResult } from '@kubenest/testing';

const VALUES = `
sync:
  toHost:
    ingresses:
      enabled: true
    pods:
      enabled: true
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
});
