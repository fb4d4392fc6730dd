import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { writeFileAtomic } from './files.ts';

export interface KubeconfigSpec {
  /** Cluster, user and context name. */
  name: string;
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Renders a self-contained kubeconfig (certificates inlined) so it can be copied anywhere. */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: spec.name, cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caFile) } }],
    users: [{ name: spec.name, user: { 'client-certificate-data': b64(spec.certFile), 'client-key-data': b64(spec.keyFile) } }],
    contexts: [{ name: spec.name, context: { cluster: spec.name, user: spec.name } }],
    'current-context': spec.name,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await writeFileAtomic(path, renderKubeconfig(spec), 0o600);
}
