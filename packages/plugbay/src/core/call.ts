import { DeadlineEntry, type Deadlines } from './deadlines.js';
import { PlugbayError } from './errors.js';
import { newTraceparent } from './trace-id.js';
import type { CallContext } from './types.js';

/** Fixed for the life of the thread; the getter costs ~35 ns (a brand check and a native call) on every read. */
const timeOrigin = performance.timeOrigin;

/**
 * The calls waiting on a caller's signal, kept by the signal's owner instead of one 'abort' listener per call:
 * adding and removing an EventTarget listener costs 1–2 µs, a tenth of a whole gateway request's own work. The
 * owner aborts its controller first, then calls `handleEvent()` of each call in the set. The gateway's connection
 * signals carry one (server.ts); any other signal gets a listener as usual.
 */
export const abortWatchers: unique symbol = Symbol('plugbay.abortWatchers');

/** A signal whose owner keeps its calls in `[abortWatchers]` (see there). */
export interface WatchedSignal extends AbortSignal {
  [abortWatchers]?: Set<{ handleEvent(): void }>;
}

/**
 * One call in progress: its deadline, its abort, and the context a tier sees. The AbortSignal is made only when
 * someone reads it (most plugins never do), and the deadline rides on a shared list instead of a timer per call.
 */
export class Call extends DeadlineEntry implements CallContext {
  readonly deadline: number;
  readonly ownDeadline: number;
  readonly key: string | undefined;
  #traceparent: string | undefined;
  /** Start a new trace when read without one (CallOptions.newTrace). */
  readonly #newTrace: boolean;
  #controller: AbortController | undefined;
  #listeners: ((reason: PlugbayError) => void)[] | undefined;
  #reject: ((reason: PlugbayError) => void) | undefined;
  #reason: PlugbayError | undefined;
  #callerSignal: AbortSignal | undefined;
  #watchers: Set<{ handleEvent(): void }> | undefined;
  #settled = false;
  readonly #deadlines: Deadlines;
  readonly #timeoutMs: number;

  constructor(
    deadlines: Deadlines,
    timeoutMs: number,
    traceparent?: string,
    key?: string,
    signal?: AbortSignal,
    /** performance.now() at the start of the call, when the caller read it already (one clock read per call). */
    startedAt?: number,
    /** The function's own budget (manifest or host default), when the caller chose `timeoutMs` instead. */
    ownTimeoutMs = timeoutMs,
    /** Without `traceparent`, make a new one when someone reads it (CallOptions.newTrace). */
    newTrace = false,
  ) {
    super();
    this.#deadlines = deadlines;
    this.#timeoutMs = timeoutMs;
    const start = startedAt === undefined ? Date.now() : timeOrigin + startedAt;
    this.deadline = start + timeoutMs;
    this.ownDeadline = start + ownTimeoutMs;
    this.#traceparent = traceparent;
    this.#newTrace = newTrace;
    this.key = key;
    if (signal !== undefined) {
      if (signal.aborted) this.#reason = cancelled(signal);
      else {
        this.#callerSignal = signal;
        const watchers = (signal as WatchedSignal)[abortWatchers];
        if (watchers === undefined) signal.addEventListener('abort', this, { once: true });
        else {
          watchers.add(this);
          this.#watchers = watchers;
        }
      }
    }
  }

  /**
   * The W3C traceparent the call runs under. A new trace's is made on first read: most calls through the gateway
   * are never logged or passed on by an inline plugin, and making one costs about a microsecond.
   */
  get traceparent(): string | undefined {
    if (this.#traceparent === undefined && this.#newTrace) this.#traceparent = newTraceparent();
    return this.#traceparent;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  onAbort(listener: (reason: PlugbayError) => void): void {
    if (this.#settled) return;
    if (this.#reason !== undefined) listener(this.#reason);
    else if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  /**
   * The answer of a tier that settles on abort itself (Instance.settlesOnAbort): only the deadline is armed,
   * since the tier's own onAbort listener rejects the answer when it passes.
   */
  arm<T>(answer: Promise<T>): Promise<T> {
    if (this.#reason === undefined) this.#deadlines.add(this.#timeoutMs, this);
    return answer;
  }

  /** Settles with the tier's answer, or rejects first when the deadline passes or the caller aborts. */
  run<T>(answer: Promise<T>): Promise<T> {
    if (this.#reason !== undefined) {
      answer.catch(() => {}); // the tier may still reject; nobody waits for it any more
      return Promise.reject(this.#reason);
    }
    this.#deadlines.add(this.#timeoutMs, this);
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      answer.then(resolve, reject);
    });
  }

  /**
   * True when the deadline that passes first is one the caller chose, shorter than the function's own budget: its
   * PLUGBAY_TIMEOUT is the caller's choice, not the plugin's failure (the circuit does not count it).
   */
  get callerDeadline(): boolean {
    return this.deadline < this.ownDeadline;
  }

  /** Deadline reached (called by Deadlines). */
  expire(): void {
    this.#abort(
      new PlugbayError('PLUGBAY_TIMEOUT', `call did not finish within ${this.#timeoutMs} ms`, {
        details: { timeoutMs: this.#timeoutMs, deadline: this.callerDeadline ? 'caller' : 'function' },
      }),
    );
  }

  /** The caller's signal fired (EventListener object form: no closure per call). */
  handleEvent(): void {
    this.#abort(cancelled(this.#callerSignal!));
  }

  /** The call is over: drop the deadline and the caller's listener. */
  settle(): void {
    this.#settled = true;
    this.#deadlines.remove(this);
    if (this.#watchers !== undefined) this.#watchers.delete(this);
    else this.#callerSignal?.removeEventListener('abort', this);
    this.#listeners = undefined;
    this.#reject = undefined;
  }

  #abort(reason: PlugbayError): void {
    if (this.#settled || this.#reason !== undefined) return;
    this.#reason = reason;
    this.#reject?.(reason);
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const l of listeners) l(reason);
  }
}

/** The error of a call its caller aborted: the signal's reason when that is a PlugbayError. */
export function cancelled(signal: AbortSignal): PlugbayError {
  const reason = signal.reason;
  if (reason instanceof PlugbayError) return reason;
  return new PlugbayError('PLUGBAY_CANCELLED', 'the caller aborted the call', { cause: reason });
}
