/** The one internal seam between the instance and the bytes: frames and gRPC implement it alike. */
import type { Health } from '@plugbay/sdk';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext } from '../../core/types.js';

export interface Described {
  name: string;
  version: string;
  functions: string[];
}

export interface Carrier {
  readonly kind: 'frames' | 'grpc' | 'go-plugin';
  describe(timeoutMs: number): Promise<Described>;
  start(config: unknown, timeoutMs: number): Promise<void>;
  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown>;
  stop(timeoutMs: number): Promise<void>;
  health(timeoutMs: number): Promise<Health>;
  /** go-plugin's Controller.Shutdown (or the shutdown frame): asks the process to exit. */
  shutdown(timeoutMs: number): Promise<void>;
  /** Fails every call in flight at once with `err` and closes the connection; idempotent. */
  destroy(err: Error): void;
  /**
   * Set by the instance: the connection broke under the calls in flight (it closed, a broken frame, a call ended
   * UNAVAILABLE). Called before they fail, and returns the error they fail with.
   */
  onLost: Lost | undefined;
  /** Set by the instance: the functions with `codec: "bytes"`, whose input and output bytes pass unparsed. */
  bytesFunctions: ReadonlySet<string>;
}

/** No bytes function: the carriers' default. */
export const noBytesFunctions: ReadonlySet<string> = new Set();

/** The bytes functions of a manifest (none for most plugins: the carriers then check an empty set). */
export function bytesFunctionsOf(functions: Record<string, { codec?: string }>): ReadonlySet<string> {
  return new Set(Object.entries(functions).flatMap(([fn, spec]) => (spec.codec === 'bytes' ? [fn] : [])));
}

export type Lost = (err: PlugbayError) => PlugbayError;

/**
 * A call's input as its CallRequest carries it: the bytes themselves for a bytes function (the host checked they
 * are a Uint8Array), else JSON; what JSON cannot hold (a BigInt, a cycle) is the caller's mistake.
 */
export function inputJson(input: unknown, source: ErrorSource, bytes = false): string | Uint8Array {
  if (bytes && input instanceof Uint8Array) return input;
  let json: string | undefined;
  try {
    json = JSON.stringify(input ?? null);
  } catch (err) {
    throw invalidInput((err as Error).message, source, err);
  }
  // a function, a symbol, or a toJSON() that returns undefined
  if (json === undefined) throw invalidInput(`${typeof input} has no JSON form`, source);
  return json;
}

function invalidInput(why: string, source: ErrorSource, cause?: unknown): PlugbayError {
  return new PlugbayError('PLUGBAY_INVALID_INPUT', `input cannot be sent as JSON: ${why}`, {
    ...source,
    cause,
  });
}

/**
 * A CallResponse's output bytes as a value (empty: undefined), or as they are for a bytes function; bytes that are
 * not JSON are the plugin's fault.
 */
export function outputValue(output: Uint8Array, source: ErrorSource, bytes = false): unknown {
  if (bytes) return output;
  if (output.length === 0) return undefined;
  try {
    return JSON.parse(decoder.decode(output));
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_OUTPUT',
      `the plugin's output is not JSON: ${(err as Error).message}`,
      {
        ...source,
        cause: err,
      },
    );
  }
}

const decoder = new TextDecoder();
