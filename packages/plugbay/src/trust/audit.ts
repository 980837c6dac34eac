import { PlugbayError } from '../core/errors.js';

/**
 * Names a loaded module exposes that are plumbing, not plugin functions, per runtime:
 * - node: `default` (the definePlugin object itself).
 * - wasm: the memory, the WASI entry points and the linker/runtime symbols the Extism PDKs emit.
 */
export const ignoredExports = {
  node: ['default'],
  wasm: [
    'memory',
    '_start',
    '_initialize',
    '__data_end',
    '__heap_base',
    '__indirect_function_table',
    '__stack_pointer',
    // AssemblyScript runtime exports (as-pdk built with --exportRuntime)
    '__new',
    '__pin',
    '__unpin',
    '__collect',
    '__rtti_base',
    '__setArgumentsLength',
  ],
  exec: [],
} as const satisfies Record<string, readonly string[]>;

export interface ExportAudit {
  /** Exposed but not declared in the manifest, sorted. */
  undeclared: string[];
  /** Declared in the manifest but not exposed, sorted (calls to them would fail). */
  missing: string[];
  /** Under `strict` with undeclared names: the PLUGBAY_EXPORTS_UNDECLARED error to refuse the instance with. */
  error?: PlugbayError;
}

/**
 * Compares what the loaded code exposes with the manifest's functions. `mode: 'strict'` turns undeclared names into
 * a PLUGBAY_EXPORTS_UNDECLARED error (details.undeclared lists them); `warn` only reports them.
 */
export function auditExports(input: {
  declared: readonly string[] | Record<string, unknown>;
  exposed: readonly string[];
  mode: 'warn' | 'strict';
  runtime?: keyof typeof ignoredExports;
  plugin?: string;
  version?: string;
}): ExportAudit {
  const declared = new Set(Array.isArray(input.declared) ? input.declared : Object.keys(input.declared));
  const ignored = new Set<string>(input.runtime ? ignoredExports[input.runtime] : []);
  const exposed = new Set(input.exposed.filter((n) => !ignored.has(n)));
  const undeclared = [...exposed].filter((n) => !declared.has(n)).sort();
  const missing = [...declared].filter((n) => !exposed.has(n)).sort();
  const audit: ExportAudit = { undeclared, missing };
  if (input.mode === 'strict' && undeclared.length > 0) {
    const who = input.plugin ? `${input.plugin}${input.version ? `@${input.version}` : ''} ` : '';
    audit.error = new PlugbayError(
      'PLUGBAY_EXPORTS_UNDECLARED',
      `${who}exposes functions its manifest does not declare: ${undeclared.join(', ')}`,
      { plugin: input.plugin, version: input.version, details: { undeclared, missing } },
    );
  }
  return audit;
}
