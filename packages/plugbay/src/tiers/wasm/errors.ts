/**
 * The one place where the wasm tier turns its failures into plugbay error codes (DESIGN.md "Tier interface").
 * Each branch says why the code fits.
 *
 * The sandbox side (engine, host functions, worker) throws WasmFault, a light error carrying a registry code:
 * importing PlugbayError would load the whole SDK (TypeBox) into every worker and add ~150 ms to each worker
 * (re)spawn on a busy machine. The host side (tier.ts) turns faults into PlugbayErrors with their plugin and version.
 */
import type { ErrorCode, WireError } from '../../core/errors.js';
import { ModuleFormatError } from './module-binary.js';

export class WasmFault extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Thrown by WASI proc_exit to unwind the guest; not an error by itself (exit code 0 is a normal return). */
export class ProcExit extends Error {
  constructor(readonly exitCode: number) {
    super(`plugin called proc_exit(${exitCode})`);
  }
}

/** Something thrown while a plugin function ran. */
export function callFailure(err: unknown, fn: string): WasmFault {
  // A host function refused (permission) or failed on purpose: its code is already the right one.
  if (err instanceof WasmFault) return err;
  // proc_exit(n != 0): the plugin reported failure the WASI way, as a program would.
  if (err instanceof ProcExit) {
    return new WasmFault('PLUGBAY_PLUGIN_ERROR', `${fn}: plugin exited with code ${err.exitCode}`, {
      function: fn,
      exitCode: err.exitCode,
    });
  }
  // A trap (unreachable, out-of-bounds access, division by zero, bad indirect call): the guest's state can no
  // longer be trusted, so this is a crash and the sandbox is rebuilt before the next call.
  if (err instanceof WebAssembly.RuntimeError) {
    return new WasmFault(
      'PLUGBAY_PLUGIN_CRASHED',
      `${fn}: wasm trap: ${err.message}`,
      { function: fn, trap: err.message },
      err,
    );
  }
  // V8 reports guest stack exhaustion as a RangeError; same treatment as a trap.
  if (err instanceof RangeError) {
    return new WasmFault(
      'PLUGBAY_PLUGIN_CRASHED',
      `${fn}: ${err.message}`,
      { function: fn, trap: err.message },
      err,
    );
  }
  // Anything else escaping the sandbox is a bug on our side of the boundary.
  return new WasmFault(
    'PLUGBAY_INTERNAL',
    `${fn}: ${(err as Error)?.message ?? String(err)}`,
    { function: fn },
    err,
  );
}

/** The module has no such function export. */
export function unknownFunction(fn: string): WasmFault {
  return new WasmFault('PLUGBAY_UNKNOWN_FUNCTION', `the wasm module exports no function ${fn}`, {
    function: fn,
  });
}

/** The plugin set an error with error_set, or returned a non-zero code. */
export function pluginError(fn: string, message: string | undefined, rc: number): WasmFault {
  const text = message !== undefined && message !== '' ? message : `returned ${rc}`;
  return new WasmFault('PLUGBAY_PLUGIN_ERROR', text, { function: fn, rc });
}

/** A host function (config_get, var_set, http_request …) refuses or fails: unwinds the guest with this code. */
export function hostFunctionFault(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
): WasmFault {
  return new WasmFault(code, message, details);
}

/** Failures while reading, checking, compiling or instantiating the module. */
export function loadFailure(err: unknown, entry: string): unknown {
  // Already carries a code (a PlugbayError from the loader's own checks, or a fault).
  if (err instanceof WasmFault || hasPlugbayCode(err)) return err;
  // A module we cannot cap or that is not wasm at all: the artifact is wrong, not the host.
  if (err instanceof ModuleFormatError || err instanceof WebAssembly.CompileError) {
    return new WasmFault('PLUGBAY_LOAD_FAILED', `${entry}: ${(err as Error).message}`, { entry }, err);
  }
  // Unresolvable imports are reported before instantiation; a LinkError here means an import has the wrong type.
  if (err instanceof WebAssembly.LinkError) {
    return new WasmFault('PLUGBAY_LOAD_FAILED', `${entry}: ${err.message}`, { entry }, err);
  }
  // The start function (_initialize, constructors) trapped: the plugin cannot start.
  if (err instanceof WebAssembly.RuntimeError || err instanceof ProcExit) {
    return new WasmFault(
      'PLUGBAY_START_FAILED',
      `${entry}: failed while initialising: ${(err as Error).message}`,
      { entry },
      err,
    );
  }
  return new WasmFault(
    'PLUGBAY_LOAD_FAILED',
    `${entry}: ${(err as Error)?.message ?? String(err)}`,
    { entry },
    err,
  );
}

/** The kernel memory cap was reached while placing the input. */
export function inputTooLarge(fn: string, bytes: number): WasmFault {
  return new WasmFault(
    'PLUGBAY_INVALID_INPUT',
    `${fn}: input of ${bytes} bytes does not fit the kernel memory cap`,
    {
      function: fn,
      bytes,
    },
  );
}

/**
 * The plugin set an output on memory that is no kernel block: its alloc failed (the kernel memory cap) and it did
 * not check. The output is lost, so the call failed, whatever the plugin returned: never an empty success.
 */
export function outputNotAllocated(fn: string, bytes: number): WasmFault {
  return new WasmFault(
    'PLUGBAY_PLUGIN_ERROR',
    `${fn}: the plugin set an output of ${bytes} bytes on memory it could not allocate (kernel memory cap, permissions.memoryMb)`,
    { function: fn, rule: 'output-not-allocated', bytes },
  );
}

/** The plugin returned bytes that are not JSON while the tier expects JSON. */
export function badOutput(fn: string, err: unknown): WasmFault {
  return new WasmFault(
    'PLUGBAY_INVALID_OUTPUT',
    `${fn}: output is not valid JSON: ${(err as Error).message}`,
    {
      function: fn,
      rule: 'json',
    },
  );
}

function hasPlugbayCode(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('PLUGBAY_');
}
