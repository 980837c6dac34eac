/**
 * What a wasm plugin's module offers, without running it: for `plugbay build` (fill `functions` from the exports;
 * the author then adds the schemas) and for the export audit (trust/audit.ts: exports that are not manifest functions).
 */
import { readFile } from 'node:fs/promises';
import type { FunctionSpec } from '../../core/manifest.js';
import { auditModule } from './engine.js';

export interface WasmModuleReport {
  /** Function exports, toolchain and ABI exports removed. */
  functions: string[];
  /** The module uses WASI preview 1. */
  wasi: boolean;
  /** Imports this host does not provide (`module.name`); such a module will not load. */
  unsupported: string[];
  /** WASI functions it imports that this host does not implement: they answer ENOSYS. */
  enosys: string[];
}

export async function inspectWasmModule(pathOrBytes: string | Uint8Array): Promise<WasmModuleReport> {
  const bytes = typeof pathOrBytes === 'string' ? new Uint8Array(await readFile(pathOrBytes)) : pathOrBytes;
  return auditModule(await WebAssembly.compile(bytes));
}

/** Manifest `functions` for a module's exports: accept-anything schemas the author narrows later. */
export function draftFunctions(functions: readonly string[]): Record<string, FunctionSpec> {
  const out: Record<string, FunctionSpec> = {};
  for (const fn of functions)
    out[fn] = { description: `${fn} (from the wasm exports)`, input: {}, output: {} };
  return out;
}
