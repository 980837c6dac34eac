/**
 * One plugin version in its own process, supervised: health probes, restart with backoff after a crash or too
 * many failed probes, crash-loop detection, graceful then hard stop. Calls in flight when the process dies fail
 * at once with PLUGBAY_PLUGIN_CRASHED; calls that arrive once its connection broke or while it restarts wait for
 * it (state `degraded`). close() lets the calls in flight finish before it stops the plugin.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Health } from '@plugbay/sdk';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type {
  CallContext,
  CheckedPlugin,
  Instance,
  InstanceResources,
  InstanceState,
  LoadOptions,
} from '../../core/types.js';
import { type SpanRelay, spanRelayFor } from '../../observe/span-relay.js';
import { InstanceBase } from '../base.js';
import { Supervisor } from '../supervisor.js';
import { bytesFunctionsOf, type Carrier } from './carrier.js';
import { fromExit } from './errors.js';
import { connectFrames } from './frames-client.js';
import { GoPluginCarrier, loadService } from './go-plugin-client.js';
import { GrpcCarrier } from './grpc-client.js';
import { type Launched, launch } from './launch.js';
import { grpcModuleUrl, nodeArgs, nodeRuntimePaths, pluginEnv } from './node-launch.js';
import type { ResolvedProcessTierOptions } from './options.js';
import { warmProtocolTypes } from './proto.js';
import { processResources } from './resources.js';
import { grantedPathsUnchanged, launchTools, nodeLayers, type SandboxLayer, wrapCommand } from './sandbox.js';
import { listenSpanSocket, type SpanSocket, spanSocketEnv } from './span-socket.js';

/** The launch env of plugins built with @plugbay/sdk (the SDK's process entry checks the same values). */
export const sdkHandshake = {
  magicCookieKey: 'PLUGBAY_PLUGIN_MAGIC_COOKIE',
  magicCookieValue: 'd7f0c3a6e2b94c1f8a5e6b7d9c0a1f2e',
  protocolVersion: 1,
} as const;

interface Running {
  launched: Launched;
  carrier: Carrier;
  socketPath: string;
  /** Set when we are the ones stopping it: its exit is no crash. */
  stopping: boolean;
  /** With host tracing on: where the plugin sends its own spans, and the rules they pass (span-socket.ts). */
  spans?: { socket: SpanSocket; relay: SpanRelay } | undefined;
  /** The liveness probe out after a call was given up on, and when it must be answered by (see #checkAlive). */
  probe?: { killAt: number; timers: NodeJS.Timeout[] } | undefined;
  /** A call overran its budget and the probe is unanswered, or the connection broke: new calls wait for the verdict. */
  suspect?: boolean;
  /** Calls sent to it and not answered yet; close() waits for them. */
  calls: number;
  /** One call answered (or failed). */
  settled: () => void;
  /** Set while close() waits for the calls to end. */
  idle?: (() => void) | undefined;
}

export class ProcessInstance extends InstanceBase implements Instance {
  /** Every answer rejects when its ctx aborts: each carrier and the restart wait listen with ctx.onAbort. */
  readonly settlesOnAbort = true;
  exportedFunctions: readonly string[] = [];
  /** The OS and runtime layers that apply to this plugin's process. */
  sandbox: SandboxLayer[] = [];
  /** Restarts so far (not counting the first launch). */
  restarts = 0;

  readonly #opts: ResolvedProcessTierOptions;
  readonly #load: LoadOptions;
  readonly #socketDir: string;
  readonly #source: ErrorSource;
  readonly #supervisor: Supervisor;
  #run: Running | undefined;
  #config: unknown;
  #started = false;
  #healthTimer: NodeJS.Timeout | undefined;
  #probing = false;
  #failures = 0;
  #waiters: { resolve(run: Running): void; reject(err: Error): void }[] = [];

