import type { Static, TSchema } from '@sinclair/typebox';

/** Structured log methods given to plugin code; lines are attributed to the plugin by the host. */
export interface PluginLogger {
  trace(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = keyof PluginLogger;

/** What a plugin's health() reports. `degraded` still serves; `failing` makes the host route around it. */
export interface Health {
  status: 'ok' | 'degraded' | 'failing';
  message?: string;
}

/** Declared permissions (DESIGN.md "Manifest"). The host enforces what the chosen tier can enforce. */
export interface Permissions {
  fs?: { read?: string[]; write?: string[]; mounts?: { host: string; guest: string; readOnly?: boolean }[] };
  net?: string[];
  env?: string[];
  childProcess?: boolean;
  memoryMb?: number;
}

/** Given to start(), stop() and health(). */
export interface LifecycleContext<Config = unknown> {
  readonly signal: AbortSignal;
  readonly log: PluginLogger;
  readonly config: Config;
}

/** Attribute values of a plugin's own span (OpenTelemetry's scalar kinds). */
export type SpanAttributes = Record<string, string | number | boolean>;

/** A span of the plugin's own work, given to the callback of ctx.span(). */
export interface PluginSpan {
  /** The W3C traceparent of this span, to pass on to what the work calls (an outgoing request's header). */
  readonly traceparent: string | undefined;
  setAttribute(key: string, value: string | number | boolean): void;
  /** A child span of this one; the same contract as ctx.span(). */
  span<T>(name: string, work: (span: PluginSpan) => T, attributes?: SpanAttributes): T;
}

/** Given to every function call. */
export interface CallContext<Config = unknown> extends LifecycleContext<Config> {
  /**
   * Runs `work` as a span of the plugin's own, a child of the host's span for this call, and returns what `work`
   * returns; a returned promise ends the span when it settles, and a throw or rejection marks the span failed.
   * The host exports it with its own spans when it traces (`plugbay serve` with OTEL_*; inline, thread and process tiers); otherwise
   * only `work` runs. Attribute names starting with `plugbay.` are the host's and are dropped.
   */
  span<T>(name: string, work: (span: PluginSpan) => T, attributes?: SpanAttributes): T;
  /** W3C trace id of the call in progress, when the caller sent or started a trace. */
  readonly traceId: string | undefined;
  readonly traceparent: string | undefined;
  /** The caller's routing key (user id, tenant …), when given. */
  readonly key: string | undefined;
  /** Epoch milliseconds after which the host gives up on this call (Infinity when none). */
  readonly deadline: number;
}

export interface FunctionExample {
  input: unknown;
  output?: unknown;
}

/** The untyped form of a function definition, as the host sees it. */
export interface FunctionDefinition {
  description?: string;
  input: TSchema;
  output: TSchema;
  /** Per-call deadline for this function; the host default applies when absent. */
  timeoutMs?: number;
  /** Safe to retry on another version if the chosen instance dies mid-call. */
  idempotent?: boolean;
  /** Example calls; the conformance kit checks that each output validates. */
  examples?: FunctionExample[];
  handler(input: never, ctx: CallContext<never>): unknown;
}

interface PluginMeta<Config> {
  /** Lowercase `[a-z0-9-]`, optionally `@scope/`. */
  name: string;
  /** Semver. */
  version: string;
  description?: string;
  /** Contracts this plugin implements: `{ images: "^1.2.0" }`. */
  implements?: Record<string, string>;
  /** JSON Schema of the config object passed to start(). */
  config?: TSchema;
  permissions?: Permissions;
  /** Engines beyond the defaults `plugbay build` writes. */
  engines?: { plugbay?: string; node?: string };
  start?(ctx: LifecycleContext<Config>): void | Promise<void>;
  stop?(ctx: LifecycleContext<Config>): void | Promise<void>;
  health?(ctx: LifecycleContext<Config>): Health | Promise<Health>;
}

/** The untyped form of a plugin definition, as the host and runtime see it. */
export interface PluginDefinition extends PluginMeta<never> {
  functions: Record<string, FunctionDefinition>;
}

type OutputOf<O, K> = K extends keyof O ? (O[K] extends TSchema ? Static<O[K]> : unknown) : unknown;
type ConfigOf<C> = C extends TSchema ? Static<C> : unknown;

/** A typed plugin, as returned by definePlugin: schemas kept as types so clients get static types. */
export interface TypedPlugin<I extends Record<string, TSchema>, O extends Record<string, TSchema>>
  extends PluginDefinition {
  readonly '~types'?: { inputs: I; outputs: O };
}

/**
 * Declares a plugin. Each function names TypeBox schemas for its input and output, and its handler gets both as
 * static types. The same definition runs unchanged in every tier; `plugbay build` turns it into plugin.json.
 */
export function definePlugin<
  I extends Record<string, TSchema>,
  O extends Record<string, TSchema>,
  C extends TSchema | undefined = undefined,
>(
  definition: Omit<PluginMeta<ConfigOf<C>>, 'config'> & {
    config?: C;
    functions: { [K in keyof O]: { output: O[K] } } & {
      [K in keyof I]: Omit<FunctionDefinition, 'input' | 'output' | 'handler' | 'examples'> & {
        input: I[K];
        examples?: { input: Static<I[K]>; output?: OutputOf<O, K> }[];
        handler(input: Static<I[K]>, ctx: CallContext<ConfigOf<C>>): OutputOf<O, K> | Promise<OutputOf<O, K>>;
      };
    };
  },
): TypedPlugin<I, O> {
  return definition as unknown as TypedPlugin<I, O>;
}
