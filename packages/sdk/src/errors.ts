/**
 * The one registry of plugbay error codes. Every error that crosses a plugbay API carries one of these codes;
 * tests and callers match on `code`, never on message text. The HTTP status of each code is the gateway's business
 * (packages/plugbay/src/gateway/errors.ts), not a plugin's.
 */
export const errorCodes = {
  /** A plugin.json is missing, unparsable, or breaks a rule of the manifest schema. */
  PLUGBAY_MANIFEST_INVALID: { retryable: false },
  /** The plugin needs another plugbay, Node.js, OS, CPU or native ABI than this host has. */
  PLUGBAY_ENGINE_MISMATCH: { retryable: false },
  /** Two plugin directories declare the same name and version. */
  PLUGBAY_DUPLICATE_PLUGIN: { retryable: false },
  /** No plugin of that name is known. */
  PLUGBAY_UNKNOWN_PLUGIN: { retryable: false },
  /** The plugin exists but has no such function. */
  PLUGBAY_UNKNOWN_FUNCTION: { retryable: false },
  /** No loaded, ready instance can answer the call (after routing and fallback). */
  PLUGBAY_NO_INSTANCE: { retryable: true },
  /** A route or activation names a version that is not loaded (and cannot be loaded from a known directory). */
  PLUGBAY_VERSION_NOT_LOADED: { retryable: false },
  /** The call's input does not validate against the function's input schema. */
  PLUGBAY_INVALID_INPUT: { retryable: false },
  /** The plugin returned output that does not validate against the function's output schema. */
  PLUGBAY_INVALID_OUTPUT: { retryable: false },
  /** The call did not finish before its deadline. */
  PLUGBAY_TIMEOUT: { retryable: true },
  /** The caller aborted the call. */
  PLUGBAY_CANCELLED: { retryable: false },
  /** The plugin's code threw or rejected while handling the call. */
  PLUGBAY_PLUGIN_ERROR: { retryable: false },
  /** The plugin's worker, process or sandbox died while the call was in flight. */
  PLUGBAY_PLUGIN_CRASHED: { retryable: true },
  /** The plugin's start() failed or did not finish within the start timeout. */
  PLUGBAY_START_FAILED: { retryable: false },
  /** The instance or host is closing or closed and takes no new calls. */
  PLUGBAY_CLOSED: { retryable: true },
  /** An argument or option given to a plugbay API breaks a rule. */
  PLUGBAY_INVALID_ARGUMENT: { retryable: false },
  /** The plugin tried something its permissions do not allow. */
  PLUGBAY_PERMISSION_DENIED: { retryable: false },
  /** The plugin's signature is missing where required, broken, from an unknown or revoked key, or its files changed. */
  PLUGBAY_SIGNATURE_INVALID: { retryable: false },
  /** The plugin's trust level does not allow the isolation tier it asked for (e.g. a community key asking for inline). */
  PLUGBAY_TIER_NOT_ALLOWED: { retryable: false },
  /** The loaded code exposes functions its manifest does not declare, and the export policy is strict. */
  PLUGBAY_EXPORTS_UNDECLARED: { retryable: false },
  /** The plugin does not implement the contract it claims (function missing, input narrower, output wider). */
  PLUGBAY_CONTRACT_MISMATCH: { retryable: false },
  /**
   * A plugin version cannot be read as an artifact: a packed file with a link, an absolute or `..` path, a
   * duplicate or unsupported entry, or a folder whose files cannot be read as they are (`details.path`, `rule`).
   */
  PLUGBAY_ARTIFACT_INVALID: { retryable: false },
  /**
   * An OCI registry could not be reached, or refused a request (`details.status`, `details.rule`, the registry's
   * own error code in `details.registryCode`): an unknown tag or repository, bad credentials, a server error.
   */
  PLUGBAY_REGISTRY_FAILED: { retryable: false },
  /** A plugin failed to load for a reason not covered by a more precise code. */
  PLUGBAY_LOAD_FAILED: { retryable: false },
  /**
   * The gateway refused a request from a web page of another origin (`Origin`, `Sec-Fetch-Site`) or sent through a
   * host name it does not serve (`Host`, DNS rebinding); `details.header` names which.
   */
  PLUGBAY_FORBIDDEN_ORIGIN: { retryable: false },
  /** An admin API request without the gateway's admin token (`authorization: Bearer <token>`), or with another. */
  PLUGBAY_UNAUTHORIZED: { retryable: false },
  /** The gateway has no route for the request's method and path. */
  PLUGBAY_NOT_FOUND: { retryable: false },
  /** The persisted state (`.plugbay/state.db`) cannot be opened or written: corrupt, locked, unreadable, newer. */
  PLUGBAY_STATE_UNAVAILABLE: { retryable: false },
  /**
   * A progressive rollout changed since the caller read it (compare-and-set on `updatedAt`: another admin, another
   * gateway or the rollout's own step got there first), or the plugin already has a rollout in progress.
   * `details.current` is the stored record; read it again and retry.
   */
  PLUGBAY_ROLLOUT_CONFLICT: { retryable: false },
  /** Something failed inside plugbay itself; a bug. */
  PLUGBAY_INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

/** Where an error came from, when a plugin produced it. */
export interface ErrorSource {
  plugin?: string;
  version?: string;
}

export interface PlugbayErrorOptions extends ErrorSource {
  cause?: unknown;
  /** Overrides the code's default. */
  retryable?: boolean;
  /** Structured facts about the error (the field, the rule, both values …); must be JSON-serialisable. */
  details?: Record<string, unknown>;
}

/** The plain shape in which errors cross worker, process and wasm boundaries. */
export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  retryable?: boolean;
  plugin?: string;
  version?: string;
  stack?: string;
}

