import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import { grpc, pluginv2, stdio, ProtobufEmpty } from '@kubenest/plugin-proto';
import { signalGroup } from '../controlplane/pids.ts';
import { tiedToParent } from '../controlplane/supervisor.ts';
import { UnaryChannel } from './unary.ts';

/**
 * go-plugin's handshake as vCluster's host runs it (plugin-protocol.md §1): the magic cookie,
 * one line `1|1|unix|<socket>|grpc|` first on stdout, then gRPC over that socket.
 */
export const HANDSHAKE_ENV = {
  VCLUSTER_PLUGIN: 'vcluster',
  PLUGIN_MIN_PORT: '10000',
  PLUGIN_MAX_PORT: '25000',
  PLUGIN_PROTOCOL_VERSIONS: '1',
} as const;

export class PluginStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginStartError';
  }
}

export interface LaunchOptions {
  name: string;
  executable: string;
  workingDir: string;
  /** `PLUGIN_UNIX_SOCKET_DIR`: the virtual cluster's own. */
  socketDir: string;
  /** `PLUGIN_CONFIG`. */
  pluginConfig: string;
  /** Extra environment (NAMESPACE and the like), on top of this process's. */
  env?: Record<string, string>;
  /** How long the handshake line may take (go-plugin: 1 minute). */
  startTimeoutMs?: number;
  /** The plugin's own log: its stderr (hclog JSON or `[LEVEL]` lines) and its forwarded stdio. */
  log: Logger;
}

/** What the handshake line says; throws naming what is wrong with it. */
export function parseHandshake(line: string): { network: 'unix' | 'tcp'; address: string } {
  const parts = line.trim().split('|');
  const expected = 'expected `1|1|unix|<socket path>|grpc|` (go-plugin core protocol 1, vCluster app protocol 1, gRPC)';
  if (parts.length < 4) throw new PluginStartError(`printed "${clip(line)}" where the handshake line belongs; ${expected}`);
  if (parts[0] !== '1') throw new PluginStartError(`speaks go-plugin core protocol ${parts[0]}, not 1; ${expected}`);
  if (parts[1] !== '1') throw new PluginStartError(`speaks plugin protocol version ${parts[1]}, the host offered 1 (is it a vCluster v2 plugin?); ${expected}`);
  const network = parts[2];
  if (network !== 'unix' && network !== 'tcp') throw new PluginStartError(`offers network "${network}", expected unix or tcp; ${expected}`);
  if ((parts[4] ?? '') !== 'grpc') throw new PluginStartError(`offers protocol "${parts[4] ?? 'netrpc'}", vCluster plugins speak grpc; ${expected}`);
  if ((parts[5] ?? '').length > 50) throw new PluginStartError('sent a server certificate (AutoMTLS), which vCluster never asks for; the 6th field must stay empty');
  const address = parts[3]!;
  if (network === 'tcp' && !/^127\.\d+\.\d+\.\d+:\d+$/.test(address)) throw new PluginStartError(`listens on ${address}; a plugin must listen on a unix socket or on 127.0.0.1`);
  return { network, address };
}

function clip(text: string, max = 200): string {
  const oneLine = text.replace(/\s+$/, '');
  return oneLine.length > max ? `${oneLine.slice(0, max)}...` : oneLine;
}

/** One stderr line of a Go plugin into our log: hclog JSON, `[LEVEL]` text, or plain (info). */
export function logPluginLine(log: Logger, raw: string): void {
  // eslint-disable-next-line no-control-regex
  const line = raw.replace(/\u001b\[[0-9;]*m/g, '');
  if (line.trim() === '') return;
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry['@message'] === 'string') {
        const { '@message': message, '@level': level, '@timestamp': timestamp, '@module': module, ...fields } = entry;
        const method = levelMethod(typeof level === 'string' ? level : 'info');
        log[method]({ ...fields, ...(module ? { module } : {}), ...(timestamp ? { pluginTime: timestamp } : {}) }, message);
        return;
      }
    } catch {
      // not JSON after all: logged as text below
    }
  }
  const match = /^\[(TRACE|DEBUG|INFO|WARN|ERROR)\]\s*(.*)$/.exec(line);
  // The Go SDK's own logger (zap, console encoding): `<date> <time>\t<LEVEL>\t<caller>\t<message>`.
  const zap = /^\S+ \S+\t(DEBUG|INFO|WARN|ERROR|DPANIC|PANIC|FATAL)\t(.*)$/.exec(line);
  if (match) log[levelMethod(match[1]!)](match[2]!);
  else if (zap) log[levelMethod(zap[1] === 'INFO' || zap[1] === 'DEBUG' || zap[1] === 'WARN' ? zap[1] : 'error')](zap[2]!);
  // Unlike vCluster (which drops them at Debug), unprefixed lines are kept: a Go panic is one.
  else log.info(line);
}

