import type { ErrorCode } from '../core/errors.js';

/** What a plugin author should change when a conformance check fails with `code`. */
export function fixFor(
  code: ErrorCode | string,
  context: {
    field?: string | undefined;
    rule?: string | undefined;
    details?: Record<string, unknown> | undefined;
  } = {},
): string {
  const where = context.field ? ` (${context.field})` : '';
  switch (code) {
    case 'PLUGBAY_MANIFEST_INVALID':
      return `Fix plugin.json${where}${context.rule ? ` to satisfy "${context.rule}"` : ''}; for a TypeScript plugin, run \`plugbay build\` to regenerate it.`;
    case 'PLUGBAY_ENGINE_MISMATCH':
      return 'Widen engines.plugbay / engines.node in the manifest, or run a matching plugbay and Node.';
    case 'PLUGBAY_PLATFORM_UNSUPPORTED':
      return 'Widen platform.os / platform.cpu, or build the plugin for this platform.';
    case 'PLUGBAY_EXPORTS_UNDECLARED': {
      const names = (context.details?.undeclared as string[] | undefined)?.join(', ') ?? 'them';
      return `Declare ${names} under functions in the plugin definition (with input and output schemas), or stop exporting ${names} (keep helpers private to the module).`;
    }
    case 'PLUGBAY_START_FAILED':
      return context.details?.stderrTail !== undefined
        ? "The plugin process exited before it was ready: read its stderr above. Node plugins in the process tier run under the Node permission model and may read only their own files: bundle them (`plugbay build`) instead of importing from node_modules outside it (the host runs a copy of the plugin's declared files only)."
        : 'Make start() succeed (and finish before the start timeout): check its config and what it connects to.';
    case 'PLUGBAY_ARTIFACT_INVALID':
      return 'Ship regular files only: replace symlinks by the files they point to, remove FIFOs and devices, and make every file of the plugin readable; repack a packed file with `plugbay pack`.';
    case 'PLUGBAY_LOAD_FAILED':
      return 'Make the entry importable and export every function plugin.json declares (rebuild: `plugbay build`); the host must have the tier the runtime needs.';
    case 'PLUGBAY_INVALID_INPUT':
      return `Correct the example input${where} so it validates against the function's input schema.`;
    case 'PLUGBAY_INVALID_OUTPUT':
      return `Return data that validates against the output schema${where}, or correct the output schema.`;
    case 'PLUGBAY_TIMEOUT':
      return context.details?.phase === 'stop'
        ? 'Make stop() finish quickly: clear timers, close connections, and do not wait for work that never ends (honour ctx.signal).'
        : `Make the function finish within its timeout${where}, or raise functions.<fn>.timeoutMs.`;
    case 'PLUGBAY_PLUGIN_CRASHED':
      return 'Find the crash in the plugin log (stderr); an uncaught error or a process exit ends the instance.';
    case 'PLUGBAY_CONTRACT_MISMATCH':
      return 'Change the functions so they accept every input the contract may send and return only what it promises, or claim a contract version you do implement (implements).';
    case 'PLUGBAY_TIER_NOT_ALLOWED':
    case 'PLUGBAY_SIGNATURE_INVALID':
      return 'Sign the plugin (`plugbay sign <dir> --key <key>`) with a key in the host keyring.';
    default:
      return `See the ${code} error above${where}: a handler that throws fails the example; fix the handler or the example.`;
  }
}
