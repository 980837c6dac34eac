import type { ValidateFunction } from 'ajv';
import semver from 'semver';
import type { PlugbayError } from '../core/errors.js';
import type { CheckedPlugin, Instance } from '../core/types.js';
import type { FnCells, VersionCells } from '../observe/metrics.js';
import type { VersionStatus } from './types.js';

/** What the call path needs of one function, compiled once at load. */
export interface FunctionEntry {
  readonly name: string;
  readonly validateInput: ValidateFunction;
  readonly validateOutput: ValidateFunction;
  /** The function's own deadline, if the manifest sets one. */
  readonly timeoutMs: number | undefined;
  readonly idempotent: boolean;
  /** `bytes`: input and output are Uint8Arrays, passed through unparsed (the validators check just that). */
  readonly codec: 'json' | 'bytes';
  /** The content type of a bytes function's output (manifest `contentType`, else application/octet-stream). */
  readonly contentType: string | undefined;
  /** Metric cells of this function (undefined: metrics off). */
  readonly cells: FnCells | undefined;
}

/**
 * The validator of a bytes function's input or output: a Uint8Array (a Buffer is one), nothing else. Shaped as
 * Ajv's so that the call path treats both codecs alike.
 */
export function bytesValidator(): ValidateFunction {
  const validate = ((data: unknown) => {
    const ok = data instanceof Uint8Array;
    validate.errors = ok
      ? null
      : [
          {
            instancePath: '',
            schemaPath: '#/codec',
            keyword: 'codec',
            params: {},
            message: `must be bytes (a Uint8Array) for a "bytes" function, got ${data === null ? 'null' : typeof data}`,
          },
        ];
    return ok;
  }) as ValidateFunction;
  return validate;
}

/** Schema violations as one line: `/field message (rule)`, each prefixed with `root` (`input`, `output`). */
export function describeViolations(
  violations: readonly { pointer: string; rule: string; message: string }[],
  root = '',
): string {
  return violations
    .map((x) => `${root}${x.pointer || (root ? '' : '/')} ${x.message} (${x.rule})`)
    .join('; ');
}

/**
 * The host's record of one loaded version: its instance, compiled functions, and the in-flight count that
 * draining waits on.
 */
export class LoadedVersion {
  readonly plugin: CheckedPlugin;
  readonly instance: Instance;
  readonly functions: ReadonlyMap<string, FunctionEntry>;
  /** Not a prerelease: eligible as the default version. Computed once; semver parsing is slow for a call path. */
  readonly stable: boolean;
  inflight = 0;
  #draining = false;
  /** Consecutive failed calls, and until when the circuit stays open (0: closed). */
  #failures = 0;
  #openUntil = 0;
  /** Times the circuit opened in a row (each doubles the cool-down). */
  #opens = 0;
  /** The failure that last counted for the circuit: what the status shows as the reason it opened. */
  #lastFailure: { code: string; message: string } | undefined;
  /** The instance's last exit (crash), as its tier told it: the reason shown beside a crash loop. */
  lastExit: { code: string; message: string } | undefined;
  /** The instance is in a crash loop episode (entered and not yet audited as left). */
  crashlooped = false;
  /** The latest crash loop entered, as its tier told it (tiers without a supervisor say nothing). */
  crashloop: { crashes: number; retryInMs: number; retryAt: number } | undefined;
  /** Who is bringing it out of the crash loop: the host's retry after the cool-down, or an operator's activate. */
  recoveringBy: 'retry' | 'activate' | 'rollback' = 'retry';
  #idle: (() => void) | undefined;

  /** What the trust gate and the export audit found at load. */
  readonly trust: VersionStatus['trust'];
  readonly undeclaredExports: readonly string[];
  /** Metric cells of this version (undefined: metrics off). */
  metrics: VersionCells | undefined;

  constructor(
    plugin: CheckedPlugin,
    instance: Instance,
    functions: ReadonlyMap<string, FunctionEntry>,
    trust: VersionStatus['trust'],
    undeclaredExports: readonly string[],
  ) {
    this.plugin = plugin;
    this.instance = instance;
    this.functions = functions;
    this.trust = trust;
    this.undeclaredExports = undeclaredExports;
    this.stable = semver.prerelease(plugin.manifest.version) === null;
  }

  get name(): string {
    return this.plugin.manifest.name;
  }
  get version(): string {
    return this.plugin.manifest.version;
  }
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Takes calls: ready, or degraded (calls wait for the restart), not draining, and its circuit not open. Once the
   * cool-down has passed the circuit is half-open: calls go through again, and the next failure re-opens it.
   */
  get available(): boolean {
    const s = this.instance.state;
    return (
      !this.#draining &&
      (s === 'ready' || s === 'degraded') &&
      (this.#openUntil === 0 || Date.now() >= this.#openUntil)
    );
  }

  get circuitOpen(): boolean {
    return this.#openUntil !== 0 && Date.now() < this.#openUntil;
  }

  /** Why the circuit is open (undefined while closed): failures in a row, when it half-opens, the last error. */
  get circuitReason(): VersionStatus['circuitReason'] {
    if (!this.circuitOpen) return undefined;
    const reason: NonNullable<VersionStatus['circuitReason']> = {
      failures: this.#failures,
      until: this.#openUntil,
    };
    if (this.#lastFailure !== undefined) reason.lastError = { ...this.#lastFailure };
    return reason;
  }

  succeeded(): void {
    if (this.#failures !== 0) this.closeCircuit();
  }

  /** Closes the circuit and forgets its failures (a success, or an operator's activate). */
  closeCircuit(): void {
    this.#failures = 0;
    this.#openUntil = 0;
    this.#opens = 0;
    this.#lastFailure = undefined;
  }

  /** Counts a failed call; returns true when this failure opened the circuit (for twice as long each time). */
  failed(threshold: number, coolDownMs: number, maxCoolDownMs: number, error?: PlugbayError): boolean {
    this.#failures++;
    if (error !== undefined) this.#lastFailure = { code: error.code, message: error.message };
    const reopen = this.#openUntil !== 0 && Date.now() >= this.#openUntil; // a failed half-open probe
    if (this.#failures < threshold && !reopen) return false;
    this.#openUntil = Date.now() + Math.min(maxCoolDownMs, coolDownMs * 2 ** this.#opens);
    this.#opens++;
    return true;
  }

  release(): void {
    this.inflight--;
    if (this.inflight === 0 && this.#idle !== undefined) this.#idle();
  }

  /** Stops routing to this version and waits until its in-flight calls finish or `timeoutMs` passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    if (this.inflight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => {
      this.#idle = () => resolve(true);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await idle;
    } finally {
      clearTimeout(timer);
      this.#idle = undefined;
    }
  }
}
