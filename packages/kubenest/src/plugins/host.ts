import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import type { KubeObject, RestConfig } from '@kubenest/kube';
import type { HookType, ObjectHooks } from '@kubenest/sync';
import type { Values } from '../config/values.ts';
import { writeFileAtomic } from '../controlplane/files.ts';
import { recordPids } from '../controlplane/pids.ts';
import { freePort } from '../controlplane/ports.ts';
import { pluginEntries, pluginExecutable, type PluginEntry } from './entries.ts';
import { buildInitConfig, type MappingStoreEndpoint } from './init-config.ts';
import { pluginPidsFile, pluginStatusFile } from './files.ts';
import { goMerge } from './merge.ts';
import { interceptorConflicts, parsePluginConfig, type PluginConfig } from './plugin-config.ts';
import { PluginProcess, call } from './process.ts';

export type PluginState = 'starting' | 'running' | 'restarting' | 'stopped';

/** What `kubenest plugins NAME` shows, written to `plugins/status.json` on every change. */
export interface PluginStatus {
  name: string;
  state: PluginState;
  pid?: number | undefined;
  executable: string;
  workingDir: string;
  /** Interceptor port handed to the plugin in InitConfig. */
  port: number;
  restarts: number;
  leader: boolean;
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  hooks: { apiVersion: string; kind: string; types: string[] }[];
  interceptors: string[];
  lastError?: string | undefined;
  startedAt?: string | undefined;
}

export interface PluginHostOptions {
  vclusterName: string;
  hostNamespace: string;
  values: Values;
  /**
   * The host credentials a plugin is given, asked at each (re)start of its process: its own
   * ServiceAccount's token (`rbac.ts`), never the syncer's credentials.
   */
  /** The plugin's host credentials; `expiresAt` (epoch ms) when its token expires, so it is renewed before. */
  hostCredentials: (plugin: string) => Promise<RestConfig & { expiresAt?: number }>;
  virtualKubeconfigFile: string;
  mappingStore: MappingStoreEndpoint;
  /** The virtual cluster's data dir: `plugins/<name>/` working dirs, the socket dir, status. */
  dataDir: string;
  logsDir: string;
  /** Extra environment for every plugin (besides PLUGIN_CONFIG and the handshake's). */
  env?: Record<string, string>;
  progress: (line: string) => void;
  /** Handshake timeout (go-plugin's default: 1 minute). */
  startTimeoutMs?: number;
  /** First restart delay; doubles per failed attempt up to 30 s. */
  restartDelayMs?: number;
}