function levelMethod(level: string): 'trace' | 'debug' | 'info' | 'warn' | 'error' {
  switch (level.toLowerCase()) {
    case 'trace': return 'trace';
    case 'debug': return 'debug';
    case 'warn': case 'warning': return 'warn';
    case 'error': return 'error';
    default: return 'info';
  }
}

/** Longest plugin output line kept, in characters (a longer one is clipped; the rest of it is not kept in memory). */
export const MAX_LINE_LENGTH = 8192;

/**
 * Splits a stream into lines without holding more than `maxLength` characters of one line: a longer line is
 * handed on clipped (with how much was cut) and the rest of it dropped as it arrives, so a plugin
 * printing megabytes without a newline cannot grow our memory.
 */
export class LineSplitter {
  private pending = '';
  private skipped = 0;
  // A chunk may end inside a UTF-8 character.
  private readonly decoder = new StringDecoder('utf8');
  private readonly onLine: (line: string) => void;
  private readonly maxLength: number;

  constructor(onLine: (line: string) => void, maxLength = MAX_LINE_LENGTH) {
    this.onLine = onLine;
    this.maxLength = maxLength;
  }

  push(chunk: Buffer | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    while (text.length > 0) {
      const newline = text.indexOf('\n');
      const part = newline === -1 ? text : text.slice(0, newline);
      text = newline === -1 ? '' : text.slice(newline + 1);
      if (this.skipped > 0) {
        this.skipped += part.length;
      } else {
        this.pending += part;
        if (this.pending.length > this.maxLength) {
          this.skipped = this.pending.length - this.maxLength;
          this.pending = this.pending.slice(0, this.maxLength);
        }
      }
      if (newline !== -1) this.flush();
    }
  }

  /** Hands on what is pending (at a newline, or when the stream ends). */
  flush(): void {
    if (this.pending === '' && this.skipped === 0) return;
    const line = this.skipped > 0 ? `${this.pending}... [${this.skipped} more characters of this line dropped]` : this.pending;
    this.pending = '';
    this.skipped = 0;
    this.onLine(line);
  }
}

/**
 * How much of a plugin's output reaches our log: a burst of `burstBytes`, then `bytesPerSecond`.
 * Output over the budget is counted, not logged; one warning says how much was dropped once
 * lines are logged again (or every 10 s while it lasts). The plugin is still drained in full.
 */
export class LogBudget {
  private tokens: number;
  private last = Date.now();
  private droppedLines = 0;
  private droppedBytes = 0;
  private lastReport = 0;
  private readonly log: Logger;
  private readonly burstBytes: number;
  private readonly bytesPerSecond: number;

  constructor(log: Logger, burstBytes = 1 << 20, bytesPerSecond = 256 << 10) {
    this.log = log;
    this.burstBytes = burstBytes;
    this.bytesPerSecond = bytesPerSecond;
    this.tokens = burstBytes;
  }

  /** Whether a line of `bytes` may be logged now. */
  admit(bytes: number): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
    if (this.tokens >= bytes) {
      this.tokens -= bytes;
      this.report(now, true);
      return true;
    }
    this.droppedLines += 1;
    this.droppedBytes += bytes;
    this.report(now, false);
    return false;
  }

  private report(now: number, resumed: boolean): void {
    if (this.droppedLines === 0 || (!resumed && now - this.lastReport < 10_000)) return;
    this.log.warn({ droppedLines: this.droppedLines, droppedBytes: this.droppedBytes },
      `the plugin printed more than our log takes (${Math.round(this.bytesPerSecond / 1024)} KiB/s after a burst of ${Math.round(this.burstBytes / 1024)} KiB): ${this.droppedLines} lines (${this.droppedBytes} bytes) not logged`);
    this.lastReport = now;
    this.droppedLines = 0;
    this.droppedBytes = 0;
  }
}

