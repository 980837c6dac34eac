import type { ErrorCode } from '../core/errors.js';
import type { Manifest } from '../core/manifest.js';

/** What a fix depends on besides the code: where, which rule, the error's details, and what the plugin is. */
export interface FixContext {
  field?: string | undefined;
  rule?: string | undefined;
  details?: Record<string, unknown> | undefined;
  /** The plugin's manifest `runtime` (and `protocol` for exec plugins): a Go binary needs other advice than Node code. */
  runtime?: Manifest['runtime'] | undefined;
  protocol?: Manifest['protocol'] | undefined;
}

/** What a plugin author should change when a conformance check fails with `code`. */
export function fixFor(code: ErrorCode | string, context: FixContext = {}): string {
  if (context.runtime === 'exec') {
    const exec = execFix(code, context);
    if (exec !== undefined) return exec;
  }
  const where = context.field ? ` (${context.field})` : '';
  switch (code) {
    case 'PLUGBAY_MANIFEST_INVALID':
      return `Fix plugin.json${where}${context.rule ? ` to satisfy "${context.rule}"` : ''}${context.runtime === undefined || context.runtime === 'node' ? '; for a TypeScript plugin, run `plugbay build` to regenerate it' : ''}.`;
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

/**
 * Advice for `exec` plugins (a native binary, typically Go with hashicorp/go-plugin), by the rule the launch names
 * (tiers/process/launch.ts): the cookie, the app protocol version, the handshake line, the binary itself.
 * Undefined: the general advice fits.
 */
function execFix(code: ErrorCode | string, context: FixContext): string | undefined {
  const goPlugin = context.protocol === 'go-plugin';
  const serve = goPlugin
    ? 'call plugin.Serve (hashicorp/go-plugin) with GRPCServer set'
    : "serve plugbay.v1.Plugin (proto/plugbay/v1/plugin.proto) over gRPC, e.g. with go-plugin's plugin.Serve";
  const key = context.details?.magicCookieKey;
  switch (code) {
    case 'PLUGBAY_START_FAILED':
      switch (context.details?.rule) {
        case 'magic-cookie':
          return `Make plugin.json handshake.magicCookieKey and magicCookieValue equal to the plugin's HandshakeConfig (MagicCookieKey, MagicCookieValue): plugin.Serve exits at once when ${typeof key === 'string' ? key : 'that variable'} does not hold its value.`;
        case 'protocol-version':
          return "Set plugin.json handshake.protocolVersion to the plugin's HandshakeConfig.ProtocolVersion (or serve that version in VersionedPlugins); the host sends it in PLUGIN_PROTOCOL_VERSIONS.";
        case 'start-timeout':
        case 'aborted':
          return `The binary must ${serve} as soon as it starts, which prints the handshake line (1|<version>|unix|<socket>|grpc|) on stdout within the start timeout. Log to stderr, not stdout: stdout before the handshake is only reported (details.strayStdout), and a binary that waits for something before plugin.Serve never hand-shakes.`;
        case 'exit-before-handshake':
          return `The binary exited before its handshake: read its stderr above. Check that the entry is an executable (chmod +x) built for this OS and CPU, statically linked (Go: CGO_ENABLED=0) or needing only what /usr holds (the sandbox shows nothing else), that it reads only its own folder and granted paths, and that it ${serve}.`;
        case 'protocol':
          return goPlugin
            ? 'Serve gRPC, not net/rpc: set GRPCServer: plugin.DefaultGRPCServer in plugin.ServeConfig and implement GRPCServer on the plugin.'
            : undefined;
        case 'socket-dir':
          return 'Let go-plugin choose the socket: it makes it in PLUGIN_UNIX_SOCKET_DIR (or TMPDIR), the only place the host accepts; do not listen on tcp or a fixed path.';
        default:
          return `Make the binary ${serve} and answer on its socket within the start timeout; read its stderr above.`;
      }
    case 'PLUGBAY_LOAD_FAILED':
      return goPlugin
        ? "Check proto and service in plugin.json: proto is the .proto file's path inside the plugin folder, service the fully qualified name (package.Service); every declared function must be a unary rpc of it."
        : 'Make the entry an executable inside the plugin folder that serves plugbay.v1.Plugin; declare in plugin.json only the functions its Describe answers.';
    case 'PLUGBAY_PLUGIN_CRASHED':
      return 'Find the crash in the plugin log (stderr: a Go panic prints its stack there); details.reason says whether the process exited, was killed by a signal (details.signal) or ran out of memory.';
    default:
      return undefined;
  }
}
