import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Static, TSchema } from '@sinclair/typebox';
import type { KubeClient, KubeObject } from '@kubenest/kube';
import { broker, controller, grpc, health, pluginv2, stdio } from '@kubenest/plugin-proto';
import { FromHostController, SyncController, type FromHostSyncer, type SyncContext, type Syncer } from '@kubenest/sync';
import { applyManifestFile, clustersFrom, CrdMissingError, ensureCrdFromHost, type Clusters } from './clusters.ts';
import { parsePluginConfig, PluginConfigError } from './config.ts';
import { HookRegistry, type Hook } from './hooks.ts';
import { InterceptorRegistry, type Interceptor } from './interceptors.ts';
import { stderrLog, type Log } from './log.ts';
import { copyToHost } from './syncers.ts';

/** go-plugin's words for a plugin run by hand (its `Serve`), which Go plugins print. */
export const NOT_A_COMMAND = 'This binary is a plugin. These are not meant to be executed directly.\n'
  + 'Please execute the program that consumes these plugins, which will\n'
  + 'load any plugins automatically\n';

/** What the host tells the plugin in `Initialize` (InitConfig, its byte fields decoded). */
export interface InitConfig {
  /** The virtual cluster's config (vcluster.yaml as JSON, with `name` and `hostNamespace`). */
  vcluster: { name?: string; hostNamespace?: string; [key: string]: unknown };
  /** The host cluster's kubeconfig (YAML), `controlPlaneConfig`. */
  hostKubeconfig: string;
  /** The virtual cluster's kubeconfig (YAML), `syncerConfig`. */
  virtualKubeconfig: string;
  /** The plugin's own directory: the process has changed into it. */
  workingDir: string;
  /** Where the plugin would serve interceptors (127.0.0.1:port). */
  port: number;
}

export interface Plugin<C> {
  /** `PLUGIN_CONFIG`, parsed (and checked, when `init` was given a schema). */
  readonly config: C;
  readonly init: InitConfig;
  readonly log: Log;
  /** True once the host said SetLeader. */
  readonly isLeader: boolean;
  /**
   * Registers hooks for one kind, in order: several hooks for a kind run in registration order,
   * each on the previous one's result. Before `start()` only.
   */
  hook<A extends string, K extends string>(hook: Hook<A, K>): this;
  /** Runs `work` once this replica leads (SetLeader); hooks serve on every replica from the start. */
  onLeader(work: () => void | Promise<void>): this;
  /** The host cluster (InitConfig `controlPlaneConfig`): client, discovery, informers. Not hooked. */
  readonly host: KubeClient;
  /** The virtual cluster (InitConfig `syncerConfig`). Not hooked. */
  readonly virtual: KubeClient;
  /** What syncers get: both clusters, the virtual cluster's name and host namespace, vCluster's names and markers. */
  readonly sync: SyncContext;
  /**
   * A to-host syncer (the built-in syncers' interface, `Syncer` of @kubenest/sync), run by the
   * generic controller once this replica leads: virtual objects get host copies under vCluster's
   * names and markers. Before `start()` only.
   */
  syncToHost<T extends KubeObject>(syncer: Syncer<T>): this;
  /** A from-host (import) syncer (`FromHostSyncer`), run once this replica leads. Before `start()` only. */
  syncFromHost<H extends KubeObject, V extends KubeObject>(syncer: FromHostSyncer<H, V>): this;
  /**
   * Syncs a custom resource to the host: once this replica leads, its CRD is copied from the host
   * into the virtual cluster (missing on the host: an error in the log, retried every 10 s), then
   * its objects are copied to the host (`copyToHost`), or by `syncer` when given.
   */
  syncCrd(crd: { apiVersion: string; kind: string; name?: string; syncer?: Omit<Syncer, 'resource'> }): this;
  /**
   * An interceptor: requests the host's proxy matches by `rules` are handed to `handle` on the
   * InitConfig's port (served from `start()`, on every replica). Before `start()` only.
   */
  intercept(interceptor: Interceptor): this;
  /** Applies a YAML manifest (relative to the plugin's directory) to the virtual cluster with server-side apply. */
  apply(file: string): Promise<KubeObject[]>;
  /** Tells the host what the plugin offers (Initialize returns); hooks serve from now on. */
  start(): Promise<void>;
}

export interface InitOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the plugin side of vCluster's protocol v2 and waits for the host's `Initialize`. Refuses to
 * run outside a host (no `VCLUSTER_PLUGIN=vcluster`) and with a `PLUGIN_CONFIG` that does not match
 * `schema`: either ends the process with exit code 1 and the reason on stderr.
 */
