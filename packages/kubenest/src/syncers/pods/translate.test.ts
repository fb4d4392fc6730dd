import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataTranslator, NameTranslator } from '@kubenest/sync';
import {
  hostAccessRequests, isPodInternalAnnotation, labelsAnnotation, podHostname, podReferences, runsToCompletion, serviceEnv, tokenSecretName, translateEphemeralContainers,
  translateFieldPath, translatePod, RUN_TO_COMPLETION_ANNOTATION, type Pod, type PodTranslation,
} from './translate.ts';

const meta = new MetadataTranslator('demo', 'vcluster-demo');
const base = (overrides: Partial<PodTranslation> = {}): PodTranslation => ({
  names: new NameTranslator('demo', 'vcluster-demo'), meta, kubeIp: '10.96.0.10', dnsIp: '10.96.0.20', clusterDomain: 'cluster.local',
  namespaceLabels: { team: 'a' }, services: [], tokens: new Map(), tokenAnnotation: (key) => `vcluster.loft.sh/token-${key.length}abcdefg`.slice(0, 31),
  hostServiceAccount: 'vc-workload-demo', translatePriorityClasses: false, ...overrides,
});
const pod = (spec: Partial<NonNullable<Pod['spec']>> = {}, metadata: Pod['metadata'] = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' }, ...metadata },
  spec: { containers: [{ name: 'app', image: 'nginx' }], ...spec },
});