  constructor(plugin: CheckedPlugin, opts: ResolvedProcessTierOptions, load: LoadOptions, socketDir: string) {
    super(plugin, 'process');
    this.closeTimeoutMs = opts.stopTimeoutMs;
    this.#opts = opts;
    this.#load = load;
    this.#socketDir = socketDir;
    this.#source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
    this.#supervisor = new Supervisor(
      this,
      opts.restart,
      {
        move: (state) => this.setState(state),
        restart: () => this.#relaunch(),
        crashloop: () => {}, // onState fails the calls that wait
      },
      load.log,
    );
  }

  /** The running process's pid (tests and diagnostics). */
  get pid(): number | undefined {
    return this.#run?.launched.child.pid;
  }

  /** The plugin process's resident memory and CPU time, read from /proc at metrics scrape time (Linux). */
  resources(): InstanceResources {
    const pid = this.pid;
    return pid === undefined ? {} : processResources(pid);
  }

  /** The socket the current process serves on. */
  get socketPath(): string | undefined {
    return this.#run?.socketPath;
  }

  /** Calls waiting for a restart go to the new process, or fail once the instance cannot serve. */
  protected override onState(next: InstanceState): void {
    if (next === 'ready' && this.#run) {
      const run = this.#run;
      for (const w of this.#waiters.splice(0)) w.resolve(run);
    } else if (next === 'crashloop' || next === 'closed' || next === 'failed' || next === 'draining') {
      const err = this.unavailable();
      for (const w of this.#waiters.splice(0)) w.reject(err);
    }
  }

  /** First launch: process up, handshake read, Describe answered. */
  async load(): Promise<this> {
    try {
      this.#run = await this.#launch();
      this.exportedFunctions = (await this.#run.carrier.describe(this.#opts.startTimeoutMs)).functions;
      return this;
    } catch (err) {
      if (this.#run) this.#kill(this.#run);
      this.#run = undefined;
      this.moveIfAllowed('failed'); // not when destroyed meanwhile
      if (
        err instanceof PlugbayError &&
        (err.code === 'PLUGBAY_START_FAILED' ||
          err.code === 'PLUGBAY_LOAD_FAILED' ||
          err.code === 'PLUGBAY_PERMISSION_DENIED')
      )
        throw err;
      // up, but Describe failed (crashed, broken peer, no answer): the start failed
      throw new PlugbayError(
        'PLUGBAY_START_FAILED',
        `plugin did not answer Describe: ${(err as Error).message}`,
        {
          ...this.#source,
          cause: err,
          details: { cause: err instanceof PlugbayError ? err.code : undefined },
        },
      );
    }
  }

  async #launch(): Promise<Running> {
    const plugin = grantedPathsUnchanged(this.plugin);
    const m = plugin.manifest;
    const perms = plugin.permissions;
    let env: Record<string, string>;
    let protocols: string[];
    let goMethods: ReturnType<typeof loadService> | undefined;
    let handshake: { magicCookieKey: string; magicCookieValue: string; protocolVersion: number } =
      sdkHandshake;
    // Probed once per host process, asynchronously; with the sandbox off only setpriv (pdeathsig) is. The first
    // probe runs while the go-plugin service's .proto is parsed (a bad one fails here, before any spawn).
    const tools = launchTools(this.#opts.sandbox);
    // Each launch its own socket dir: the only one the plugin sees and may write (never a sibling's socket).
    const socketDir = fs.mkdtempSync(path.join(this.#socketDir, 'p-'));
    let argv: string[];
    let runtimePaths: string[] = [];
    if (m.runtime === 'node') {
      const sdkEntry = this.#opts.sdkEntry ?? defaultSdkEntry();
      const node = { plugin, sdkEntry, carrier: this.#opts.nodeCarrier, nodePath: this.#opts.nodePath };
      argv = [this.#opts.nodePath, ...nodeArgs(node)];
      runtimePaths = nodeRuntimePaths(node);
      env = pluginEnv(perms.env, {
        [sdkHandshake.magicCookieKey]: sdkHandshake.magicCookieValue,
        PLUGIN_PROTOCOL_VERSIONS: String(sdkHandshake.protocolVersion),
        PLUGIN_UNIX_SOCKET_DIR: socketDir,
        PLUGBAY_PLUGIN_ENTRY: plugin.entryPath,
        PLUGBAY_CARRIER: this.#opts.nodeCarrier,
        ...(this.#opts.nodeCarrier === 'grpc'
          ? { PLUGBAY_GRPC_MODULE: grpcModuleUrl(sdkEntry) ?? '@grpc/grpc-js' }
          : {}),
      });
      protocols = [this.#opts.nodeCarrier];
    } else if (m.runtime === 'exec') {
      handshake = m.handshake ?? sdkHandshake;
      if (m.protocol === 'go-plugin') {
        goMethods = loadService(path.resolve(plugin.dir, m.proto ?? ''), m.service ?? '', this.#source, {
          emitDefaults: m.emitDefaults ?? false,
        });
      }
      argv = [plugin.entryPath];
      // go-plugin 1.0.1 makes its socket in os.TempDir() ($TMPDIR); newer ones honour PLUGIN_UNIX_SOCKET_DIR.
      env = pluginEnv(perms.env, {
        [handshake.magicCookieKey]: handshake.magicCookieValue,
        PLUGIN_PROTOCOL_VERSIONS: String(handshake.protocolVersion),
        PLUGIN_UNIX_SOCKET_DIR: socketDir,
        TMPDIR: socketDir,
      });
      protocols = m.protocol === 'go-plugin' ? ['grpc'] : ['grpc', 'frames'];
    } else {
      throw new PlugbayError(
        'PLUGBAY_LOAD_FAILED',
        `the process tier runs node and exec plugins, not ${m.runtime}`,
        this.#source,
      );
    }
    const wrapped = wrapCommand({
      runtime: m.runtime,
      argv,
      permissions: perms,
      pluginDir: fs.realpathSync(plugin.dir),
      runtimePaths,
      socketDir,
      tools: await tools,
      disabled: !this.#opts.sandbox,
    });
    if (wrapped.uid !== undefined) fs.chownSync(socketDir, wrapped.uid, wrapped.uid);
    this.sandbox = m.runtime === 'node' ? [...nodeLayers(perms), ...wrapped.layers] : wrapped.layers;
    const { command, args, fd3, signalAsExitCode } = wrapped;
    const relay = spanRelayFor({ name: m.name, version: m.version });
    const spans =
      relay === undefined
        ? undefined
        : { socket: await listenSpanSocket(socketDir, relay, this.#load.log), relay };
    if (spans !== undefined) env[spanSocketEnv] = spans.socket.path;

    const launching = launch(
      { command, args, env, cwd: plugin.dir, signalAsExitCode, ...(fd3 === undefined ? {} : { fd3 }) },
      {
        startTimeoutMs: this.#opts.startTimeoutMs,
        protocolVersions: [handshake.protocolVersion],
        magicCookieKey: handshake.magicCookieKey,
        protocols,
        log: this.#load.log,
        signal: this.#load.signal,
        source: this.#source,
        socketDir,
      },
    );
    // The child is spawned: build the protocol codecs while it boots rather than after its handshake. A failure
    // here is the carrier's to report (it needs the same types).
    try {
      warmProtocolTypes();
    } catch {}
    const launched = await launching.catch((err: unknown) => {
      spans?.socket.close();
      fs.rmSync(socketDir, { recursive: true, force: true }); // no process will serve from it
      throw err;
    });
    const { address, protocol } = launched.handshake;
    let carrier: Carrier;
    try {
      if (protocol === 'frames') {
        carrier = await connectFrames(address, this.#source, this.#opts.startTimeoutMs);
      } else if (goMethods !== undefined) {
        const c = new GoPluginCarrier(address, goMethods, { name: m.name, version: m.version }, this.#source);
        c.services.streamStdio((channel, data) => this.#stdio(channel, data));
        carrier = c;
      } else {
        // The SDK reads the deadline from the CallRequest: no gRPC deadline timers for it (grpc-client.ts call()).
        const c = new GrpcCarrier(address, this.#source, { grpcNative: m.runtime !== 'node' });
        // SDK plugins log on stderr and serve no GRPCStdio: asking would only delay their Describe.
        if (m.runtime !== 'node') c.services.streamStdio((channel, data) => this.#stdio(channel, data));
        carrier = c;
      }
    } catch (err) {
      launched.child.kill('SIGKILL');
      spans?.socket.close();
      throw err;
    }
    const run: Running = {
      launched,
      carrier,
      socketPath: address,
      stopping: false,
      spans,
      calls: 0,
      settled: () => {
        if (--run.calls === 0) run.idle?.();
      },
    };
    carrier.onLost = (err) => this.#lost(run, err);
    carrier.bytesFunctions = bytesFunctionsOf(this.plugin.manifest.functions);
    launched.exited.then(() => this.#onExit(run));
    return run;
  }

  #stdio(channel: 'stdout' | 'stderr', data: Uint8Array): void {
    for (const line of Buffer.from(data).toString('utf8').split('\n')) {
      if (line !== '') this.#load.log.line({ level: 'info', msg: line, fields: { stream: channel } });
    }
  }

  async start(opts: { signal: AbortSignal; config: unknown }): Promise<void> {
    const run = this.#run;
    if (run === undefined || this.state !== 'loading') throw this.unavailable();
    this.setState('starting');
    this.#config = opts.config;
    try {
      await this.#startPlugin(run, opts.signal);
    } catch (err) {
      this.moveIfAllowed('failed'); // not when destroyed meanwhile
      this.#kill(run);
      const code = err instanceof PlugbayError ? err.code : undefined;
      throw new PlugbayError('PLUGBAY_START_FAILED', `start() failed: ${(err as Error).message}`, {
        ...this.#source,
        cause: err,
        details: { cause: code, ...(err instanceof PlugbayError ? err.details : {}) },
      });
    }
    this.#started = true;
    this.#supervisor.started();
    if (this.moveIfAllowed('ready')) this.#armHealth(); // not when closed meanwhile
  }

  async #startPlugin(run: Running, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const work = run.carrier.start(this.#config, this.#opts.pluginStartTimeoutMs);
    // A process that dies during start() fails it at once (its exit fails the carrier's pending request).
    await work;
  }

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    const run = this.#run;
    const state = this.state;
    if (state === 'ready' && run !== undefined && run.suspect !== true)
      return this.#callOn(run, fn, input, ctx);
    if (state === 'degraded' || state === 'ready')
      return this.#waitReady(ctx).then((r) => this.#callOn(r, fn, input, ctx));
    return Promise.reject(this.unavailable());
  }

  #callOn(run: Running, fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    run.spans?.relay.allow(ctx.traceparent);
    const answer = run.carrier.call(fn, input, ctx); // its own onAbort listener rejects and sends the cancel
    ctx.onAbort(() => this.#checkAlive(run, ctx.ownDeadline ?? ctx.deadline));
    run.calls++;
    answer.then(run.settled, run.settled);
    return answer;
  }

  /**
   * The connection to `run` broke under its calls: they fail with `err` (PLUGBAY_CLOSED when we are stopping it).
   * A crash is under way and its exit takes the crash path; until then new calls wait for the verdict, as during
   * the restart that follows, so that none goes to the dead process. A process that lives on with a broken
   * connection cannot answer the probe and is killed (#checkAlive); one that answers (a go-plugin service that
   * returned UNAVAILABLE itself) takes the calls again.
   */
  #lost(run: Running, err: PlugbayError): PlugbayError {
    if (run.stopping) return this.#closedError();
    if (run === this.#run && this.state === 'ready') {
      run.suspect = true;
      this.#checkAlive(run, Date.now());
    }
    return err;
  }

  #closedError(): PlugbayError {
    return new PlugbayError('PLUGBAY_CLOSED', `instance ${this.id} was closed`, this.#source);
  }

  /**
   * A call was given up on (deadline or caller) and the plugin was told to cancel. The process must answer a
   * health probe, sent now (a single-threaded plugin reads it after what it is busy with), by the call's own budget
   * plus `unresponsiveMs`: a caller's shorter deadline is no reason to kill. One that does not is stuck (a busy loop
   * ignores the cancel) and is killed: its exit takes the crash path (restart with backoff). From the budget on,
   * new calls wait for the verdict instead of queueing behind a stuck plugin.
   */
  #checkAlive(run: Running, ownDeadline: number): void {
    if (run !== this.#run || run.stopping || !Number.isFinite(ownDeadline)) return;
    const now = Date.now();
    const suspectAt = Math.max(now, ownDeadline);
    const killAt = suspectAt + this.#opts.unresponsiveMs;
    let probe = run.probe;
    if (probe !== undefined && probe.killAt <= killAt) return;
    if (probe === undefined) {
      probe = { killAt, timers: [] };
      run.probe = probe;
      const sent = probe;
      run.carrier.health(killAt - now + this.#opts.unresponsiveMs).then(
        () => this.#answered(run, sent),
        () => {}, // no answer in time: the kill timer decides; a dead process: its exit does
      );
    }
    for (const t of probe.timers) clearTimeout(t);
    probe.killAt = killAt;
    const suspect = (): void => {
      run.suspect = true;
    };
    if (suspectAt <= now)
      suspect(); // the very next call must not go to it before the verdict
    else probe.timers.push(setTimeout(suspect, suspectAt - now));
    probe.timers.push(setTimeout(() => this.#stuck(run), killAt - now));
  }

  /** The probe was answered: the process is alive; calls that waited for the verdict go to it. */
  #answered(run: Running, probe: NonNullable<Running['probe']>): void {
    if (run.probe !== probe) return;
    for (const t of probe.timers) clearTimeout(t);
    run.probe = undefined;
    run.suspect = false;
    if (run === this.#run && this.state === 'ready') for (const w of this.#waiters.splice(0)) w.resolve(run);
  }

  #stuck(run: Running): void {
    if (run !== this.#run || run.stopping) return;
    this.#load.log.line({
      level: 'error',
      msg: `plugin did not yield within ${this.#opts.unresponsiveMs} ms past a cancelled call's budget: killing it for a restart`,
      fields: { reason: 'unresponsive', unresponsiveMs: this.#opts.unresponsiveMs },
    });
    run.launched.child.kill('SIGKILL'); // calls waiting for the verdict go to the restarted process
  }

  #waitReady(ctx: CallContext): Promise<Running> {
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiters.push(waiter);
      ctx.onAbort((reason) => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(reason);
      });
    });
  }

  async health(signal: AbortSignal): Promise<Health> {
    signal.throwIfAborted();
    const run = this.#run;
    if (run === undefined) return { status: 'failing', message: `instance is ${this.state}` };
    try {
      return await run.carrier.health(this.#opts.healthTimeoutMs);
    } catch (err) {
      return { status: 'failing', message: (err as Error).message };
    }
  }

  #armHealth(): void {
    if (this.#healthTimer !== undefined) return;
    this.#healthTimer = setInterval(() => void this.#probe(), this.#opts.healthIntervalMs);
    this.#healthTimer.unref();
  }

  #disarmHealth(): void {
    if (this.#healthTimer !== undefined) clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
  }

  async #probe(): Promise<void> {
    const run = this.#run;
    if (this.#probing || run === undefined || this.state !== 'ready') return;
    this.#probing = true;
    let ok = false;
    let message = '';
    try {
      const h = await run.carrier.health(this.#opts.healthTimeoutMs);
      ok = h.status !== 'failing';
      message = h.message ?? '';
    } catch (err) {
      message = (err as Error).message;
    } finally {
      this.#probing = false;
    }
    if (run !== this.#run) return;
    if (ok) {
      this.#failures = 0;
      return;
    }
    this.#failures++;
    this.#load.log.line({
      level: 'warn',
      msg: 'health probe failed',
      fields: { failures: this.#failures, reason: message },
    });
    if (this.#failures >= this.#opts.failureThreshold) {
      this.#load.log.line({
        level: 'error',
        msg: 'plugin process unhealthy: killing it for a restart',
        fields: { failures: this.#failures },
      });
      this.#failures = 0;
      run.launched.child.kill('SIGKILL'); // its exit takes the crash path: calls fail, restart with backoff
    }
  }

  /** The process ended. If we did not ask for it, that is a crash: fail calls, then restart or declare a crash loop. */
  #onExit(run: Running): void {
    for (const t of run.probe?.timers ?? []) clearTimeout(t);
    run.probe = undefined;
    const exit = run.launched.exitInfo ?? { code: null, signal: null, stderrTail: [] };
    const err = fromExit(exit, this.#source);
    run.carrier.destroy(run.stopping ? this.unavailable() : err);
    run.spans?.socket.close();
    removeSocket(run.socketPath, this.#socketDir);
    if (run !== this.#run || run.stopping) return;
    this.#run = undefined;
    this.#disarmHealth();
    this.#load.log.line({ level: 'error', msg: err.message, fields: { ...err.details } });
    this.emit('exit', err);
    // Only a serving instance restarts: load()/start() report their own failures, and failed/closed ones stay down.
    if (this.state !== 'ready' && this.state !== 'degraded') return;
    this.#supervisor.crashed();
  }

  recover(): Promise<void> {
    return this.#supervisor.recover();
  }

  /** The supervisor's restart: a new process and, once it was started before, the plugin's start() on it. */
  async #relaunch(): Promise<void> {
    if (this.closing || this.state !== 'degraded') return;
    let run: Running | undefined;
    try {
      run = await this.#launch();
      // Not this.#run until started: a crash during start() is this catch's business, not #onExit's.
      if (this.#started) await this.#startPlugin(run, new AbortController().signal);
    } catch (err) {
      this.#load.log.line({
        level: 'error',
        msg: `restart failed: ${(err as Error).message}`,
        fields: { code: (err as PlugbayError).code, ...(err as PlugbayError).details },
      });
      if (run !== undefined) {
        run.stopping = true;
        this.#kill(run);
      }
      this.#run = undefined;
      if (!this.closing && this.state === 'degraded') this.#supervisor.crashed();
      return;
    }
    if (this.closing || this.state !== 'degraded') {
      // closed while restarting
      run.stopping = true;
      this.#kill(run);
      return;
    }
    this.#run = run;
    this.restarts++;
    this.#supervisor.started();
    this.setState('ready');
    this.#armHealth();
  }

  #kill(run: Running): void {
    if (run.launched.exitInfo === undefined) run.launched.child.kill('SIGKILL');
  }

  /**
   * Graceful within `budget`: the calls in flight finish (for up to half of it), then the plugin's stop(),
   * Shutdown, SIGTERM, then SIGKILL; destroy() follows. A call still running when its process is stopped fails
   * with PLUGBAY_CLOSED.
   */
  protected async onClose(budget: number): Promise<void> {
    const deadline = Date.now() + budget;
    const left = (): number => Math.max(1, deadline - Date.now());
    this.#cancelTimers();
    const run = this.#run;
    if (run === undefined) return;
    await drained(run, budget / 2);
    if (run !== this.#run) return; // it crashed meanwhile (its calls failed with PLUGBAY_PLUGIN_CRASHED), or destroy()
    run.stopping = true;
    const exited = run.launched.exited;
    const exitedBy = (ms: number): Promise<boolean> =>
      Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false).unref())]);
    try {
      if (this.#started) await run.carrier.stop(left());
    } catch (err) {
      this.#load.log.line({ level: 'warn', msg: `stop() failed: ${(err as Error).message}` });
    }
    // Controller.Shutdown (or the shutdown frame) → SIGTERM → SIGKILL, each with part of the budget.
    await run.carrier.shutdown(left()).catch(() => {});
    if (!(await exitedBy(Math.min(left(), budget / 2)))) {
      run.launched.child.kill('SIGTERM');
      if (!(await exitedBy(left()))) run.launched.child.kill('SIGKILL');
    }
    await exited;
    run.carrier.destroy(this.unavailable());
    if (this.#run === run) this.#run = undefined;
  }

  /** Kills the process now; its pending calls fail with `reason` (else PLUGBAY_CLOSED). */
  protected async onDestroy(reason: Error | undefined): Promise<void> {
    this.#cancelTimers();
    const run = this.#run;
    this.#run = undefined;
    if (run === undefined) return;
    run.stopping = true;
    const err =
      reason instanceof PlugbayError
        ? reason
        : new PlugbayError('PLUGBAY_CLOSED', `instance ${this.id} was destroyed`, {
            ...this.#source,
            cause: reason,
          });
    run.carrier.destroy(err);
    this.#kill(run);
    await run.launched.exited;
  }

  #cancelTimers(): void {
    this.#disarmHealth();
    this.#supervisor.stop();
  }
}

/** Resolves once `run` has no call in flight, or after `ms`. */
function drained(run: Running, ms: number): Promise<void> {
  if (run.calls === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      run.idle = undefined;
      resolve();
    };
    const timer = setTimeout(done, ms);
    run.idle = done;
  });
}

/** Removes a dead plugin's socket and its launch's socket dir, but only inside our own socket dir. */
function removeSocket(socketPath: string, socketDir: string): void {
  const launchDir = path.dirname(socketPath);
  if (path.dirname(launchDir) === socketDir) fs.rmSync(launchDir, { recursive: true, force: true });
}

function defaultSdkEntry(): string {
  try {
    return new URL(import.meta.resolve('@plugbay/sdk/process/main')).pathname;
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_LOAD_FAILED',
      'cannot find @plugbay/sdk/process/main to run a node plugin in a process',
      { cause: err },
    );
  }
}
