import { Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

/**
 * The vcluster.yaml schema, as far as kubenest reads it. `sync` is checked key by key (a typo
 * there silently turns a syncer off); the other sections vCluster defines are accepted as maps
 * for now, so existing files keep loading. Unknown keys at the checked levels are errors.
 */
const strict = <T extends TProperties>(properties: T): TObject<T> => Type.Object(properties, { additionalProperties: false });
const open = (): TSchema => Type.Object({}, { additionalProperties: true });
const maybe = <T extends TSchema>(schema: T) => Type.Optional(schema);

const patches = maybe(Type.Array(open()));
const enableSwitch = strict({ enabled: maybe(Type.Boolean()), patches });
const enableAll = strict({ enabled: maybe(Type.Boolean()), all: maybe(Type.Boolean()), patches });
const autoSwitch = strict({ enabled: maybe(Type.Union([Type.Boolean(), Type.Literal('auto')])), patches });
const selected = strict({ enabled: maybe(Type.Boolean()), selector: maybe(open()), patches });
const mappings = strict({ enabled: maybe(Type.Boolean()), mappings: maybe(strict({ byName: maybe(Type.Record(Type.String(), Type.String())) })), patches });
// Sections with many options kubenest does not read yet: known by name, checked for being maps.
const openSwitch = Type.Object({ enabled: maybe(Type.Boolean()) }, { additionalProperties: true });
const image = Type.Union([Type.String(), strict({ registry: maybe(Type.String()), repository: maybe(Type.String()), tag: maybe(Type.String()) })]);
// Pods: the options kubenest reads are checked; the rest is accepted as in openSwitch.
const pods = Type.Object({
  enabled: maybe(Type.Boolean()),
  translateImage: maybe(Type.Record(Type.String(), Type.String())),
  enforceTolerations: maybe(Type.Array(Type.String())),
  runtimeClassName: maybe(Type.String()),
  priorityClassName: maybe(Type.String()),
  useSecretsForSATokens: maybe(Type.Boolean()),
  rewriteHosts: maybe(strict({ enabled: maybe(Type.Boolean()), initContainer: maybe(strict({ image: maybe(image), resources: maybe(open()) })) })),
}, { additionalProperties: true });

export const SyncSchema = strict({
  toHost: maybe(strict({
    services: maybe(enableSwitch),
    endpoints: maybe(enableSwitch),
    endpointSlices: maybe(enableSwitch),
    persistentVolumeClaims: maybe(enableSwitch),
    configMaps: maybe(enableAll),
    secrets: maybe(enableAll),
    pods: maybe(pods),
    ingresses: maybe(enableSwitch),
    gatewayApi: maybe(openSwitch),
    priorityClasses: maybe(enableSwitch),
    networkPolicies: maybe(enableSwitch),
    podDisruptionBudgets: maybe(enableSwitch),
    serviceAccounts: maybe(enableSwitch),
    storageClasses: maybe(enableSwitch),
    persistentVolumes: maybe(enableSwitch),
    namespaces: maybe(openSwitch),
    resourceClaims: maybe(enableSwitch),
    resourceClaimTemplates: maybe(enableSwitch),
    volumeSnapshots: maybe(enableSwitch),
    volumeSnapshotContents: maybe(enableSwitch),
    customResources: maybe(Type.Record(Type.String(), openSwitch)),
  })),
  fromHost: maybe(strict({
    events: maybe(enableSwitch),
    csiDrivers: maybe(autoSwitch),
    csiNodes: maybe(autoSwitch),
    csiStorageCapacities: maybe(autoSwitch),
    storageClasses: maybe(strict({ enabled: maybe(Type.Union([Type.Boolean(), Type.Literal('auto')])), selector: maybe(open()), patches })),
    nodes: maybe(strict({
      enabled: maybe(Type.Boolean()), syncBackChanges: maybe(Type.Boolean()), clearImageStatus: maybe(Type.Boolean()),
      selector: maybe(strict({ all: maybe(Type.Boolean()), labels: maybe(Type.Record(Type.String(), Type.String())) })), patches,
    })),
    configMaps: maybe(mappings),
    secrets: maybe(mappings),
    ingressClasses: maybe(selected),
    runtimeClasses: maybe(selected),
    priorityClasses: maybe(selected),
    deviceClasses: maybe(selected),
    gatewayClasses: maybe(selected),
    gateways: maybe(openSwitch),
    volumeSnapshotClasses: maybe(enableSwitch),
    customResources: maybe(Type.Record(Type.String(), openSwitch)),
  })),
});

const rbacRule = strict({
  verbs: Type.Array(Type.String()), apiGroups: maybe(Type.Array(Type.String())), resources: maybe(Type.Array(Type.String())),
  resourceNames: maybe(Type.Array(Type.String())), nonResourceURLs: maybe(Type.Array(Type.String())),
});

/** One entry of the `plugins:` map (plugin.yaml files add these). */
export const PluginSchema = strict({
  name: maybe(Type.String()),
  image: maybe(Type.String()),
  imagePullPolicy: maybe(Type.String()),
  config: maybe(open()),
  rbac: maybe(strict({
    role: maybe(strict({ extraRules: maybe(Type.Array(rbacRule)) })),
    clusterRole: maybe(strict({ extraRules: maybe(Type.Array(rbacRule)) })),
  })),
  command: maybe(Type.Array(Type.String())),
  args: maybe(Type.Array(Type.String())),
  securityContext: maybe(open()),
  resources: maybe(open()),
  volumeMounts: maybe(Type.Array(open())),
  // kubenest's own: where the plugin binary is when there is no image to copy it from.
  path: maybe(Type.String()),
  // kubenest's own (beyond vCluster): a failed hook call refuses the operation (Fail) or is skipped (Ignore).
  failurePolicy: maybe(Type.Union([Type.Literal('Fail'), Type.Literal('Ignore')])),
  // kubenest's own: the per-call timeout of the plugin's hooks (vCluster: 10 s).
  timeoutSeconds: maybe(Type.Number({ exclusiveMinimum: 0 })),
});

export const VClusterValuesSchema = strict({
  sync: maybe(SyncSchema),
  plugins: maybe(Type.Record(Type.String(), PluginSchema)),
  plugin: maybe(Type.Record(Type.String(), open())),
  global: maybe(open()),
  integrations: maybe(open()),
  networking: maybe(open()),
  // The pod policy kubenest enforces on what reaches the host (ADR 10): `privileged` allows host access.
  policies: maybe(Type.Object({
    podSecurityStandard: maybe(Type.Union([Type.Literal('privileged'), Type.Literal('baseline'), Type.Literal('restricted')])),
  }, { additionalProperties: true })),
  controlPlane: maybe(open()),
  privateNodes: maybe(open()),
  rbac: maybe(open()),
  experimental: maybe(open()),
  external: maybe(open()),
  exportKubeConfig: maybe(open()),
  telemetry: maybe(open()),
  logging: maybe(open()),
  pro: maybe(Type.Boolean()),
  deploy: maybe(open()),
  platform: maybe(open()),
  sleepMode: maybe(open()),
});