async function init<C = Record<string, unknown>>(schema?: undefined, options?: InitOptions): Promise<Plugin<C>>;
async function init<S extends TSchema>(schema: S, options?: InitOptions): Promise<Plugin<Static<S>>>;
async function init(schema?: TSchema, options: InitOptions = {}): Promise<Plugin<unknown>> {
  const env = options.env ?? process.env;
  const log = stderrLog();
  if (env['VCLUSTER_PLUGIN'] !== 'vcluster') {
    process.stderr.write(NOT_A_COMMAND);
    process.exit(1);
  }
  // The plugin's own mistakes (a bad p.hook(), a throw at its top level) end it with the reason
  // in its log, where the host quotes it, rather than as an unformatted stack.
  process.on('uncaughtException', (error) => {
    log.error(`plugin failed: ${error instanceof Error ? error.message : String(error)}`, { stack: error instanceof Error ? error.stack : undefined });
    process.exit(1);
  });
  let config: unknown;
  try {
    config = parsePluginConfig(env['PLUGIN_CONFIG'], schema);
  } catch (error) {
    if (!(error instanceof PluginConfigError)) throw error;
    log.error(error.message);
    process.exit(1);
  }
  const runtime = new Runtime(config, log);
  await runtime.listen(join(env['PLUGIN_UNIX_SOCKET_DIR'] || env['TMPDIR'] || tmpdir(), `plugin${randomBytes(5).toString('hex')}`));
  const initConfig = await runtime.initialized;
  return runtime.facade(initConfig);
}

/** The one entry point: `const p = await plugin.init(schema?)`. */
export const plugin = { init };

/** Leader-only work: syncers, and what `onLeader` was given. */
interface LeaderWork {
  what: string;
  run: () => void | Promise<void>;
  /** A syncer keeps its plugin alive when it fails to start: it logs and retries. */
  retry?: boolean;
}

const RETRY_MS = 10_000;

class Runtime {
  private readonly hooks = new HookRegistry();
  private readonly interceptors = new InterceptorRegistry();
  private readonly leaderWork: LeaderWork[] = [];
  private readonly controllers: { stop(): Promise<void> }[] = [];
  private clusters: Clusters | undefined;
  private interceptorServer: Server | undefined;
  private started = false;
  private leader = false;
  private server: grpc.Server | undefined;
  private socket: string | undefined;
  private answerInitialize: (() => void) | undefined;
  private gotInitialize!: (config: InitConfig) => void;
  private badInitialize!: (error: Error) => void;
  readonly initialized = new Promise<InitConfig>((resolve, reject) => { this.gotInitialize = resolve; this.badInitialize = reject; });

  private readonly config: unknown;
  private readonly log: Log;

  constructor(config: unknown, log: Log) {
    this.config = config;
    this.log = log;
  }

