/**
 * Helpers for the tier tests (not exported from the package): the host's Call on a test deadline list, a log
 * sink that records lines and lets a test wait for one, and CheckedPlugins built from the fixture directories.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Call } from '../core/call.js';
import { Deadlines } from '../core/deadlines.js';
import { PlugbayError } from '../core/errors.js';
import { validateManifest } from '../core/manifest.js';

// Tier tests run the state machine strictly: a move the table forbids throws (tiers/base.ts). Workers and
// children started from here inherit it.
process.env.PLUGBAY_STRICT_STATES = '1';

import type {
  CheckedPlugin,
  Instance,
  InstanceState,
  LoadOptions,
  PluginLoggerSink,
  PluginLogLine,
} from '../core/types.js';

export const fixturesDir = fileURLToPath(new URL('../../test-fixtures/tiers/', import.meta.url));

/** A plugin with no code, for tests of the instance machinery alone (tiers/base.ts, tiers/supervisor.ts). */
export const probePlugin = {
  id: 'demo@1.0.0',
  dir: '/nowhere',
  manifest: { name: 'demo', version: '1.0.0' },
  entryPath: '/nowhere/index.js',
  permissions: {},
  warnings: [],
} as unknown as CheckedPlugin;

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

/**
 * The deadline list of the tests' calls. A file whose calls have deadlines clears it in an `after` hook: the list's
 * timer stays armed for a call that settled early (cheaper for the host), and would hold the test process open.
 */
export const testDeadlines = new Deadlines();

/**
 * The host's own Call for a tier test. No deadline unless `timeoutMs` (then armed by `callTier`); the test makes the
 * deadline pass by hand with `call.expire()`, the path the host's deadline list takes.
 */
export function testCall(
  opts: { timeoutMs?: number; ownTimeoutMs?: number; traceparent?: string; key?: string } = {},
): Call {
  return new Call(
    testDeadlines,
    opts.timeoutMs ?? Number.POSITIVE_INFINITY,
    opts.traceparent,
    opts.key,
    undefined,
    undefined,
    opts.ownTimeoutMs,
  );
}

/**
 * Calls `fn` as the host calls a tier that settles on abort itself: the deadline is armed once the tier answered,
 * and the call settled after. The answer is the tier's own: a tier that ignored the abort would hang the test.
 */
export async function callTier(
  instance: Instance,
  fn: string,
  input: unknown,
  call = testCall(),
): Promise<unknown> {
  try {
    const answer = Promise.resolve(instance.call(fn, input, call));
    return await (Number.isFinite(call.deadline) ? call.arm(answer) : answer);
  } finally {
    call.settle();
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