export class PluginRefusedError extends Error {
  readonly plugin: string;
  /** The kind the refused operation was on (that of the virtual object its syncer syncs). */
  readonly apiVersion: string;
  readonly kind: string;
  constructor(plugin: string, message: string, apiVersion: string, kind: string) {
    super(message);
    this.name = 'PluginRefusedError';
    this.plugin = plugin;
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

/** The socket dir: under the data dir unless that path is too long for a unix socket. */
function socketDirFor(dataDir: string): string {
  const inDir = join(dataDir, 'run', 'plugin-sockets');
  // go-plugin appends "/plugin" and 10 digits; the kernel's limit is 107 bytes.
  if (Buffer.byteLength(inDir) <= 80) return inDir;
  return join(tmpdir(), `kubenest-${process.getuid?.() ?? 0}`, createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
}

class Metrics {
  readonly registry = new Registry();
  readonly calls = new Counter({ name: 'kubenest_plugin_hook_calls_total', help: 'Mutate calls per plugin and hook type', labelNames: ['plugin', 'type'], registers: [this.registry] });
  readonly refusals = new Counter({ name: 'kubenest_plugin_hook_refusals_total', help: 'Mutate calls that failed (error, timeout, plugin down), per plugin and hook type', labelNames: ['plugin', 'type'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'kubenest_plugin_hook_duration_seconds', help: 'Mutate round trip per plugin and hook type', labelNames: ['plugin', 'type'], registers: [this.registry],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
  });
  // The children per (plugin, type), so a hook call does not hash its labels three times.
  private readonly children = new Map<string, { calls: Counter.Internal; refusals: Counter.Internal; latency: Histogram.Internal<'plugin' | 'type'> }>();

  of(plugin: string, type: HookType): { calls: Counter.Internal; refusals: Counter.Internal; latency: Histogram.Internal<'plugin' | 'type'> } {
    const key = `${plugin}\0${type}`;
    let child = this.children.get(key);
    if (!child) {
      child = { calls: this.calls.labels(plugin, type), refusals: this.refusals.labels(plugin, type), latency: this.latency.labels(plugin, type) };
      this.children.set(key, child);
    }
    return child;
  }
}

/** One plugin: its process across restarts, its registered hooks, its state. */
class PluginRunner {
  readonly entry: PluginEntry;
  state: PluginState = 'starting';
  restarts = 0;
  lastError: string | undefined;
  config: PluginConfig = { clientHooks: [], interceptors: {} };
  process: PluginProcess | undefined;
  startedAt: string | undefined;
  /** SetLeader went to the current process (a Go SDK plugin panics on a second one). */
  leaderSent = false;
  readonly log: Logger;
  private readonly host: PluginHost;
  private readonly executable: string;
  private readonly workingDir: string;
  /** Interceptor port handed to the plugin in InitConfig (it serves its interceptors there). */
  readonly port: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;
  private restartDelay: number;
  /** Why the current process is being ended on purpose (then its exit is not an error). */
  private recycleReason: string | undefined;

  constructor(host: PluginHost, entry: PluginEntry, executable: string, workingDir: string, port: number, log: Logger) {
    this.host = host;
    this.entry = entry;
    this.executable = executable;
    this.workingDir = workingDir;
    this.port = port;
    this.log = log;
    this.restartDelay = host.options.restartDelayMs ?? 200;
  }

  /** Launch, handshake, Initialize, GetPluginConfig; the process is ended again if any step fails. */
  async start(): Promise<void> {
    const o = this.host.options;
    this.log.info({ executable: this.executable }, 'launching');
    const process = await PluginProcess.launch({
      name: this.entry.name, executable: this.executable, workingDir: this.workingDir, socketDir: this.host.socketDir,
      pluginConfig: this.entry.pluginConfig, env: { NAMESPACE: o.hostNamespace, VCLUSTER_NAME: o.vclusterName, ...o.env },
      log: this.log, ...(o.startTimeoutMs ? { startTimeoutMs: o.startTimeoutMs } : {}),
    });
    if (this.host.stopping || this.state === 'stopped') {
      // stop() ran while this process was being launched: it must not outlive the host.
      await process.stop(500);
      throw new Error(`plugin "${this.entry.name}": the plugin host is stopping`);
    }
    this.process = process;
    this.leaderSent = false;
    this.host.recordPids();
    try {
      const { expiresAt, ...host } = await o.hostCredentials(this.entry.name);
      this.scheduleRenewal(process, expiresAt);
      const init = buildInitConfig({
        name: o.vclusterName, hostNamespace: o.hostNamespace, values: o.values, host,
        virtualKubeconfigFile: o.virtualKubeconfigFile, mappingStore: o.mappingStore, workingDir: this.workingDir, port: this.port,
      });
      this.log.info({ port: this.port, pid: process.pid }, 'handshake done; Initialize');
      // No deadline, as in vCluster: it returns after the plugin's own start-up (a CRD ready, say).
      // It fails at once if the process dies meanwhile.
      await Promise.race([
        call(process.client.initialize.bind(process.client), { config: JSON.stringify(init) }),
        process.exited.then(({ code, signal }) => { throw new Error(`exited during Initialize (${signal ? `signal ${signal}` : `exit code ${code}`})`); }),
      ]);
      this.log.info('Initialize returned');
      const answer = await call(process.client.getPluginConfig.bind(process.client), {}, 30_000);
      this.config = parsePluginConfig(this.entry.name, answer.config);
    } catch (error) {
      // A plugin that died of its start-up is described by how it ended, not by the dropped call.
      const ended = await Promise.race([process.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 300))]);
      await process.stop(500);
      this.process = undefined;
      this.host.recordPids();
      // eslint-disable-next-line no-control-regex
      const tail = process.recentLines.length ? `; its last log lines: ${process.recentLines.slice(-3).map((l) => l.replace(/\u001b\[[0-9;]*m/g, '').replace(/\s+/g, ' ')).join(' | ')}` : '';
      const message = (error as Error).message.replace(/^\d+ [A-Z_]+: /, '');
      const what = ended ? `exited during Initialize (${ended.signal ? `signal ${ended.signal}` : `exit code ${ended.code}`})`
        : message.startsWith('plugin "') || message.startsWith('exited during') ? message : `Initialize failed: ${message}`;
      throw new Error(`plugin "${this.entry.name}" (${this.executable}): ${what}${tail}`, { cause: error });
    }
    if (this.host.stopping || (this.state as PluginState) === 'stopped') {
      await process.stop(500);
      this.process = undefined;
      throw new Error(`plugin "${this.entry.name}": the plugin host is stopping`);
    }
    this.state = 'running';
    this.startedAt = new Date().toISOString();
    this.restartDelay = o.restartDelayMs ?? 200;
    this.log.info({ hooks: this.config.clientHooks, interceptors: Object.keys(this.config.interceptors) }, 'plugin loaded');
    void process.exited.then((how) => this.onExit(process, how));
    this.host.changed();
  }

  async setLeader(): Promise<void> {
    const process = this.process;
    if (!process || this.leaderSent || this.state !== 'running') return;
    this.leaderSent = true;
    await call(process.client.setLeader.bind(process.client), {});
    this.log.info('SetLeader sent');
    this.host.changed();
  }

  /** Ends the current process so that a fresh one starts (a Go plugin cannot take a second SetLeader). */
  async recycle(reason: string): Promise<void> {
    const process = this.process;
    if (!process) return;
    this.log.info({ reason }, 'restarting the plugin');
    this.recycleReason = reason;
    await process.stop();
  }

  /**
   * A plugin is handed its host token once, in InitConfig, and cannot be given another: the
   * process is restarted with a fresh token at 80% of the token's lifetime (the host may have
   * shortened it: `--service-account-max-token-expiration`).
   */
  private scheduleRenewal(process: PluginProcess, expiresAt: number | undefined): void {
    clearTimeout(this.renewalTimer);
    if (expiresAt === undefined) return;
    const renewAt = Date.now() + Math.max(1000, 0.8 * (expiresAt - Date.now()));
    const wait = (): void => {
      // setTimeout takes at most about 24.8 days.
      const left = renewAt - Date.now();
      this.renewalTimer = setTimeout(() => {
        if (left > 2 ** 31 - 1) wait();
        else if (this.process === process) void this.recycle(`host token renewal (the token handed to the plugin expires at ${new Date(expiresAt).toISOString()})`);
      }, Math.min(left, 2 ** 31 - 1));
      this.renewalTimer.unref();
    };
    wait();
  }

  private onExit(process: PluginProcess, how: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (this.process !== process) return;
    this.process = undefined;
    this.host.recordPids();
    if (this.host.stopping) return;
    clearTimeout(this.renewalTimer);
    const why = this.recycleReason ?? `exited (${how.signal ? `signal ${how.signal}` : `exit code ${how.code}`})${process.recentLines.length ? `; last log: ${process.recentLines.at(-1)}` : ''}`;
    this.recycleReason = undefined;
    this.lastError = why;
    this.state = 'restarting';
    this.log.warn({ restartInMs: this.restartDelay }, `plugin ${why}; restarting`);
    this.host.options.progress(`plugin ${this.entry.name} ${why}; restarting`);
    this.host.changed();
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    this.restartTimer = setTimeout(() => { void this.restart(); }, this.restartDelay);
    this.restartDelay = Math.min(this.restartDelay * 2, 30_000);
  }

  private async restart(): Promise<void> {
    if (this.host.stopping) return;
    this.restarts += 1;
    try {
      await this.start();
      this.log.info({ restarts: this.restarts }, 'plugin restarted');
      this.host.options.progress(`plugin ${this.entry.name} restarted (restart ${this.restarts})`);
      if (this.host.leading) await this.setLeader();
    } catch (error) {
      if (this.host.stopping) return;
      this.lastError = (error as Error).message;
      this.state = 'restarting';
      this.log.error({ err: this.lastError }, 'restart failed');
      this.host.changed();
      this.scheduleRestart();
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    clearTimeout(this.renewalTimer);
    this.state = 'stopped';
    await this.process?.stop();
    this.process = undefined;
  }

  hooks(apiVersion: string, kind: string, type: HookType): boolean {
    return this.config.clientHooks.some((h) => h.apiVersion === apiVersion && h.kind === kind && h.types.includes(type));
  }

  status(): PluginStatus {
    return {
      name: this.entry.name, state: this.state, pid: this.process?.pid, executable: this.executable, workingDir: this.workingDir, port: this.port,
      restarts: this.restarts, leader: this.leaderSent, failurePolicy: this.entry.failurePolicy, timeoutSeconds: this.entry.timeoutMs / 1000,
      hooks: this.config.clientHooks, interceptors: Object.keys(this.config.interceptors), lastError: this.lastError, startedAt: this.startedAt,
    };
  }
}

/**
 * The plugins of one virtual cluster (vCluster plugin protocol v2): started in load order before
 * the syncers, their hooks run as one chain (the `ObjectHooks` the syncer's clients call), sent
 * SetLeader once this replica's controllers run as leader, restarted with backoff when they die.
 */
export class PluginHost implements ObjectHooks {
  readonly options: PluginHostOptions;
  readonly socketDir: string;
  readonly metrics = new Metrics();
  stopping = false;
  leading = false;
  private runners: PluginRunner[] = [];
  private readonly statusFile: string;
  private readonly loggers: { flush(): void }[] = [];
  private statusWrite: Promise<void> = Promise.resolve();

  private constructor(options: PluginHostOptions) {
    this.options = options;
    this.socketDir = socketDirFor(options.dataDir);
    this.statusFile = pluginStatusFile(options.dataDir);
  }

  /** Loads every plugin of the values, in order; any failure ends those started and throws, naming the plugin. */
  static async start(options: PluginHostOptions): Promise<PluginHost> {
    const host = new PluginHost(options);
    const entries = pluginEntries(options.values);
    rmSync(host.socketDir, { recursive: true, force: true });
    mkdirSync(host.socketDir, { recursive: true, mode: 0o700 });
    try {
      for (const entry of entries) {
        const executable = await pluginExecutable(entry, options.progress);
        const workingDir = join(options.dataDir, 'plugins', entry.name);
        preparePluginDir(entry, executable, workingDir);
        const logFile = join(options.logsDir, 'plugin', `${entry.name}.log`);
        mkdirSync(dirname(logFile), { recursive: true });
        const destination = pino.destination({ dest: logFile, append: true, sync: true });
        host.loggers.push(destination);
        const log = pino({ base: { plugin: entry.name }, level: 'debug', timestamp: pino.stdTimeFunctions.isoTime }, destination);
        const runner = new PluginRunner(host, entry, executable, workingDir, await freePort(), log);
        host.runners.push(runner);
        options.progress(`starting plugin ${entry.name} (${executable})`);
        await runner.start();
        options.progress(`plugin ${entry.name} loaded: ${describeHooks(runner.config)}`);
      }
      const conflicts = interceptorConflicts(host.runners.map((r) => ({ name: r.entry.name, config: r.config })));
      if (conflicts.length > 0) throw new Error(conflicts.join('; '));
    } catch (error) {
      await host.stop();
      throw error;
    }
    host.changed();
    return host;
  }

  get names(): string[] {
    return this.runners.map((r) => r.entry.name);
  }

  wants(apiVersion: string, kind: string, type: HookType): boolean {
    return this.runners.some((r) => r.hooks(apiVersion, kind, type));
  }

  /**
   * The hook chain: the plugins hooking (apiVersion, kind, type) in load order, each given the
   * previous one's output, each call with its plugin's timeout; the result applied to the object
   * with Go's merge semantics. A failed call (error, timeout, plugin down) refuses the operation
   * when the plugin's failurePolicy is Fail, and is skipped when it is Ignore.
   */
  async mutate<T extends KubeObject>(type: HookType, object: T): Promise<T> {
    const apiVersion = object.apiVersion;
    const kind = object.kind;
    if (!apiVersion || !kind) throw new Error(`hook ${type}: the object has no apiVersion/kind, so its plugin hooks cannot be found`);
    const chain = this.runners.filter((r) => r.hooks(apiVersion, kind, type));
    if (chain.length === 0) return object;
    let json = JSON.stringify(object);
    let mutated = false;
    const what = (): string => `${type} ${apiVersion}/${kind} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata?.name ?? ''}`;
    for (const runner of chain) {
      const name = runner.entry.name;
      const metrics = this.metrics.of(name, type);
      metrics.calls.inc();
      const started = performance.now();
      try {
        const process = runner.process;
        if (!process || runner.state !== 'running') throw new Error(`plugin is not running (${runner.state}${runner.lastError ? `: ${runner.lastError}` : ''})`);
        const answer = await process.mutate({ apiVersion, kind, object: json, type }, runner.entry.timeoutMs);
        if (answer.mutated) {
          json = answer.object;
          mutated = true;
        }
      } catch (error) {
        metrics.refusals.inc();
        const message = describeCallError(error, runner.entry.timeoutMs);
        if (runner.entry.failurePolicy === 'Ignore') {
          runner.log.warn({ hook: what() }, `hook failed, ignored (failurePolicy Ignore): ${message}`);
          continue;
        }
        runner.log.warn({ hook: what() }, `hook refused: ${message}`);
        throw new PluginRefusedError(name, `plugin "${name}" refused ${what()}: ${message}`, apiVersion, kind);
      } finally {
        metrics.latency.observe((performance.now() - started) / 1000);
      }
    }
    // No plugin changed it: the object as given (vCluster would decode its own JSON back to the same).
    if (!mutated) return object;
    let result: unknown;
    try {
      result = JSON.parse(json);
    } catch (error) {
      throw new PluginRefusedError(chain.at(-1)!.entry.name, `plugin "${chain.at(-1)!.entry.name}" returned invalid JSON for ${what()}: ${(error as Error).message}`, apiVersion, kind);
    }
    return goMerge(object, result) as T;
  }

  /** This replica leads and its controllers run: SetLeader to each plugin, in order, once per process. */
  async setLeader(): Promise<void> {
    this.leading = true;
    for (const runner of this.runners) {
      try {
        await runner.setLeader();
      } catch (error) {
        // Its process is restarted (and sent SetLeader again) if it died of it; otherwise say so.
        runner.lastError = `SetLeader failed: ${(error as Error).message}`;
        this.options.progress(`plugin ${runner.entry.name}: ${runner.lastError}`);
        this.changed();
      }
    }
  }

  /** The leadership term ended: plugins that were sent SetLeader are restarted (they cannot be told). */
  async endTerm(): Promise<void> {
    this.leading = false;
    await Promise.all(this.runners.filter((r) => r.leaderSent).map((r) => r.recycle('leadership term ended')));
  }

  status(): PluginStatus[] {
    return this.runners.map((r) => r.status());
  }

  /** Each plugin's interceptor rules and port, in load order: what the front door's interceptors match on. */
  interceptors(): { plugin: string; port: number; interceptors: PluginConfig['interceptors']; running: () => boolean; state: () => string }[] {
    return this.runners.map((r) => ({
      plugin: r.entry.name, port: r.port, interceptors: r.config.interceptors,
      running: () => r.state === 'running' && r.process !== undefined,
      state: () => `${r.state}${r.lastError ? `: ${r.lastError}` : ''}`,
    }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.runners.map((r) => r.stop()));
    this.recordPids();
    rmSync(this.socketDir, { recursive: true, force: true });
    this.writeStatus();
    await this.statusWrite;
    for (const logger of this.loggers) logger.flush();
  }

  /** Plugin pids, so a supervisor that was killed hard has them ended by the next run. */
  recordPids(): void {
    recordPids(pluginPidsFile(this.options.dataDir), this.runners.flatMap((r) => (r.process ? [{ name: `plugin/${r.entry.name}`, pid: r.process.pid, command: r.status().executable }] : [])));
  }

  changed(): void {
    this.writeStatus();
  }

  /** Resolves once the status file holds the latest state. */
  flushStatus(): Promise<void> {
    return this.statusWrite;
  }

  private writeStatus(): void {
    // One write at a time, each of the state at its turn: a slow older write never lands last.
    this.statusWrite = this.statusWrite
      .then(() => writeFileAtomic(this.statusFile, JSON.stringify(this.status(), null, 2) + '\n', 0o600))
      .catch(() => {});
  }
}


function describeHooks(config: PluginConfig): string {
  const hooks = config.clientHooks.map((h) => `${h.apiVersion}/${h.kind} ${h.types.join(',')}`);
  const interceptors = Object.keys(config.interceptors);
  return [hooks.length ? `hooks ${hooks.join('; ')}` : 'no hooks', interceptors.length ? `interceptors ${interceptors.join(', ')}` : ''].filter(Boolean).join(', ');
}

function describeCallError(error: unknown, timeoutMs: number): string {
  const e = error as { code?: number; details?: string; message?: string };
  if (e.code === 4) return `no answer within ${timeoutMs / 1000}s (timeoutSeconds)`;
  return e.details ?? e.message ?? String(error);
}

/**
 * The plugin's working dir `<vc dir>/plugins/<name>/`, as vCluster's init container makes
 * `/plugins/<name>`: the files beside the executable of a plugin directory (a `path:` directory,
 * or an image's `/plugin`: its manifests/) are copied there; the executable runs from where it is.
 */
function preparePluginDir(entry: PluginEntry, executable: string, workingDir: string): void {
  mkdirSync(workingDir, { recursive: true });
  const source = dirname(executable);
  if (entry.path ? !statSync(entry.path).isDirectory() : !entry.image) return;
  for (const name of readdirSync(source)) {
    if (name === 'plugin') continue;
    cpSync(join(source, name), join(workingDir, name), { recursive: true, force: true });
  }
}