/** A running plugin process with its gRPC connection. */
export class PluginProcess {
  readonly name: string;
  readonly pid: number;
  readonly client: pluginv2.PluginClient;
  /** The hook calls' own connection (ADR 31); the other calls go through `client`. */
  private readonly hooks: UnaryChannel;
  /** Resolves when the process has exited (with how it ended). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly socket: string | undefined;
  private readonly stdioStream: grpc.ClientReadableStream<stdio.StdioData>;
  /** The plugin's last few log lines, quoted in errors. */
  readonly recentLines: string[];

  private constructor(name: string, child: ChildProcess, exited: PluginProcess['exited'], client: pluginv2.PluginClient, hooks: UnaryChannel, socket: string | undefined, stdioStream: grpc.ClientReadableStream<stdio.StdioData>, recentLines: string[]) {
    this.name = name;
    this.hooks = hooks;
    this.recentLines = recentLines;
    this.pid = child.pid!;
    this.child = child;
    this.exited = exited;
    this.client = client;
    this.socket = socket;
    this.stdioStream = stdioStream;
    void exited.then(() => this.cleanUp());
  }

  /**
   * Starts the executable and completes go-plugin's handshake: the first stdout line within the
   * start timeout, then a gRPC channel over its socket with stdio drained for the process's life.
   * Any failure ends the process and throws an error saying what happened.
   */
  static async launch(o: LaunchOptions): Promise<PluginProcess> {
    // Tied to the supervisor like its components: a killed supervisor leaves no plugin behind.
    const [command, args] = tiedToParent(o.executable, []);
    // Not KUBECONFIG: the CLI that started us may have it naming the host's admin kubeconfig, which
    // a plugin's default client loading would pick up instead of its own credentials (ADR 22).
    const { KUBECONFIG: _ignored, ...inherited } = process.env;
    const child = spawn(command, args, {
      cwd: o.workingDir,
      env: {
        ...inherited, ...o.env, PLUGIN_CONFIG: o.pluginConfig, ...HANDSHAKE_ENV, PLUGIN_UNIX_SOCKET_DIR: o.socketDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so ending it ends anything it started.
      detached: true,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const recentStderr: string[] = [];
    const remember = (line: string): void => {
      // go-plugin's own debug chatter ("plugin address") is not what an error should quote.
      if (line.trim() === '' || /^\{"@level":"(debug|trace)"/.test(line)) return;
      recentStderr.push(line);
      if (recentStderr.length > 5) recentStderr.shift();
    };
    // Every line is read (a plugin blocks on a full pipe) but only a budget of them is logged.
    const budget = new LogBudget(o.log);
    const stderrLines = new LineSplitter((raw) => {
      const line = raw.replace(/\r$/, '');
      remember(line);
      if (budget.admit(line.length)) logPluginLine(o.log, line);
    });
    child.stderr.on('data', (chunk: Buffer) => stderrLines.push(chunk));
    child.stderr.on('end', () => stderrLines.flush());
    let handshaken = false;
    let resolveFirstLine: (line: string) => void = () => {};
    const firstLine = new Promise<string>((resolve) => { resolveFirstLine = resolve; });
    const stdoutLines = new LineSplitter((raw) => {
      const line = raw.replace(/\r$/, '');
      // After the handshake stdout is drained (go-plugin discards it; kubenest logs it).
      if (handshaken) {
        if (budget.admit(line.length)) o.log.info({ stream: 'stdout' }, line);
      } else {
        resolveFirstLine(line);
      }
    });
    child.stdout.on('data', (chunk: Buffer) => stdoutLines.push(chunk));
    child.stdout.on('end', () => stdoutLines.flush());
    const timeoutMs = o.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const stderrTail = (): string => (recentStderr.length ? `; its last stderr lines: ${recentStderr.map((l) => clip(l)).join(' | ')}` : '');
    const fail = async (message: string): Promise<never> => {
      signalGroup(child.pid, 'SIGKILL', child.exitCode === null && child.signalCode === null);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      throw new PluginStartError(`plugin "${o.name}" (${o.executable}) ${message}`);
    };
    try {
      const first = await Promise.race([firstLine, exited, spawnError, timedOut]);
      if (first === 'timeout') return await fail(`did not print its handshake line within ${timeoutMs / 1000}s${stderrTail()}`);
      if (first instanceof Error) return await fail(`could not be started: ${first.message}`);
      if (typeof first !== 'string') {
        // Let the last stderr lines arrive before quoting them.
        await new Promise((resolve) => setTimeout(resolve, 100));
        return await fail(`exited before the handshake (${first.signal ? `signal ${first.signal}` : `exit code ${first.code}`})${stderrTail()}`);
      }
      handshaken = true;
      let address: { network: 'unix' | 'tcp'; address: string };
      try {
        address = parseHandshake(first);
      } catch (error) {
        return await fail((error as Error).message);
      }
      const target = address.network === 'unix' ? `unix://${address.address}` : address.address;
      const client = new pluginv2.PluginClient(target, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 2 ** 31 - 1, 'grpc.max_send_message_length': 2 ** 31 - 1,
        // ':authority' as go-plugin sends it.
        'grpc.default_authority': 'unused',
        // Per-call bookkeeping a hook call does not need: channelz tracing, and retries (a hook
        // call is not retried; a refusal goes back to the syncer, which retries the operation).
        'grpc.enable_channelz': 0, 'grpc.enable_retries': 0,
      });
      const stdioClient = new stdio.GRPCStdioClient(target, grpc.credentials.createInsecure(), { channelOverride: client.getChannel() });
      const stream = stdioClient.streamStdio(ProtobufEmpty.create());
      // A Go plugin blocks once about 64 KiB of its stdout/stderr are unread: drain for its whole life.
      const channels = new Map<number, LineSplitter>();
      stream.on('data', (data: stdio.StdioData) => {
        let splitter = channels.get(data.channel);
        if (!splitter) {
          const log = o.log.child({ stream: data.channel === stdio.StdioData_Channel.STDOUT ? 'stdout' : 'stderr' });
          splitter = new LineSplitter((line) => {
            remember(line);
            if (budget.admit(line.length)) logPluginLine(log, line);
          });
          channels.set(data.channel, splitter);
        }
        splitter.push(Buffer.from(data.data));
      });
      stream.on('error', () => {}); // ends when the plugin does; Unimplemented is tolerated, as by go-plugin
      const hooks = new UnaryChannel(address.network, address.address);
      try {
        await hooks.open();
      } catch (error) {
        hooks.close();
        stream.cancel();
        client.close();
        return await fail(`printed its handshake, but its socket ${address.address} cannot be reached: ${(error as Error).message}`);
      }
      return new PluginProcess(o.name, child, exited, client, hooks, address.network === 'unix' ? address.address : undefined, stream, recentStderr);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One hook call (`Plugin/Mutate`), failing as a grpc-js call would. */
  mutate(request: pluginv2.Mutate_Request, timeoutMs?: number): Promise<pluginv2.Mutate_Response> {
    return this.hooks.call('/pluginv2.Plugin/Mutate', encodeMutateRequest, decodeMutateResponse, request, timeoutMs);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Ends the process (SIGTERM; SIGKILL after `graceMs`; Go plugins ignore SIGINT) and removes its socket. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.alive) {
      signalGroup(this.child.pid, 'SIGTERM', this.child.exitCode === null && this.child.signalCode === null);
      const done = await Promise.race([this.exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs))]);
      if (!done) {
        signalGroup(this.child.pid, 'SIGKILL', this.child.exitCode === null && this.child.signalCode === null);
        await this.exited;
      }
    }
    this.cleanUp();
  }

  private cleanUp(): void {
    this.stdioStream.cancel();
    this.client.close();
    this.hooks.close();
    // go-plugin leaves its socket behind when killed.
    if (this.socket) rmSync(this.socket, { force: true });
  }
}

const encodeMutateRequest = (request: pluginv2.Mutate_Request): Uint8Array => pluginv2.Mutate_Request.encode(request).finish();
const decodeMutateResponse = (bytes: Uint8Array): pluginv2.Mutate_Response => pluginv2.Mutate_Response.decode(bytes);

/** A unary call as a promise, with a deadline when `timeoutMs` is given (the hook calls have their own path, ADR 31). */
export function call<Req, Res>(
  method: (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: (error: grpc.ServiceError | null, response: Res) => void) => unknown,
  request: Req,
  timeoutMs?: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const options: Partial<grpc.CallOptions> = timeoutMs ? { deadline: Date.now() + timeoutMs } : {};
    method(request, new grpc.Metadata(), options, (error, response) => (error ? reject(error) : resolve(response)));
  });
}