// Keyed with Symbol.for so that `instanceof PlugbayError` holds across copies of this package: plugins bundle
// their own SDK, and errors also arrive rebuilt from other realms.
const brand = Symbol.for('plugbay.error');

export class PlugbayError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  plugin: string | undefined;
  version: string | undefined;

  constructor(code: ErrorCode, message: string, options: PlugbayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? errorCodes[code].retryable;
    this.details = options.details;
    this.plugin = options.plugin;
    this.version = options.version;
    Object.defineProperty(this, brand, { value: true });
  }

  override get name(): string {
    return 'PlugbayError';
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /** Wraps anything thrown into a PlugbayError; PlugbayErrors pass through unchanged. */
  static from(
    value: unknown,
    code: ErrorCode = 'PLUGBAY_PLUGIN_ERROR',
    source: ErrorSource = {},
  ): PlugbayError {
    if (value instanceof PlugbayError) return value;
    const message = value instanceof Error ? value.message : `non-error thrown: ${safeString(value)}`;
    const err = new PlugbayError(code, message, { ...source, cause: value });
    if (value instanceof Error && value.stack)
      err.stack = `PlugbayError: ${message}\n${stackFrames(value.stack)}`;
    return err;
  }

  /** Rebuilds an error that crossed a boundary as `{ code, message, details }`. Unknown codes become PLUGBAY_PLUGIN_ERROR. */
  static fromWire(wire: WireError, source: ErrorSource = {}): PlugbayError {
    const code = isErrorCode(wire.code) ? wire.code : 'PLUGBAY_PLUGIN_ERROR';
    const details = isErrorCode(wire.code) ? wire.details : { ...wire.details, pluginCode: wire.code };
    const err = new PlugbayError(code, String(wire.message), {
      details,
      plugin: wire.plugin ?? source.plugin,
      version: wire.version ?? source.version,
      ...(wire.retryable === undefined ? {} : { retryable: wire.retryable }),
    });
    if (wire.stack) err.stack = wire.stack;
    return err;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) wire.details = this.details;
    if (this.plugin !== undefined) wire.plugin = this.plugin;
    if (this.version !== undefined) wire.version = this.version;
    if (this.stack !== undefined) wire.stack = this.stack;
    return wire;
  }

  toJSON(): WireError {
    const { stack: _stack, ...rest } = this.toWire();
    return rest;
  }
}

/** Turns anything a plugin threw into the wire shape, keeping a plugin's own `code` when it set one. */
export function toWireError(value: unknown): WireError {
  if (value instanceof PlugbayError) return value.toWire();
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    const wire: WireError = {
      code: typeof code === 'string' && code !== '' ? code : 'PLUGBAY_PLUGIN_ERROR',
      message: value.message,
    };
    if (value.stack !== undefined) wire.stack = value.stack;
    return wire;
  }
  return { code: 'PLUGBAY_PLUGIN_ERROR', message: `non-error thrown: ${safeString(value)}` };
}

function stackFrames(stack: string): string {
  const i = stack.indexOf('\n    at ');
  return i === -1 ? '' : stack.slice(i + 1);
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return Object.prototype.toString.call(value);
  }
}