describe('translatePod', () => {
  it('names, markers and the pod annotations', () => {
    const host = translatePod(base(), pod({ serviceAccountName: 'builder' }, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'r', controller: true }] }));
    assert.equal(host.metadata?.name, 'web-1-x-shop-x-demo');
    assert.equal(host.metadata?.namespace, 'vcluster-demo');
    assert.equal(host.metadata?.labels?.['vcluster.loft.sh/managed-by'], 'demo');
    assert.equal(host.metadata?.labels?.['vcluster.loft.sh/namespace'], 'shop');
    assert.equal(host.metadata?.labels?.[meta.hostNamespaceLabelKey('team')], 'a');
    const annotations = host.metadata?.annotations ?? {};
    assert.equal(annotations['vcluster.loft.sh/name'], 'web-1');
    assert.equal(annotations['vcluster.loft.sh/namespace'], 'shop');
    assert.equal(annotations['vcluster.loft.sh/uid'], 'u-1');
    assert.equal(annotations['vcluster.loft.sh/service-account-name'], 'builder');
    assert.equal(annotations['vcluster.loft.sh/labels'], 'app="web"');
    assert.equal(annotations['vcluster.loft.sh/owner-set-kind'], 'ReplicaSet');
    assert.equal(annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'], 'true');
    assert.equal(host.spec?.serviceAccountName, 'vc-workload-demo');
    assert.equal(host.spec?.automountServiceAccountToken, false);
    assert.equal(host.spec?.enableServiceLinks, false);
    assert.equal(host.spec?.hostname, 'web-1');
    assert.equal(host.status, undefined);
  });

  it('environment: kubelet\'s service variables first, the container\'s own win, references translated', () => {
    const services = [{ metadata: { name: 'my-db', namespace: 'shop' }, spec: { clusterIP: '10.96.1.1', ports: [{ name: 'sql', port: 5432, protocol: 'TCP' }] } }];
    const host = translatePod(base({ services }), pod({
      containers: [{
        name: 'app', image: 'nginx',
        env: [
          { name: 'MY_DB_SERVICE_HOST', value: 'mine' },
          { name: 'URL', value: '$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT)' },
          { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'pw' } } },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
        envFrom: [{ configMapRef: { name: 'all' } }],
      }],
    }));
    const env = host.spec!.containers[0]!.env!;
    const names = env.map((e) => e.name);
    assert.ok(names.indexOf('MY_DB_SERVICE_PORT') < names.indexOf('URL'), 'injected variables come first so $(VAR) resolves');
    assert.equal(env.filter((e) => e.name === 'MY_DB_SERVICE_HOST').length, 1);
    assert.equal(env.find((e) => e.name === 'MY_DB_SERVICE_HOST')?.value, 'mine', 'the container\'s own value wins');
    assert.equal(env.find((e) => e.name === 'KUBERNETES_SERVICE_HOST')?.value, '10.96.0.10');
    assert.equal(env.find((e) => e.name === 'MY_DB_PORT_5432_TCP_ADDR')?.value, '10.96.1.1');
    assert.deepEqual(env.find((e) => e.name === 'MODE')?.valueFrom, { configMapKeyRef: { name: 'settings-x-shop-x-demo', key: 'mode' } });
    assert.deepEqual(env.find((e) => e.name === 'PASSWORD')?.valueFrom, { secretKeyRef: { name: 'creds-x-shop-x-demo', key: 'pw' } });
    assert.deepEqual(env.find((e) => e.name === 'POD')?.valueFrom, { fieldRef: { fieldPath: "metadata.annotations['vcluster.loft.sh/name']" } });
    assert.deepEqual(host.spec!.containers[0]!.envFrom, [{ configMapRef: { name: 'all-x-shop-x-demo' } }]);
  });

  it('service links off: only the kubernetes variables', () => {
    const services = [{ metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: '10.96.1.1', ports: [{ port: 1 }] } }];
    const env = translatePod(base({ services }), pod({ enableServiceLinks: false })).spec!.containers[0]!.env!;
    assert.deepEqual(env.map((e) => e.name).filter((n) => !n.startsWith('KUBERNETES_')), []);
  });

  it('volumes: references translated, a projected token becomes a downward-API item of its annotation', () => {
    const host = translatePod(base({ tokens: new Map([['kube-api-access/0', 'jwt']]), tokenAnnotation: () => 'vcluster.loft.sh/token-abcdefgh' }), pod({
      volumes: [
        { name: 'cfg', configMap: { name: 'settings' } },
        { name: 'sec', secret: { secretName: 'creds' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
        { name: 'scratch', ephemeral: { volumeClaimTemplate: {} } },
        { name: 'csi', csi: { driver: 'x', nodePublishSecretRef: { name: 'csi-creds' } } },
        {
          name: 'kube-api-access',
          projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }, { configMap: { name: 'kube-root-ca.crt' } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } }] },
        },
      ],
    }));
    const volumes = Object.fromEntries(host.spec!.volumes!.map((v) => [v.name, v]));
    assert.equal(volumes['cfg']?.configMap?.name, 'settings-x-shop-x-demo');
    assert.equal(volumes['sec']?.secret?.secretName, 'creds-x-shop-x-demo');
    assert.deepEqual(volumes['data']?.persistentVolumeClaim, { claimName: 'data-x-shop-x-demo' });
    assert.deepEqual(volumes['scratch']?.persistentVolumeClaim, { claimName: 'web-1-scratch-x-shop-x-demo' });
    assert.equal(volumes['scratch']?.ephemeral, undefined);
    assert.deepEqual((volumes['csi']?.['csi'] as { nodePublishSecretRef: unknown }).nodePublishSecretRef, { name: 'csi-creds-x-shop-x-demo' });
    assert.deepEqual(volumes['kube-api-access']?.projected?.sources, [
      { downwardAPI: { items: [{ path: 'token', fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['vcluster.loft.sh/token-abcdefgh']" }, mode: 0o644 }] } },
      { configMap: { name: 'kube-root-ca.crt-x-shop-x-demo' } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: "metadata.annotations['vcluster.loft.sh/namespace']" } }] } },
    ]);
    assert.equal(host.metadata?.annotations?.['vcluster.loft.sh/token-abcdefgh'], 'jwt');
  });

  it('with useSecretsForSATokens a projected token reads its key from the token Secret, and no annotation is set', () => {
    const host = translatePod(base({ tokens: new Map([['kube-api-access/0', 'jwt']]), tokenSecret: 'web-1-sa-token-x-shop-x-demo' }), pod({
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }],
    }));
    assert.deepEqual(host.spec!.volumes![0]!.projected?.sources, [{ secret: { name: 'web-1-sa-token-x-shop-x-demo', items: [{ key: 'kube-api-access', path: 'token', mode: 0o644 }] } }]);
    assert.ok(!Object.keys(host.metadata?.annotations ?? {}).some((key) => key.startsWith('vcluster.loft.sh/token-')));
    assert.equal(tokenSecretName(new NameTranslator('demo', 'vcluster-demo'), 'web-1', 'shop'), 'web-1-sa-token-x-shop-x-demo');
  });

  it('refuses to translate a projected token it was not given', () => {
    assert.throws(() => translatePod(base(), pod({ volumes: [{ name: 't', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }] })), /no service account token for volume t/);
  });

  it('DNS through the virtual cluster\'s DNS Service, merged with the pod\'s own config; None and hostNetwork left alone', () => {
    const host = translatePod(base(), pod({ dnsConfig: { nameservers: ['1.1.1.1'], searches: ['corp'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }));
    assert.equal(host.spec?.dnsPolicy, 'None');
    assert.deepEqual(host.spec?.dnsConfig, {
      nameservers: ['10.96.0.20', '1.1.1.1'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp'],
      options: [{ name: 'ndots', value: '5' }, { name: 'edns0' }],
    });
    assert.equal(translatePod(base(), pod({ dnsPolicy: 'Default' })).spec?.dnsPolicy, 'Default');
    assert.equal(translatePod(base(), pod({ hostNetwork: true })).spec?.dnsPolicy, undefined);
    assert.equal(translatePod(base(), pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' })).spec?.dnsPolicy, 'None');
    assert.deepEqual(translatePod(base(), pod()).spec?.hostAliases, [{ ip: '10.96.0.10', hostnames: ['kubernetes.default.svc.cluster.local', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] }]);
  });

  it('a pod with a subdomain: an init container gives its hosts line the virtual FQDN, mounted over /etc/hosts everywhere', () => {
    const rewriteHosts = { image: 'mirror.gcr.io/library/alpine:3.20', resources: { limits: { cpu: '30m' } }, runAsUser: 1001, runAsGroup: 1001 };
    const virtual = pod({
      hostname: 'db-0', subdomain: 'db',
      containers: [{ name: 'app', image: 'postgres', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      initContainers: [{ name: 'setup', image: 'busybox' }],
    });
    const host = translatePod(base({ rewriteHosts }), virtual);
    const spec = host.spec!;
    assert.equal(spec.subdomain, undefined, 'the host has no Service for the virtual subdomain');
    assert.equal(spec.hostname, 'db-0');
    assert.deepEqual(spec.initContainers!.map((c) => c.name), ['vcluster-rewrite-hosts', 'setup']);
    const init = spec.initContainers![0]!;
    assert.equal(init.image, 'mirror.gcr.io/library/alpine:3.20');
    assert.deepEqual(init['command'], ['sh']);
    assert.deepEqual(init['args'], ['-c', "sed -E -e 's/^(\\d+.\\d+.\\d+.\\d+\\s+)db-0$/\\1 db-0.db.shop.svc.cluster.local db-0/' /etc/hosts > /hosts/hosts"]);
    assert.deepEqual(init['volumeMounts'], [{ mountPath: '/hosts', name: 'vcluster-rewrite-hosts' }]);
    assert.deepEqual(init.securityContext, {
      runAsUser: 1001, runAsGroup: 1001, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(init['resources'], { limits: { cpu: '30m' } });
    const hostsMount = { mountPath: '/etc/hosts', name: 'vcluster-rewrite-hosts', subPath: 'hosts' };
    assert.deepEqual(spec.containers[0]!['volumeMounts'], [{ name: 'data', mountPath: '/data' }, hostsMount]);
    assert.deepEqual(spec.initContainers![1]!['volumeMounts'], [hostsMount]);
    assert.deepEqual(spec.volumes, [{ name: 'vcluster-rewrite-hosts', emptyDir: {} }]);
    assert.equal(host.metadata?.annotations?.['vcluster.loft.sh/hosts-rewritten'], 'true');

    // Off in the values, or both opt-out annotations on the pod: only the subdomain goes.
    for (const [t, p] of [[base(), virtual], [base({ rewriteHosts }), { ...virtual, metadata: { ...virtual.metadata, annotations: { 'vcluster.loft.sh/disable-subdomain-rewrite': 'true', 'vcluster.loft.sh/hosts-rewritten': 'true' } } }]] as const) {
      const plain = translatePod(t, p);
      assert.equal(plain.spec?.subdomain, undefined);
      assert.deepEqual(plain.spec?.initContainers?.map((c) => c.name), ['setup']);
      assert.equal(plain.spec?.volumes, undefined);
    }
    // Without a subdomain nothing is added.
    assert.equal(translatePod(base({ rewriteHosts }), pod()).spec?.initContainers, undefined);
  });

  it('pod settings: images mapped exactly, enforced tolerations added once, runtime and default priority class', () => {
    const host = translatePod(base({
      host: {
        translateImage: { nginx: 'mirror.example/nginx:1', 'busybox:1': 'mirror.example/busybox:1' },
        enforceTolerations: [{ key: 'tenant', operator: 'Equal', value: 'a', effect: 'NoSchedule' }, { operator: 'Exists' }],
        runtimeClassName: 'sandboxed', priorityClassName: 'tenant-default',
      },
    }), pod({
      containers: [{ name: 'app', image: 'nginx' }, { name: 'side', image: 'nginx:1.27' }],
      initContainers: [{ name: 'setup', image: 'busybox:1' }],
      tolerations: [{ operator: 'Exists' }],
    }));
    assert.deepEqual(host.spec?.containers.map((c) => c.image), ['mirror.example/nginx:1', 'nginx:1.27']);
    assert.equal(host.spec?.initContainers?.[0]?.image, 'mirror.example/busybox:1');
    assert.deepEqual(host.spec?.tolerations, [{ operator: 'Exists' }, { key: 'tenant', operator: 'Equal', value: 'a', effect: 'NoSchedule' }]);
    assert.equal(host.spec?.['runtimeClassName'], 'sandboxed');
    assert.equal(host.spec?.priorityClassName, 'tenant-default');
    // A pod's own class (translated when priority classes sync) wins over the default.
    const own = translatePod(base({ translatePriorityClasses: true, host: { priorityClassName: 'tenant-default' } }), pod({ priorityClassName: 'high' }));
    assert.equal(own.spec?.priorityClassName, 'vcluster-high-x-vcluster-demo-x-demo');
  });

  it('ephemeral containers: references and environment as for the pod\'s own containers, images mapped', () => {
    const [dbg] = translateEphemeralContainers(base({ host: { translateImage: { busybox: 'mirror.example/busybox' } } }), pod(), [
      { name: 'dbg', image: 'busybox', env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'pw' } } }], envFrom: [{ configMapRef: { name: 'all' } }] },
    ]);
    assert.equal(dbg!.image, 'mirror.example/busybox');
    assert.equal(dbg!.env?.find((e) => e.name === 'PW')?.valueFrom?.secretKeyRef?.name, 'creds-x-shop-x-demo');
    assert.ok(dbg!.env?.some((e) => e.name === 'KUBERNETES_SERVICE_HOST'));
    assert.deepEqual(dbg!.envFrom, [{ configMapRef: { name: 'all-x-shop-x-demo' } }]);
  });

  it('scheduling: affinity selectors scoped to this virtual cluster and namespace; priority left to the host', () => {
    const host = translatePod(base(), pod({
      priority: 1000, priorityClassName: 'high', preemptionPolicy: 'Never',
      affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web', release: 'x' } }, topologyKey: 'kubernetes.io/hostname' }] } },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', labelSelector: { matchLabels: { app: 'web' } } }],
    }));
    assert.deepEqual(host.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.labelSelector, {
      matchLabels: { app: 'web', [meta.hostLabelKey('release')]: 'x', 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'shop' },
    });
    assert.deepEqual(host.spec?.topologySpreadConstraints?.[0]?.labelSelector, { matchLabels: { app: 'web', 'vcluster.loft.sh/managed-by': 'demo', 'vcluster.loft.sh/namespace': 'shop' } });
    assert.equal(host.spec?.priority, undefined);
    assert.equal(host.spec?.priorityClassName, undefined);
    assert.equal(host.spec?.preemptionPolicy, undefined);
    assert.equal(translatePod(base({ translatePriorityClasses: true }), pod({ priorityClassName: 'high' })).spec?.priorityClassName, new NameTranslator('demo', 'vcluster-demo').hostNameCluster('high'));
  });
});

describe('pod helpers', () => {
  it('labelsAnnotation sorts and quotes like the downward API', () => {
    assert.equal(labelsAnnotation({ b: 'x"y', a: '1' }), 'a="1"\nb="x\\"y"');
    assert.equal(labelsAnnotation(undefined), '');
  });

  it('translateFieldPath maps what only the virtual pod knows to the syncer\'s annotations', () => {
    assert.equal(translateFieldPath(meta, 'metadata.uid'), "metadata.annotations['vcluster.loft.sh/uid']");
    assert.equal(translateFieldPath(meta, 'spec.serviceAccountName'), "metadata.annotations['vcluster.loft.sh/service-account-name']");
    assert.equal(translateFieldPath(meta, "metadata.labels['app']"), "metadata.labels['app']");
    assert.equal(translateFieldPath(meta, "metadata.labels['release']"), `metadata.labels['${meta.hostLabelKey('release')}']`);
    assert.equal(translateFieldPath(meta, 'status.podIP'), 'status.podIP');
  });

  it('serviceEnv follows kubelet\'s Docker-link names', () => {
    assert.deepEqual(serviceEnv('web-api', '10.0.0.1', [{ name: 'http', port: 80 }, { port: 53, protocol: 'UDP' }]).map((e) => `${e.name}=${e.value}`), [
      'WEB_API_SERVICE_HOST=10.0.0.1', 'WEB_API_SERVICE_PORT=80', 'WEB_API_SERVICE_PORT_HTTP=80', 'WEB_API_PORT=tcp://10.0.0.1:80',
      'WEB_API_PORT_80_TCP=tcp://10.0.0.1:80', 'WEB_API_PORT_80_TCP_PROTO=tcp', 'WEB_API_PORT_80_TCP_PORT=80', 'WEB_API_PORT_80_TCP_ADDR=10.0.0.1',
      'WEB_API_PORT_53_UDP=udp://10.0.0.1:53', 'WEB_API_PORT_53_UDP_PROTO=udp', 'WEB_API_PORT_53_UDP_PORT=53', 'WEB_API_PORT_53_UDP_ADDR=10.0.0.1',
    ]);
  });

  it('podHostname makes a DNS label of the pod name', () => {
    assert.equal(podHostname('a.b.c-'), 'a-b-c');
    assert.equal(podHostname('x'.repeat(70)).length, 63);
  });

  it('hostAccessRequests names every field the default policy refuses', () => {
    assert.deepEqual(hostAccessRequests(pod({
      hostNetwork: true, hostPID: true, hostIPC: true,
      volumes: [{ name: 'root', hostPath: { path: '/' } }],
      initContainers: [{ name: 'setup', securityContext: { privileged: true } }],
    })), ['spec.hostNetwork', 'spec.hostPID', 'spec.hostIPC', 'volume root: hostPath', 'initContainers setup: privileged']);
    assert.deepEqual(hostAccessRequests(pod()), []);
  });

  it('podReferences lists the ConfigMaps and Secrets a pod uses, wherever it names them', () => {
    const refs = podReferences(pod({
      containers: [{ name: 'a', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's1' } } }], envFrom: [{ configMapRef: { name: 'c1' } }] }],
      volumes: [{ name: 'p', projected: { sources: [{ configMap: { name: 'c2' } }, { secret: { name: 's2' } }] } }, { name: 'f', azureFile: { secretName: 's3' } }],
      imagePullSecrets: [{ name: 'pull' }],
    }));
    assert.deepEqual([...refs.configMaps].sort(), ['c1', 'c2']);
    assert.deepEqual([...refs.secrets].sort(), ['pull', 's1', 's2', 's3']);
  });
});

