/**
 * Helpers for the tier tests (not exported from the package): a real CallContext the test aborts by hand, a log
 * sink that records lines and lets a test wait for one, and CheckedPlugins built from the fixture directories.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlugbayError } from '../core/errors.js';
import { validateManifest } from '../core/manifest.js';
import type {
  CallContext,
  CheckedPlugin,
  Instance,
  InstanceState,
  LoadOptions,
  PluginLoggerSink,
  PluginLogLine,
} from '../core/types.js';

export const fixturesDir = fileURLToPath(new URL('../../test-fixtures/tiers/', import.meta.url));

/** A CheckedPlugin for `test-fixtures/tiers/<name>` (the manifest validated like the host does). */
export async function fixture(name: string): Promise<CheckedPlugin> {
  const dir = join(fixturesDir, name);
  const result = validateManifest(JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8')));
  if (!('manifest' in result)) throw new Error(`fixture ${name}: ${JSON.stringify(result.problems)}`);
  const m = result.manifest;
  return {
    id: `${m.name}@${m.version}`,
    dir,
    manifest: m,
    entryPath: resolve(dir, m.entry),
    permissions: m.permissions ?? {},
    warnings: [],
  };
}

/** A CallContext whose abort the test triggers; listeners run once, like the host's. */
export class TestCall implements CallContext {
  readonly deadline: number;
  readonly traceparent: string | undefined;
  readonly key: string | undefined;
  #controller: AbortController | undefined;
  #listeners: ((reason: PlugbayError) => void)[] = [];
  #reason: PlugbayError | undefined;

  constructor(opts: { traceparent?: string; key?: string; deadline?: number } = {}) {
    this.deadline = opts.deadline ?? Number.POSITIVE_INFINITY;
    this.traceparent = opts.traceparent;
    this.key = opts.key;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  onAbort(listener: (reason: PlugbayError) => void): void {
    if (this.#reason !== undefined) listener(this.#reason);
    else this.#listeners.push(listener);
  }

  /** Aborts as the host does when the deadline passes. */
  abort(reason = new PlugbayError('PLUGBAY_TIMEOUT', 'test deadline')): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l(reason);
  }
}

/** A PluginLoggerSink that keeps every line. */
export class RecordingLog implements PluginLoggerSink {
  readonly lines: PluginLogLine[] = [];
  #waiters: { match: (l: PluginLogLine) => boolean; resolve: (l: PluginLogLine) => void }[] = [];

  line(line: PluginLogLine): void {
    this.lines.push(line);
    for (const w of this.#waiters.filter((w) => w.match(line))) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve(line);
    }
  }

  /** Resolves with the first line (already logged or future) whose msg is `msg` (and that `match` accepts). */
  waitFor(msg: string, match: (l: PluginLogLine) => boolean = () => true): Promise<PluginLogLine> {
    const test = (l: PluginLogLine): boolean => l.msg === msg && match(l);
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match: test, resolve }));
  }

  trace = (msg: string, fields?: Record<string, unknown>): void => this.#add('trace', msg, fields);
  debug = (msg: string, fields?: Record<string, unknown>): void => this.#add('debug', msg, fields);
  info = (msg: string, fields?: Record<string, unknown>): void => this.#add('info', msg, fields);
  warn = (msg: string, fields?: Record<string, unknown>): void => this.#add('warn', msg, fields);
  error = (msg: string, fields?: Record<string, unknown>): void => this.#add('error', msg, fields);

  #add(level: PluginLogLine['level'], msg: string, fields?: Record<string, unknown>): void {
    this.line(fields === undefined ? { level, msg } : { level, msg, fields });
  }
}

export function loadOptions(
  log = new RecordingLog(),
  signal: AbortSignal = new AbortController().signal,
): LoadOptions {
  return { log, signal };
}

/** Resolves when the instance reaches `state` (at once if it is there). */
export async function reach(instance: Instance, state: InstanceState): Promise<void> {
  while (instance.state !== state) await once(instance, 'state');
}

/** Asserts-friendly: the rejection of `promise` (fails when it resolves). */
/** The PlugbayError an answer rejects with (an Instance.call answer may also be a plain value: then this fails). */
export async function rejectionOf(promise: unknown): Promise<PlugbayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PlugbayError) return error;
    throw new Error(`expected a PlugbayError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection, the promise resolved');
}

export const noSignal: AbortSignal = new AbortController().signal;
