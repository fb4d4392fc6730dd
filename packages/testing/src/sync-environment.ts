import { CORE, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { HOST_SERVICE_CIDR, VirtualControlPlane } from '@kubenest/kubenest';
import { HookedClient, MetadataTranslator, NameTranslator, NO_HOOKS, SyncController, type ObjectHooks, type SyncContext, type Syncer } from '@kubenest/sync';
import { run, startHostCluster, tempDir, testBinaries, type CommandResult, type TestHostCluster } from './index.ts';

export interface SyncEnvironment {
  host: TestHostCluster;
  plane: VirtualControlPlane;
  hostClient: KubeClient;
  virtualClient: KubeClient;
  ctx: SyncContext;
  hostNamespace: string;
  /** kubectl against the virtual cluster. */
  vkubectl(...args: string[]): Promise<CommandResult>;
  /** Starts a syncer in this environment; it is stopped by `dispose`. */
  startSyncer<T extends KubeObject>(syncer: Syncer<T>): Promise<SyncController<T>>;
  dispose(): Promise<void>;
}

/**
 * A real host cluster, a real virtual control plane named `name`, and a sync context between
 * them (host namespace `vc-<name>`), for testing syncers, ours or a plugin's; `hooks` stand in for
 * the plugins' hook chain.
 */
export async function startSyncEnvironment(name = 'demo', hooks: ObjectHooks = NO_HOOKS): Promise<SyncEnvironment> {
  const dir = tempDir('kn-syncenv-');
  const hostNamespace = `vc-${name}`;
  const host = await startHostCluster({ nodes: 0 });
  const plane = await VirtualControlPlane.start({ name, dataDir: `${dir.path}/${name}`, binaries: await testBinaries(), serviceCidr: HOST_SERVICE_CIDR });
  const hostClient = new KubeClient(loadKubeconfig(host.kubeconfig), { qps: Infinity });
  const virtualClient = new KubeClient(loadKubeconfig(plane.kubeconfig), { qps: Infinity });
  await hostClient.resourceFor(CORE['namespaces']!).create({ metadata: { name: hostNamespace } });
  const ctx: SyncContext = {
    virtual: new HookedClient('virtual', virtualClient, hooks), host: new HookedClient('host', hostClient, hooks),
    vclusterName: name, hostNamespace, names: new NameTranslator(name, hostNamespace), meta: new MetadataTranslator(name, hostNamespace),
  };
  const controllers: SyncController[] = [];
  return {
    host, plane, hostClient, virtualClient, ctx, hostNamespace,
    vkubectl: (...args) => run('kubectl', ['--kubeconfig', plane.kubeconfig, ...args]),
    async startSyncer<T extends KubeObject>(syncer: Syncer<T>): Promise<SyncController<T>> {
      const controller = new SyncController<T>(ctx, syncer);
      controllers.push(controller as unknown as SyncController);
      await controller.start();
      return controller;
    },
    async dispose() {
      for (const controller of controllers) await controller.stop();
      await hostClient.close();
      await virtualClient.close();
      await plane.stop();
      await host.dispose();
      dir.remove();
    },
  };
}