  async listen(socket: string): Promise<void> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 2 ** 31 - 1,
      'grpc.max_send_message_length': 2 ** 31 - 1,
    });
    server.addService(pluginv2.PluginService, this.pluginService());
    server.addService(health.HealthService, healthService());
    server.addService(controller.GRPCControllerService, {
      shutdown: (_call, callback) => {
        // As go-plugin: answer and stop (its client ignores a reply lost to the exit).
        callback(null, {});
        setTimeout(() => this.exit(0), 100);
      },
    } satisfies controller.GRPCControllerServer);
    // What the plugin prints on stdout after the handshake travels over GRPCStdio, as go-plugin
    // sends a Go plugin's (the host logs it under the plugin's name); logs go to stderr as hclog JSON.
    server.addService(stdio.GRPCStdioService, {
      streamStdio: (call) => {
        stdioStreams.add(call);
        // Headers now, so a host can tell the stream is registered before anything is printed.
        call.sendMetadata(new grpc.Metadata());
        call.on('cancelled', () => stdioStreams.delete(call));
        call.on('close', () => stdioStreams.delete(call));
      },
    } satisfies stdio.GRPCStdioServer);
    server.addService(broker.GRPCBrokerService, {
      startStream: (call) => {
        call.on('data', () => {});
        call.on('end', () => call.end());
      },
    } satisfies broker.GRPCBrokerServer);
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
    }).catch((error: Error) => {
      this.log.error(`cannot listen on unix socket ${socket}: ${error.message}`);
      process.exit(1);
    });
    this.server = server;
    this.socket = socket;
    process.once('exit', () => rmSync(socket, { force: true }));
    // Go plugins ignore SIGINT (the host's terminal's ^C reaches the host, which ends them); SIGTERM ends.
    process.on('SIGINT', () => {});
    process.once('SIGTERM', () => this.exit(0));
    // Listening: now, and only now, the handshake, as the first bytes on stdout.
    process.stdout.write(`1|1|unix|${socket}|grpc|\n`);
    redirectStdout(this.log);
  }

  private exit(code: number): void {
    this.server?.forceShutdown();
    this.interceptorServer?.close();
    if (this.socket) rmSync(this.socket, { force: true });
    process.exit(code);
  }

  private pluginService(): pluginv2.PluginServer {
    return {
      initialize: (call, callback) => {
        if (this.answerInitialize || this.started) {
          // Told twice (a host retrying): answer once we are ready.
          if (this.started) callback(null, {});
          else this.initialized.then(() => callback(null, {}), () => {});
          return;
        }
        let decoded: InitConfig;
        try {
          decoded = decodeInitConfig(call.request.config);
          process.chdir(decoded.workingDir || process.cwd());
        } catch (error) {
          const message = `cannot read the host's InitConfig: ${(error as Error).message}`;
          this.log.error(message);
          callback({ code: grpc.status.INVALID_ARGUMENT, details: message });
          this.badInitialize(new Error(message));
          return;
        }
        // Returns when the plugin has registered what it offers (start()).
        this.answerInitialize = () => callback(null, {});
        this.gotInitialize(decoded);
      },
      getPluginConfig: (_call, callback) => {
        const clientHooks = this.started ? this.hooks.clientHooks() : [];
        const interceptors = this.started ? this.interceptors.config() : {};
        callback(null, { config: JSON.stringify({ ...(clientHooks.length ? { clientHooks } : {}), ...(Object.keys(interceptors).length ? { interceptors } : {}) }) });
      },
      mutate: (call, callback) => {
        const { apiVersion, kind, type } = call.request;
        // As the Go SDK: hooks serve once registration is complete (start()), never half of them.
        if (!this.started) {
          callback(null, { mutated: false, object: '' });
          return;
        }
        this.hooks.mutate(call.request).then(
          (response) => callback(null, response),
          (error: Error) => {
            this.log.error(`refused ${type} of ${apiVersion} ${kind}: ${error.message}`);
            callback({ code: grpc.status.UNKNOWN, details: error.message });
          },
        );
      },
      setLeader: (_call, callback) => {
        callback(null, {});
        if (this.leader) return;
        this.leader = true;
        this.log.info('leading: starting leader-only work');
        for (const work of this.leaderWork) void this.runLeaderWork(work);
      },
    };
  }

  /**
   * Runs one piece of leader-only work. A syncer that cannot start (its CRD missing on the host,
   * the host refusing a read) says why in the log and tries again; `onLeader` work that throws
   * ends the plugin with the reason, as a Go plugin's failed start does.
   */
  private async runLeaderWork(work: LeaderWork): Promise<void> {
    for (;;) {
      try {
        await work.run();
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (!work.retry) {
          this.log.error(`leader-only work failed: ${message}`);
          this.exit(1);
          return;
        }
        const missing = error instanceof CrdMissingError;
        this.log.error(`${work.what} cannot start: ${message}; retrying in ${RETRY_MS / 1000} s`, missing ? { reason: 'CrdMissing' } : {});
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private clustersOf(initConfig: InitConfig): Clusters {
    this.clusters ??= clustersFrom(initConfig);
    return this.clusters;
  }

  private syncerErrors(name: string): (key: string, error: unknown) => void {
    return (key, error) => this.log.error(`syncer ${name}: ${key}: ${error instanceof Error ? error.message : String(error)}`);
  }

  private beforeStart(what: string): void {
    if (this.started) throw new Error(`${what} after p.start(): the host reads what a plugin offers once, at Initialize; register it before start()`);
  }

  private async startInterceptors(port: number): Promise<void> {
    if (this.interceptors.size === 0) return;
    if (!port) {
      this.log.error('the host gave no interceptor port (InitConfig.port is 0), so the interceptors cannot be served');
      this.exit(1);
    }
    try {
      this.interceptorServer = await this.interceptors.listen(port, this.log);
    } catch (error) {
      this.log.error(`cannot serve interceptors on 127.0.0.1:${port}: ${(error as Error).message}`);
      this.exit(1);
    }
  }

  facade<C>(initConfig: InitConfig): Plugin<C> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const runtime = this;
    const p: Plugin<C> = {
      config: this.config as C,
      init: initConfig,
      log: this.log,
      get isLeader() { return runtime.leader; },
      get host() { return runtime.clustersOf(initConfig).host; },
      get virtual() { return runtime.clustersOf(initConfig).virtual; },
      get sync() { return runtime.clustersOf(initConfig).sync; },
      hook(hook) {
        runtime.beforeStart('p.hook()');
        runtime.hooks.add(hook as Hook);
        return p;
      },
      onLeader(work) {
        runtime.leaderWork.push({ what: 'leader-only work', run: work });
        return p;
      },
      syncToHost(syncer) {
        runtime.beforeStart('p.syncToHost()');
        runtime.leaderWork.push({
          what: `syncer ${syncer.name}`, retry: true,
          run: async () => {
            const controller = new SyncController(p.sync, syncer, { onError: runtime.syncerErrors(syncer.name) });
            runtime.controllers.push(controller);
            await controller.start();
            runtime.log.info(`syncer ${syncer.name} started`, { resource: syncer.resource.resource });
          },
        });
        return p;
      },
      syncFromHost(syncer) {
        runtime.beforeStart('p.syncFromHost()');
        runtime.leaderWork.push({
          what: `syncer ${syncer.name}`, retry: true,
          run: async () => {
            const controller = new FromHostController(p.sync, syncer, { onError: runtime.syncerErrors(syncer.name) });
            runtime.controllers.push(controller);
            await controller.start();
            runtime.log.info(`syncer ${syncer.name} started`, { resource: syncer.hostResource.resource });
          },
        });
        return p;
      },
      syncCrd({ apiVersion, kind, name, syncer }) {
        runtime.beforeStart('p.syncCrd()');
        if (typeof apiVersion !== 'string' || !apiVersion.includes('/') || typeof kind !== 'string' || !kind) {
          throw new Error(`p.syncCrd(): apiVersion must be group/version and kind a Kind (got ${JSON.stringify(apiVersion)} ${JSON.stringify(kind)})`);
        }
        const syncerName = syncer?.name ?? name ?? kind.toLowerCase();
        runtime.leaderWork.push({
          what: `syncer ${syncerName} (${apiVersion} ${kind})`, retry: true,
          run: async () => {
            const resource = await ensureCrdFromHost(runtime.clustersOf(initConfig), apiVersion, kind);
            runtime.log.info(`CRD ${resource.resource}.${resource.group} is in the virtual cluster`);
            const built: Syncer = syncer ? { ...syncer, resource } : copyToHost(syncerName, resource);
            const controller = new SyncController(p.sync, built, { onError: runtime.syncerErrors(syncerName) });
            runtime.controllers.push(controller);
            await controller.start();
            runtime.log.info(`syncer ${syncerName} started`, { resource: resource.resource });
          },
        });
        return p;
      },
      intercept(interceptor) {
        runtime.beforeStart('p.intercept()');
        runtime.interceptors.add(interceptor);
        return p;
      },
      apply(file) {
        return applyManifestFile(p.virtual, file, 'vcluster-plugin');
      },
      async start() {
        if (runtime.started) return;
        await runtime.startInterceptors(initConfig.port);
        runtime.started = true;
        runtime.log.info('plugin ready', {
          hooks: runtime.hooks.clientHooks().map((h) => `${h.apiVersion}/${h.kind}: ${h.types.join(',')}`),
          ...(runtime.interceptors.size ? { interceptors: Object.keys(runtime.interceptors.config()), port: initConfig.port } : {}),
        });
        runtime.answerInitialize?.();
      },
    };
    return p;
  }
}

function healthService(): health.HealthServer {
  const status = (service: string): number | undefined =>
    (service === '' || service === 'plugin' ? health.HealthCheckResponse_ServingStatus.SERVING : undefined);
  return {
    check: (call, callback) => {
      const s = status(call.request.service);
      if (s === undefined) callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
      else callback(null, { status: s as health.HealthCheckResponse_ServingStatus });
    },
    watch: (call) => {
      call.write({ status: (status(call.request.service) ?? health.HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN) as health.HealthCheckResponse_ServingStatus });
    },
  };
}

function decodeInitConfig(text: string): InitConfig {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const bytes = (field: string): string => (typeof raw[field] === 'string' ? Buffer.from(raw[field], 'base64').toString('utf8') : '');
  const vclusterJson = bytes('config');
  return {
    vcluster: vclusterJson ? JSON.parse(vclusterJson) as InitConfig['vcluster'] : {},
    hostKubeconfig: bytes('controlPlaneConfig'),
    virtualKubeconfig: bytes('syncerConfig'),
    workingDir: typeof raw['workingDir'] === 'string' ? raw['workingDir'] : '',
    port: typeof raw['port'] === 'number' ? raw['port'] : 0,
  };
}

/** The host's GRPCStdio streams (one per host connection; none before it connects). */
const stdioStreams = new Set<grpc.ServerWritableStream<unknown, stdio.StdioData>>();

/**
 * After the handshake stdout belongs to the protocol: what a plugin prints there goes over
 * GRPCStdio once the host has opened it, and to the log until then.
 */
function redirectStdout(log: Log): void {
  let pending = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const data = Buffer.from(chunk);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (stdioStreams.size > 0) {
      for (const stream of stdioStreams) stream.write({ channel: stdio.StdioData_Channel.STDOUT, data });
      callback?.();
      return true;
    }
    pending += data.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') log.info(line, { stream: 'stdout' });
    callback?.();
    return true;
  });
}
