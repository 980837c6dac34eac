import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext, PluginLogLine } from '../../core/types.js';
import { crashError, loadError, remoteError, type WorkerEnd } from './errors.js';
import { type Pending, PendingSlots } from './pending-slots.js';
import {
  callStride,
  type HostMessage,
  maxBatch,
  ToHost,
  ToWorker,
  type WorkerInit,
  type WorkerRequest,
} from './protocol.js';

const workerUrl = new URL('./worker.js', import.meta.url);

/** A call the dead worker never started: the plugin did not see it, so it may go to the next worker. */
export interface UnstartedCall {
  readonly fn: string;
  readonly input: unknown;
  readonly ctx: CallContext;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The warm-up's bounds (warm()): synthetic round trips and time. */
export const warmRoundTrips = 512;
export const warmMs = 50;
/** A channel that answered this many round trips within this long is warm already: warm() skips it. */
const warmAfter = 512;
const warmForMs = 1_000;

export interface ChannelListener {
  log(line: PluginLogLine): void;
  /**
   * The worker died on its own or was killed as unresponsive; not called after close(). Calls it had started
   * were failed with PLUGBAY_PLUGIN_CRASHED; `unstarted` are still pending, for the listener to send again.
   */
  end(channel: WorkerChannel, end: WorkerEnd, unstarted: UnstartedCall[]): void;
  /** Spans the plugin recorded with ctx.span(), for the instance's SpanRelay. */
  spans?(spans: unknown[]): void;
}

/**
 * One worker and its request/response traffic: call ids, pending answers, liveness pings. Knows nothing of
 * restarts or instance state (thread/instance.ts does); it reports the worker's end once.
 */
export class WorkerChannel {
  /** Event loop utilisation of the worker since it started (0..1), read from the host side. */
  eventLoopUtilization(): number {
    return this.#worker.performance.eventLoopUtilization().utilization;
  }

  /** Resolves with the plugin's function names once the worker imported it; rejects when it could not. */
  readonly loaded: Promise<string[]>;
  readonly #worker: Worker;
  readonly #pending = new PendingSlots();
  /** Round trips answered (calls and warm-up), and when the last answer came (performance.now()). */
  #answered = 0;
  #lastAnswerAt = 0;
  readonly #source: ErrorSource;
  readonly #listener: ChannelListener;
  #nextId = 0;
  #error: unknown;
  /** Set when we ended the worker: the end to report (kill) or the error to fail pending work with (close). */
  #killedAs: WorkerEnd | undefined;
  #closedWith: PlugbayError | undefined;
  #exited = false;
  #ping: { id: number; timer: NodeJS.Timeout; killAt: number } | undefined;
  /** The id of the last request the worker read before it exited (its Exiting message), if it could tell. */
  #lastReceived: number | undefined;
  #loaded: { resolve(functions: string[]): void; reject(error: PlugbayError): void } | undefined;
  /** Calls not posted yet (a Calls message being filled), and whether some of them were aborted meanwhile. */
  #outbox: unknown[] | undefined;
  #outboxAborted = false;
  /** Calls in flight (lifecycle requests are not counted: they must not delay calls to a later turn). */
  #calls = 0;
  /** The highest request id posted to the worker: anything above it never left this thread. */
  #lastPosted = 0;
  readonly #flush = (): void => this.#flushCalls();

