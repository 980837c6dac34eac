/**
 * Messages between a thread-tier instance (host side) and its worker (thread/worker.ts). Compact arrays, tagged
 * by a small integer in slot 0: structured clone of a short array is cheaper than of an object with named keys.
 * Requests carry an id chosen by the host; the answer (Result or Failure) repeats it.
 *
 * Calls are batched: one Calls message carries every call made while earlier ones were in flight. Results are
 * batched when they are ready at the same moment (async answers settling in one microtask checkpoint); a
 * synchronous answer leaves before the next call of its batch starts. Each message wakes the receiving thread, and on a
 * busy machine that wake-up costs more than the call itself (measured: 64 calls in flight ran at half the
 * throughput of a bare port once the host added 1 µs per call; with batching they ran faster than the bare port).
 */
import type { Health } from '@plugbay/sdk';
import type { WireError } from '../../core/errors.js';
import type { PluginLogLine } from '../../core/types.js';

/** Host → worker. */
export const ToWorker = {
  Call: 0,
  Cancel: 1,
  Ping: 2,
  Start: 3,
  Stop: 4,
  Health: 5,
  /**
   * `[Warm, firstId, count]`: `count` synthetic round trips with ids firstId…firstId+count-1, answered with null
   * through the same batched Results path as calls (the plugin is not involved). The rollout sends it to an idle
   * worker before traffic moves onto it: it runs the worker's and the host's message path hot and grows the host's
   * pending slots to the in-flight count to come.
   */
  Warm: 6,
} as const;

/**
 * Calls (host) and results (worker) per message at most: a bigger burst leaves in several messages, so that no
 * single structured clone, and no single batch of promise settlements on the host, grows with the burst.
 */
export const maxBatch = 64;

/** Worker → host. */
export const ToHost = {
  Result: 0,
  Failure: 1,
  Pong: 2,
  Log: 3,
  /** Sent once, after the plugin module was imported and resolved. */
  Loaded: 4,
  /** Sent instead of Loaded when the import or the definition failed. */
  LoadFailed: 5,
  /**
   * Sent from the worker's process 'exit' event (uncaught exception, unhandled rejection, process.exit()): the id
   * of the last request it read. Node delivers it before the Worker's 'exit' event, so the host knows that calls
   * with a higher id never reached the plugin and can go to the restarted worker. Not sent when V8 runs out of
   * memory or the worker is terminated.
   */
  Exiting: 6,
  /** The worker holds more ArrayBuffer/Buffer memory than `permissions.memoryMb` (memory-watch.ts): end it. */
  OverMemory: 7,
  /** Spans the plugin recorded with ctx.span() (OTLP/JSON objects), when init.traceSpans. */
  Spans: 8,
} as const;

/** Fields of one call in a Calls message, repeated once per call after the tag. */
export type CallFields = [
  id: number,
  fn: string,
  input: unknown,
  traceparent: string | undefined,
  deadline: number,
  key: string | undefined,
];
export const callStride = 6;
/** One or more calls: `[Call, ...CallFields, ...CallFields, …]`, in id order. */
export type CallMessage = [tag: typeof ToWorker.Call, ...fields: unknown[]];
/** Aborts the signal of request `id` (a call, start, stop or health) in the worker. */
export type CancelMessage = [tag: typeof ToWorker.Cancel, id: number, reason: WireError];
export type PingMessage = [tag: typeof ToWorker.Ping, id: number];
export type StartMessage = [tag: typeof ToWorker.Start, id: number, config: unknown];
export type StopMessage = [tag: typeof ToWorker.Stop, id: number];
export type HealthMessage = [tag: typeof ToWorker.Health, id: number];
export type WarmMessage = [tag: typeof ToWorker.Warm, firstId: number, count: number];
export type WorkerRequest =
  | CallMessage
  | CancelMessage
  | PingMessage
  | StartMessage
  | StopMessage
  | HealthMessage
  | WarmMessage;

/** One or more outputs: `[Result, id, value, id, value, …]`. */
export type ResultMessage = [tag: typeof ToHost.Result, ...idsAndValues: unknown[]];
export type FailureMessage = [tag: typeof ToHost.Failure, id: number, error: WireError];
export type PongMessage = [tag: typeof ToHost.Pong, id: number];
export type LogMessage = [
  tag: typeof ToHost.Log,
  level: PluginLogLine['level'],
  msg: string,
  fields: Record<string, unknown> | undefined,
  traceparent: string | undefined,
];
export type LoadedMessage = [tag: typeof ToHost.Loaded, functions: string[]];
export type LoadFailedMessage = [tag: typeof ToHost.LoadFailed, error: WireError];
export type ExitingMessage = [tag: typeof ToHost.Exiting, lastReceived: number];
export type OverMemoryMessage = [tag: typeof ToHost.OverMemory, externalBytes: number];
export type SpansMessage = [tag: typeof ToHost.Spans, spans: unknown[]];
export type HostMessage =
  | ResultMessage
  | FailureMessage
  | PongMessage
  | LogMessage
  | LoadedMessage
  | LoadFailedMessage
  | ExitingMessage
  | OverMemoryMessage
  | SpansMessage;

/** What the worker is started with (workerData). */
export interface WorkerInit {
  /** file: URL of the plugin's entry. */
  entryUrl: string;
  /** file: URL of `@plugbay/sdk/runtime`, resolved by the host once for every worker. */
  sdkRuntimeUrl: string;
  plugin: string;
  version: string;
  /** `permissions.memoryMb`: the worker also watches its ArrayBuffers/Buffers against it (memory-watch.ts). */
  memoryMb?: number;
  /** The host exports traces (observe/span-relay.ts): ctx.span() records spans and posts them. */
  traceSpans?: boolean;
}

export type HealthResult = Health;
