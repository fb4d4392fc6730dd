import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Static, TSchema } from '@sinclair/typebox';
import { broker, controller, grpc, health, pluginv2, stdio } from '@kubenest/plugin-proto';
import { parsePluginConfig, PluginConfigError } from './config.ts';
import { HookRegistry, type Hook } from './hooks.ts';
import { stderrLog, type Log } from './log.ts';

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

class Runtime {
  private readonly hooks = new HookRegistry();
  private readonly leaderWork: (() => void | Promise<void>)[] = [];
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
    // Logs go to stderr as hclog JSON (which the host shows); the stream is held open, as go-plugin's is.
    server.addService(stdio.GRPCStdioService, { streamStdio: () => {} } satisfies stdio.GRPCStdioServer);
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
        callback(null, { config: JSON.stringify(clientHooks.length ? { clientHooks } : {}) });
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
            this.log.warn(`refused ${type} of ${apiVersion} ${kind}: ${error.message}`);
            callback({ code: grpc.status.UNKNOWN, details: error.message });
          },
        );
      },
      setLeader: (_call, callback) => {
        callback(null, {});
        if (this.leader) return;
        this.leader = true;
        this.log.info('leading: starting leader-only work');
        for (const work of this.leaderWork) {
          Promise.resolve().then(work).catch((error: Error) => {
            this.log.error(`leader-only work failed: ${error.message}`);
            this.exit(1);
          });
        }
      },
    };
  }

  facade<C>(initConfig: InitConfig): Plugin<C> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const runtime = this;
    const p: Plugin<C> = {
      config: this.config as C,
      init: initConfig,
      log: this.log,
      get isLeader() { return runtime.leader; },
      hook(hook) {
        if (runtime.started) throw new Error('p.hook() after p.start(): the host reads hooks once, at Initialize; register every hook before start()');
        runtime.hooks.add(hook as Hook);
        return p;
      },
      onLeader(work) {
        runtime.leaderWork.push(work);
        return p;
      },
      start() {
        if (runtime.started) return Promise.resolve();
        runtime.started = true;
        runtime.log.info('plugin ready', { hooks: runtime.hooks.clientHooks().map((h) => `${h.apiVersion}/${h.kind}: ${h.types.join(',')}`) });
        runtime.answerInitialize?.();
        return Promise.resolve();
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

/** After the handshake the host discards stdout: what a plugin prints there goes to the log instead. */
function redirectStdout(log: Log): void {
  let pending = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') log.info(line, { stream: 'stdout' });
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  });
}