  /** `options`: what the instance decides about the worker (resourceLimits, env); workerData is added here. */
  constructor(init: WorkerInit, options: WorkerOptions, listener: ChannelListener) {
    this.#source = { plugin: init.plugin, version: init.version };
    this.#listener = listener;
    this.loaded = new Promise<string[]>((resolve, reject) => {
      this.#loaded = { resolve, reject };
    });
    this.loaded.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    this.#worker = new Worker(workerUrl, { ...options, workerData: init });
    this.#worker.on('message', (m: HostMessage) => this.#onMessage(m));
    this.#worker.on('error', (error) => {
      this.#error = error;
    });
    this.#worker.on('messageerror', (error) => {
      this.#error = error;
    });
    this.#worker.on('exit', (exitCode) => this.#onExit(exitCode));
    if (options.stdout === true) this.#forward(this.#worker.stdout, 'info', 'stdout');
    if (options.stderr === true) this.#forward(this.#worker.stderr, 'warn', 'stderr');
  }

  /** Lines the plugin prints (console.log …) become its log lines; the stream ends with the worker. */
  #forward(stream: Readable, level: PluginLogLine['level'], name: string): void {
    const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (msg) => this.#listener.log({ level, msg, fields: { stream: name } }));
  }

  /**
   * Sends a call; the answer settles the promise. An abort of ctx cancels it in the worker and checks liveness.
   * A call made while none is in flight is posted at once; the others wait for the end of this turn of the event
   * loop and go together in one message (protocol.ts says why).
   */
  call(fn: string, input: unknown, ctx: CallContext, unresponsiveMs: number): Promise<unknown> {
    const id = ++this.#nextId;
    const answer = new Promise<unknown>((resolve, reject) => {
      const slot = this.#pending.add(id);
      slot.resolve = resolve;
      slot.reject = reject;
      slot.fn = fn;
      slot.input = input;
      slot.ctx = ctx;
    });
    this.#calls++;
    ctx.onAbort((reason) => this.abort(id, reason, unresponsiveMs, ctx.ownDeadline));
    if (!this.#pending.has(id)) return answer; // ctx was aborted already: the plugin never sees the call
    if (this.#outbox !== undefined) {
      this.#outbox.push(id, fn, input, ctx.traceparent, ctx.deadline, ctx.key);
      // Bounded: a burst leaves in messages of maxBatch calls, not one huge clone the worker reads in one go.
      if (this.#outbox.length >= 1 + maxBatch * callStride) this.#flushCalls();
    } else if (this.#calls > 1) {
      this.#outbox = [ToWorker.Call, id, fn, input, ctx.traceparent, ctx.deadline, ctx.key];
      setImmediate(this.#flush);
    } else {
      this.#postCalls([ToWorker.Call, id, fn, input, ctx.traceparent, ctx.deadline, ctx.key]);
    }
    return answer;
  }

  #flushCalls(): void {
    let batch = this.#outbox;
    this.#outbox = undefined;
    // A worker on its way out gets nothing more: these calls fail on close, or go to its successor on a kill.
    if (batch === undefined || this.#exited || this.#killedAs !== undefined || this.#closedWith !== undefined)
      return;
    if (this.#outboxAborted) {
      this.#outboxAborted = false;
      batch = this.#stillPending(batch);
      if (batch.length === 1) return;
    }
    this.#postCalls(batch);
  }

  /** The calls of `batch` that nobody gave up on while they waited in the outbox. */
  #stillPending(batch: unknown[]): unknown[] {
    const kept: unknown[] = [ToWorker.Call];
    for (let i = 1; i < batch.length; i += callStride) {
      if (this.#pending.has(batch[i] as number)) kept.push(...batch.slice(i, i + callStride));
    }
    return kept;
  }

  /** Posts a Calls message; when structured clone refuses an input, only that call fails. */
  #postCalls(batch: unknown[]): void {
    try {
      this.#worker.postMessage(batch);
      this.#lastPosted = batch[batch.length - callStride] as number;
    } catch (error) {
      if (batch.length === 1 + callStride) {
        this.#settle(batch[1] as number, false, uncloneable('input', error, this.#source));
        return;
      }
      for (let i = 1; i < batch.length; i += callStride)
        this.#postCalls([ToWorker.Call, ...batch.slice(i, i + callStride)]);
    }
  }

  /** Posts any other request, after the calls still in the outbox (the worker reads requests in id order). */
  #post(message: WorkerRequest): void {
    if (this.#outbox !== undefined) this.#flushCalls();
    this.#worker.postMessage(message);
    if (message[0] === ToWorker.Warm) this.#lastPosted = message[1] + message[2] - 1;
    else if (message[0] !== ToWorker.Cancel) this.#lastPosted = message[1] as number;
  }

  /** start(), stop() or health() in the worker. */
  request(tag: typeof ToWorker.Start | typeof ToWorker.Stop | typeof ToWorker.Health, config?: unknown) {
    const id = ++this.#nextId;
    const answer = new Promise<unknown>((resolve, reject) => {
      const slot = this.#pending.add(id);
      slot.resolve = resolve;
      slot.reject = reject;
    });
    if (this.#closedWith !== undefined || this.#exited) {
      this.#settle(
        id,
        false,
        this.#closedWith ?? new PlugbayError('PLUGBAY_CLOSED', 'worker has exited', this.#source),
      );
    } else if (tag === ToWorker.Start) {
      try {
        this.#post([tag, id, config]);
      } catch (error) {
        this.#settle(id, false, uncloneable('config', error, this.#source));
      }
    } else {
      this.#post([tag, id]);
    }
    return { id, answer };
  }

  /**
   * Gives up on request `id`: rejects it with `reason`, aborts its signal in the worker, and pings the worker —
   * one that does not answer within `unresponsiveMs` past the call's own budget (`ownDeadline`: a caller's shorter
   * deadline is no reason to kill) is stuck (busy loop) and is killed.
   */
  abort(id: number, reason: PlugbayError, unresponsiveMs: number, ownDeadline = 0): void {
    if (!this.#settle(id, false, reason)) return;
    if (this.#exited || this.#closedWith !== undefined) return;
    if (id > this.#lastPosted) {
      this.#outboxAborted = true; // still in the outbox: it is dropped there, and the plugin never sees it
      return;
    }
    this.#post([ToWorker.Cancel, id, reason.toWire()]);
    this.checkAlive(unresponsiveMs, ownDeadline);
  }

  /**
   * Pings the worker unless a ping is already out; kills it if the answer does not come by `unresponsiveMs` after
   * `after` (epoch ms; default now, and now for a call with no budget of its own). A ping already out whose kill
   * comes later is brought forward.
   */
  checkAlive(unresponsiveMs: number, after = 0): void {
    if (this.#exited || this.#killedAs !== undefined) return;
    const killAt = (Number.isFinite(after) ? Math.max(Date.now(), after) : Date.now()) + unresponsiveMs;
    const ping = this.#ping;
    if (ping !== undefined && ping.killAt <= killAt) return;
    const id = ping?.id ?? ++this.#nextId;
    if (ping !== undefined) clearTimeout(ping.timer);
    const timer = setTimeout(() => {
      // The worker reads messages in order and never read this ping, so it never read anything sent after it
      // either: those calls go to the restarted worker instead of failing.
      this.#lastReceived ??= id;
      this.kill({ unresponsiveMs });
    }, killAt - Date.now());
    this.#ping = { id, timer, killAt };
    if (ping === undefined) this.#post([ToWorker.Ping, id]);
  }

  /** Terminates the worker as a crash: pending work fails with PLUGBAY_PLUGIN_CRASHED and the listener hears `end`. */
  kill(end: WorkerEnd): void {
    if (this.#exited || this.#killedAs !== undefined || this.#closedWith !== undefined) return;
    this.#killedAs = end;
    void this.#worker.terminate();
  }

  /** Terminates the worker on purpose: pending work fails with `error`; the listener hears nothing. */
  async close(error: PlugbayError): Promise<void> {
    if (this.#closedWith === undefined) {
      this.#closedWith = error;
      this.#failAll(error);
    }
    if (!this.#exited) await this.#worker.terminate();
  }

  /**
   * Warms the worker before traffic moves onto it (the rollout, before a route flips): rounds of up to maxBatch
   * synthetic round trips, at most warmRoundTrips or warmMs in all, after growing the pending slots to `inflight`.
   * Skipped (0) when the worker answered warmAfter round trips within the last warmForMs: it is warm already.
   * Resolves with the round trips made; rejects only when the worker ended meanwhile.
   */
  async warm(inflight: number): Promise<number> {
    if (this.#exited || this.#killedAs !== undefined || this.#closedWith !== undefined) return 0;
    if (this.#answered >= warmAfter && performance.now() - this.#lastAnswerAt < warmForMs) return 0;
    this.#pending.reserve(Math.min(Math.max(inflight, maxBatch), 4096));
    const started = performance.now();
    let done = 0;
    while (done < warmRoundTrips) {
      const left = warmMs - (performance.now() - started);
      if (left <= 0) break;
      const n = Math.min(maxBatch, warmRoundTrips - done);
      if (!(await this.#warmRound(n, left))) break;
      done += n;
    }
    return done;
  }

  /** One Warm message of `n` round trips; false when it is not answered within `ms` (left to settle later). */
  #warmRound(n: number, ms: number): Promise<boolean> {
    const first = this.#nextId + 1;
    this.#nextId += n;
    return new Promise<boolean>((resolve, reject) => {
      let left = n;
      const timer = setTimeout(() => resolve(false), ms);
      const one = (): void => {
        if (--left > 0) return;
        clearTimeout(timer);
        resolve(true);
      };
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        reject(error);
      };
      for (let id = first; id < first + n; id++) {
        const slot = this.#pending.add(id);
        slot.resolve = one;
        slot.reject = fail;
      }
      this.#post([ToWorker.Warm, first, n]);
    });
  }

  /** Pending slots (tests: the ring is reused, not reallocated). */
  get slotCapacity(): number {
    return this.#pending.capacity;
  }

  get inflight(): number {
    return this.#pending.size;
  }

  /** Settles request `id` if it is still pending; false if it was not. */
  #settle(id: number, ok: boolean, value: unknown): boolean {
    const slot = this.#pending.take(id);
    if (slot === undefined) return false;
    if (slot.ctx !== undefined) this.#calls--;
    const settle = ok ? slot.resolve : slot.reject;
    this.#pending.release(slot);
    settle(value);
    return true;
  }

  #onMessage(m: HostMessage): void {
    switch (m[0]) {
      case ToHost.Result:
        for (let i = 1; i < m.length; i += 2) this.#settle(m[i] as number, true, m[i + 1]);
        this.#answered += (m.length - 1) / 2;
        this.#lastAnswerAt = performance.now();
        return;
      case ToHost.Failure:
        this.#settle(m[1], false, remoteError(m[2], this.#source));
        return;
      case ToHost.Pong:
        if (this.#ping?.id === m[1]) {
          clearTimeout(this.#ping.timer);
          this.#ping = undefined;
        }
        return;
      case ToHost.Log: {
        const line: PluginLogLine = { level: m[1], msg: m[2] };
        if (m[3] !== undefined) line.fields = m[3];
        if (m[4] !== undefined) line.traceparent = m[4];
        this.#listener.log(line);
        return;
      }
      case ToHost.Loaded:
        this.#loaded?.resolve(m[1]);
        this.#loaded = undefined;
        return;
      case ToHost.LoadFailed: {
        const error = loadError(m[1], this.#source);
        this.#loaded?.reject(error);
        this.#loaded = undefined;
        this.kill({ error, failedIn: 'load' });
        return;
      }
      case ToHost.Exiting:
        this.#lastReceived = m[1];
        return;
      case ToHost.OverMemory:
        this.kill({ externalBytes: m[1] });
        return;
      case ToHost.Spans:
        this.#listener.spans?.(m[1]);
        return;
    }
  }

  #onExit(exitCode: number): void {
    this.#exited = true;
    if (this.#ping !== undefined) clearTimeout(this.#ping.timer);
    this.#ping = undefined;
    if (this.#closedWith !== undefined) {
      this.#loaded?.reject(this.#closedWith);
      return;
    }
    const end: WorkerEnd = this.#killedAs ?? { error: this.#error, exitCode };
    if (end.error === undefined) delete end.error;
    const crash = crashError(end, this.#source);
    this.#loaded?.reject(loadError(crash, this.#source));
    this.#loaded = undefined;
    this.#outbox = undefined;
    const unstarted: UnstartedCall[] = [];
    const lastReached = this.#lastReceived ?? this.#lastPosted;
    const failed: Pending[] = [];
    for (const p of this.#pending.drain()) {
      if (p.ctx === undefined || p.id <= lastReached) failed.push(p);
      else unstarted.push(p as UnstartedCall);
    }
    this.#calls = 0;
    for (const p of failed) p.reject(crash);
    this.#listener.end(this, end, unstarted);
  }

  #failAll(error: PlugbayError): void {
    const pending = this.#pending.drain();
    this.#calls = 0;
    for (const p of pending) p.reject(error);
  }
}

function uncloneable(what: string, error: unknown, source: ErrorSource): PlugbayError {
  const message = `${what} cannot cross the worker boundary: ${error instanceof Error ? error.message : String(error)}`;
  return new PlugbayError(what === 'input' ? 'PLUGBAY_INVALID_INPUT' : 'PLUGBAY_INVALID_ARGUMENT', message, {
    ...source,
    cause: error,
  });
}
