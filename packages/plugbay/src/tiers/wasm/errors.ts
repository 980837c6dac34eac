/**
 * The one place where the wasm tier turns its failures into plugbay error codes (DESIGN.md "Tier interface").
 * Each branch says why the code fits.
 */

import type { ErrorSource } from '../../core/errors.js';
import { PlugbayError } from '../../core/errors.js';
import { ModuleFormatError } from './module-binary.js';

/** Thrown by WASI proc_exit to unwind the guest; not an error by itself (exit code 0 is a normal return). */
export class ProcExit extends Error {
  constructor(readonly exitCode: number) {
    super(`plugin called proc_exit(${exitCode})`);
  }
}

/** Something thrown while a plugin function ran. */
export function callFailure(err: unknown, fn: string, source: ErrorSource): PlugbayError {
  // A host function refused (permission) or failed on purpose: its code is already the right one.
  if (err instanceof PlugbayError) {
    if (err.plugin === undefined) Object.assign(err, source);
    return err;
  }
  // proc_exit(n != 0): the plugin reported failure the WASI way, as a program would.
  if (err instanceof ProcExit) {
    return new PlugbayError('PLUGBAY_PLUGIN_ERROR', `${fn}: plugin exited with code ${err.exitCode}`, {
      ...source,
      details: { function: fn, exitCode: err.exitCode },
    });
  }
  // A trap (unreachable, out-of-bounds access, division by zero, bad indirect call): the guest's state can no
  // longer be trusted, so this is a crash and the sandbox is rebuilt before the next call.
  if (err instanceof WebAssembly.RuntimeError) {
    return new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `${fn}: wasm trap: ${err.message}`, {
      ...source,
      cause: err,
      details: { function: fn, trap: err.message },
    });
  }
  // V8 reports guest stack exhaustion as a RangeError; same treatment as a trap.
  if (err instanceof RangeError) {
    return new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `${fn}: ${err.message}`, {
      ...source,
      cause: err,
      details: { function: fn, trap: err.message },
    });
  }
  return PlugbayError.from(err, 'PLUGBAY_PLUGIN_CRASHED', source);
}

/** The module has no such function export. */
export function unknownFunction(fn: string, source: ErrorSource): PlugbayError {
  return new PlugbayError('PLUGBAY_UNKNOWN_FUNCTION', `the wasm module exports no function ${fn}`, {
    ...source,
    details: { function: fn },
  });
}

/** The plugin set an error with error_set, or returned a non-zero code. */
export function pluginError(
  fn: string,
  message: string | undefined,
  rc: number,
  source: ErrorSource,
): PlugbayError {
  const text = message !== undefined && message !== '' ? message : `returned ${rc}`;
  return new PlugbayError('PLUGBAY_PLUGIN_ERROR', text, { ...source, details: { function: fn, rc } });
}

/** Failures while reading, checking or compiling the module. */
export function loadFailure(err: unknown, entry: string, source: ErrorSource): PlugbayError {
  if (err instanceof PlugbayError) return err;
  // A module we cannot cap or that is not wasm at all: the artifact is wrong, not the host.
  if (err instanceof ModuleFormatError || err instanceof WebAssembly.CompileError) {
    return new PlugbayError('PLUGBAY_LOAD_FAILED', `${entry}: ${(err as Error).message}`, {
      ...source,
      cause: err,
      details: { entry },
    });
  }
  // Unresolvable imports are reported before instantiation; a LinkError here means an import has the wrong type.
  if (err instanceof WebAssembly.LinkError) {
    return new PlugbayError('PLUGBAY_LOAD_FAILED', `${entry}: ${err.message}`, {
      ...source,
      cause: err,
      details: { entry },
    });
  }
  // The start function (_initialize, constructors) trapped: the plugin cannot start.
  if (err instanceof WebAssembly.RuntimeError) {
    return new PlugbayError('PLUGBAY_START_FAILED', `${entry}: trap during initialisation: ${err.message}`, {
      ...source,
      cause: err,
    });
  }
  return PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED', source);
}

/** The kernel memory cap was reached while placing the input. */
export function inputTooLarge(fn: string, bytes: number, source: ErrorSource): PlugbayError {
  return new PlugbayError(
    'PLUGBAY_INVALID_INPUT',
    `${fn}: input of ${bytes} bytes does not fit the kernel memory cap`,
    {
      ...source,
      details: { function: fn, bytes },
    },
  );
}

/** The plugin returned bytes that are not JSON while the tier expects JSON. */
export function badOutput(fn: string, err: unknown, source: ErrorSource): PlugbayError {
  return new PlugbayError(
    'PLUGBAY_INVALID_OUTPUT',
    `${fn}: output is not valid JSON: ${(err as Error).message}`,
    {
      ...source,
      details: { function: fn, rule: 'json' },
    },
  );
}