describe('runsToCompletion', () => {
  const owned = (apiVersion: string, kind: string, controller = true): Pod['metadata'] => ({ ownerReferences: [{ apiVersion, kind, name: 'o', uid: 'o-1', controller }] });

  it('a Job\'s pod, by its controller reference (whatever its name and labels say)', () => {
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Never' }, owned('batch/v1', 'Job'))), 'Job');
    assert.equal(runsToCompletion(pod({ restartPolicy: 'OnFailure' }, { name: 'anything', labels: {}, ...owned('batch/v1', 'Job') })), 'Job');
  });

  it('a pod without a controller whose containers are not restarted: helm hooks and tests, kubectl run --restart=Never', () => {
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Never' })), 'Pod');
    assert.equal(runsToCompletion(pod({ restartPolicy: 'OnFailure' })), 'Pod');
    // An owner that is not a controller (garbage collection only) does not manage the pod's lifecycle.
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Never' }, owned('v1', 'ConfigMap', false))), 'Pod');
  });

  it('runs until deleted: restartPolicy Always, set controllers, other controllers, and names that merely look like a Job\'s', () => {
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Always' })), undefined);
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Always' }, owned('apps/v1', 'ReplicaSet'))), undefined);
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Always' }, owned('apps/v1', 'StatefulSet'))), undefined);
    // The pods of a controller kubenest does not know mean what that controller makes of them.
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Never' }, owned('argoproj.io/v1alpha1', 'Workflow'))), undefined);
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Never' }, owned('example.com/v1', 'Job'))), undefined);
    assert.equal(runsToCompletion(pod({ restartPolicy: 'Always' }, { name: 'pi-abcde', labels: { 'job-name': 'pi', 'batch.kubernetes.io/job-name': 'pi' } })), undefined);
  });

  it('is carried to the host pod as an annotation the syncer owns', () => {
    const host = translatePod(base(), pod({ restartPolicy: 'Never' }, owned('batch/v1', 'Job')));
    assert.equal(host.metadata?.annotations?.[RUN_TO_COMPLETION_ANNOTATION], 'Job');
    assert.equal(isPodInternalAnnotation(RUN_TO_COMPLETION_ANNOTATION), true);
    const web = translatePod(base(), pod({ restartPolicy: 'Always' }, owned('apps/v1', 'ReplicaSet')));
    assert.equal(web.metadata?.annotations?.[RUN_TO_COMPLETION_ANNOTATION], undefined);
  });
});
