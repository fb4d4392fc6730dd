import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KubeClient } from '@kubenest/kube';
import { applyManifestFile, clustersFrom } from './clusters.ts';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;

describe('clients for both clusters from the InitConfig', () => {
  it('builds both clients and the sync context (names and markers of the virtual cluster)', async () => {
    const clusters = clustersFrom({ hostKubeconfig: KUBECONFIG, virtualKubeconfig: KUBECONFIG, vcluster: { name: 'demo', hostNamespace: 'vcluster-demo' } });
    try {
      assert.equal(clusters.sync.names.hostName('test', 'kube-system'), 'test-x-kube-system-x-demo');
      assert.equal(clusters.sync.hostNamespace, 'vcluster-demo');
      assert.equal(clusters.host.rest.config.server, 'https://127.0.0.1:1');
      assert.equal(clusters.host.rest.config.token, 't');
    } finally {
      await clusters.host.close();
      await clusters.virtual.close();
    }
  });

  it('an InitConfig without a kubeconfig or the cluster\'s name says which field is missing', () => {
    assert.throws(() => clustersFrom({ hostKubeconfig: '', virtualKubeconfig: KUBECONFIG, vcluster: { name: 'demo', hostNamespace: 'ns' } }), /empty controlPlaneConfig: no kubeconfig to reach that cluster/);
    assert.throws(() => clustersFrom({ hostKubeconfig: KUBECONFIG, virtualKubeconfig: ' ', vcluster: { name: 'demo', hostNamespace: 'ns' } }), /empty syncerConfig/);
    assert.throws(() => clustersFrom({ hostKubeconfig: KUBECONFIG, virtualKubeconfig: KUBECONFIG, vcluster: { hostNamespace: 'ns' } }), /no config\.name/);
  });

  it('a manifest that is missing, or holds something that is not an object, is refused naming the file and document', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kn-sdk-apply-'));
    const client = new KubeClient({ server: 'https://127.0.0.1:1' });
    try {
      await assert.rejects(applyManifestFile(client, join(dir, 'nope.yaml'), 'test'), /cannot read manifest .*nope\.yaml: ENOENT/);
      writeFileSync(join(dir, 'bad.yaml'), '---\n---\nkind: ConfigMap\n');
      await assert.rejects(applyManifestFile(client, join(dir, 'bad.yaml'), 'test'), /bad\.yaml document 2: an object needs apiVersion, kind and metadata\.name/);
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
