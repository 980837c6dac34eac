/**
 * Every failure of the process tier becomes a PLUGBAY_* error here, and only here: gRPC status codes, exit codes
 * and signals, plugin-level errors from the wire.
 */

import type { WireErrorMessage } from '@plugbay/sdk/process';
import { type ErrorCode, type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { ErrorMessage } from './proto.js';

const decoder = new TextDecoder();

/**
 * A plugin-level error from a response (`plugbay.v1.Error`), attributed to the plugin: as protobufjs decodes it
 * (details as bytes, hasRetryable) or as the SDK's hand codec does (details as text, retryable only when set).
 */
export function fromErrorMessage(e: ErrorMessage | WireErrorMessage, source: ErrorSource): PlugbayError {
  const raw = e.details;
  const text = typeof raw === 'string' ? raw : raw !== undefined && raw.length > 0 ? decoder.decode(raw) : '';
  let details: Record<string, unknown> | undefined;
  if (text.length > 0) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object') details = parsed as Record<string, unknown>;
    } catch {
      details = { raw: text };
    }
  }
  const retryable = 'hasRetryable' in e ? (e.hasRetryable ? e.retryable === true : undefined) : e.retryable;
  return PlugbayError.fromWire(
    {
      code: e.code || 'PLUGBAY_PLUGIN_ERROR',
      message: e.message ?? '',
      details,
      ...(retryable === undefined ? {} : { retryable }),
    },
    source,
  );
}

/** gRPC status codes (grpc/status.h numbers, stable across every gRPC implementation). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The PLUGBAY code of each gRPC status a call can end with; any other is PLUGBAY_PLUGIN_ERROR. */
const codeOfStatus: Partial<Record<number, ErrorCode>> = {
  // The deadline we set from ctx.deadline passed: the call timed out.
  [GrpcStatus.DEADLINE_EXCEEDED]: 'PLUGBAY_TIMEOUT',
  // We cancelled it (caller abort); the abort reason normally wins before this is seen.
  [GrpcStatus.CANCELLED]: 'PLUGBAY_CANCELLED',
  // The socket broke or the server is gone: the plugin process died or is dying.
  [GrpcStatus.UNAVAILABLE]: 'PLUGBAY_PLUGIN_CRASHED',
  // The plugin's service has no such method (go-plugin services: an unknown function).
  [GrpcStatus.UNIMPLEMENTED]: 'PLUGBAY_UNKNOWN_FUNCTION',
  [GrpcStatus.INVALID_ARGUMENT]: 'PLUGBAY_INVALID_INPUT',
  [GrpcStatus.PERMISSION_DENIED]: 'PLUGBAY_PERMISSION_DENIED',
};

/**
 * A transport failure reported as a gRPC status. UNKNOWN, INTERNAL and the rest: the plugin's handler failed (a
 * go-plugin service returns its errors this way).
 */
export function fromGrpcStatus(
  status: { code?: number; details?: string; message?: string },
  source: ErrorSource,
): PlugbayError {
  const message = status.details || status.message || 'gRPC call failed';
  const code = (status.code === undefined ? undefined : codeOfStatus[status.code]) ?? 'PLUGBAY_PLUGIN_ERROR';
  return new PlugbayError(code, message, { ...source, details: { grpcCode: status.code } });
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last stderr lines, for the error's details. */
  stderrTail: string[];
  /** Some stderr line said the heap ran out (the line may have scrolled out of the tail: V8 prints a stack after it). */
  oom?: boolean;
  /** The signal was read from this wrapper's 128 + N exit code (bwrap): the exit code it gave. */
  wrapper?: { name: string; exitCode: number };
}

/** Node prints this when --max-old-space-size is exceeded; the process then aborts. */
export const oomPattern = /heap out of memory|Allocation failed - JavaScript heap|out of memory/i;

/** Why a process ended, as the error that in-flight calls and the 'exit' event carry. */
export function fromExit(exit: ExitInfo, source: ErrorSource): PlugbayError {
  const oom = exit.oom === true || exit.stderrTail.some((l) => oomPattern.test(l));
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const reason = oom ? 'out-of-memory' : exit.signal !== null ? 'signal' : 'exit';
  return new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `plugin process ${how}${oom ? ' (out of memory)' : ''}`, {
    ...source,
    details: {
      reason,
      exitCode: exit.code,
      signal: exit.signal,
      ...(exit.wrapper === undefined ? {} : { wrapper: exit.wrapper }),
      stderrTail: exit.stderrTail.slice(-5),
    },
  });
}
