/**
 * What the wasm tier checks in a plugin's module before it runs anything: the pinned sha256 (`x-sha256`), that the
 * entry is a WebAssembly module whose memory can be capped, that it compiles, that this host provides each of its
 * imports, and that it exports every manifest function. The tier's load and `plugbay check` both call it, so they
 * refuse the same modules with the same diagnostic (PLUGBAY_LOAD_FAILED; details: field, rule).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ErrorSource } from '../../core/errors.js';
import { PlugbayError } from '../../core/errors.js';
import type { CheckedPlugin } from '../../core/types.js';
import { auditExports } from '../../trust/audit.js';
import { auditModule, type ModuleAudit } from './engine.js';
import { capMemory, ModuleFormatError, WASM_PAGE } from './module-binary.js';
import { meterModule } from './module-meter.js';

/**
 * Fuel one refill grants a metered module (units ≈ wasm instructions, a host call 1000): the deadline is checked
 * about once per ms of guest work, and the check costs one clock read.
 */
export const meterFuel = 1 << 20;

/** The memory cap of a plugin whose manifest sets no `permissions.memoryMb` (the tier's `defaultMemoryMb`). */
export const defaultWasmMemoryMb = 256;

export interface CheckedModule {
  /** Compiled with its memory capped at `memoryMb` (and metered when asked). */
  module: WebAssembly.Module;
  audit: ModuleAudit;
  memoryMb: number;
}

export async function checkModule(
  plugin: CheckedPlugin,
  defaultMemoryMb = defaultWasmMemoryMb,
  metered = false,
): Promise<CheckedModule> {
  const { entry } = plugin.manifest;
  const source: ErrorSource = { plugin: plugin.manifest.name, version: plugin.manifest.version };
  const refuse = (message: string, details: Record<string, unknown>, cause?: unknown): PlugbayError =>
    new PlugbayError('PLUGBAY_LOAD_FAILED', `${entry}: ${message}`, { ...source, details, cause });
  const bytes = new Uint8Array(await readFile(plugin.entryPath));
  checkSha256(plugin, bytes, refuse);
  const memoryMb = plugin.permissions.memoryMb ?? defaultMemoryMb;
  let module: WebAssembly.Module;
  try {
    const capped = capMemory(bytes, Math.floor((memoryMb * 2 ** 20) / WASM_PAGE)).bytes;
    module = await WebAssembly.compile(metered ? await meteredOrWhyNot(capped) : capped);
  } catch (err) {
    // Not wasm, a memory that cannot be capped or metered, or invalid code: the artifact is wrong, not the host.
    if (err instanceof ModuleFormatError || err instanceof WebAssembly.CompileError) {
      throw refuse(err.message, { field: 'entry', rule: 'wasm-module' }, err);
    }
    throw err;
  }
  const audit = auditModule(module, metered);
  if (audit.unsupported.length > 0) {
    throw refuse(`imports this host does not provide: ${audit.unsupported.join(', ')}`, {
      field: 'entry',
      rule: 'imports',
      unsupported: audit.unsupported,
    });
  }
  const { missing } = auditExports({
    declared: plugin.manifest.functions,
    exposed: audit.functions,
    mode: 'warn',
  });
  if (missing.length > 0) {
    throw refuse(`manifest functions the module does not export: ${missing.join(', ')}`, {
      field: 'functions',
      rule: 'exported',
      missing,
    });
  }
  return { module, audit, memoryMb };
}

/** The module metered; when it cannot be, the original's compile error says why if it has one (invalid code). */
async function meteredOrWhyNot(capped: Uint8Array): Promise<Uint8Array> {
  try {
    return meterModule(capped, meterFuel).bytes;
  } catch (err) {
    if (err instanceof ModuleFormatError) await WebAssembly.compile(capped);
    throw err;
  }
}

/** `x-sha256` in the manifest (hex) pins the module's content; checked before anything is compiled. */
function checkSha256(
  plugin: CheckedPlugin,
  bytes: Uint8Array,
  refuse: (message: string, details: Record<string, unknown>) => PlugbayError,
): void {
  const expected = (plugin.manifest as Record<string, unknown>)['x-sha256'];
  if (expected === undefined) return;
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (typeof expected !== 'string' || expected.toLowerCase() !== actual) {
    throw refuse("sha256 does not match the manifest's x-sha256", {
      field: 'x-sha256',
      rule: 'sha256',
      expected,
      actual,
    });
  }
}
