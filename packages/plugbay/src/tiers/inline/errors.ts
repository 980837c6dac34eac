/**
 * The inline tier's one failure-mapping file: everything plugin code throws on the host thread becomes a
 * PlugbayError that names the plugin and version.
 */
import { type ErrorSource, PlugbayError, toWireError } from '../../core/errors.js';

/** Where an error escaped plugin code without a caller to receive it. */
export type FaultOrigin = 'uncaughtException' | 'unhandledRejection';

/** What a handler, start(), stop() or health() threw or rejected with. */
export function pluginError(value: unknown, source: ErrorSource): PlugbayError {
  if (value instanceof PlugbayError) {
    // The plugin (or the runtime, e.g. PLUGBAY_UNKNOWN_FUNCTION) chose the code: keep it, add where it came from.
    value.plugin ??= source.plugin;
    value.version ??= source.version;
    return value;
  }
  // Any other throw: the wire shape keeps a plugin's own string `code` (as details.pluginCode under
  // PLUGBAY_PLUGIN_ERROR), exactly as the thread and process tiers do, so callers see one shape in every tier.
  const err = PlugbayError.fromWire(toWireError(value), source);
  (err as { cause?: unknown }).cause = value;
  return err;
}

/** An error thrown in the plugin's own timer or a promise nobody awaited, attributed through AsyncLocalStorage. */
export function faultError(value: unknown, origin: FaultOrigin, source: ErrorSource): PlugbayError {
  const wire = toWireError(value);
  const err = new PlugbayError('PLUGBAY_PLUGIN_ERROR', `${origin} in plugin code: ${wire.message}`, {
    ...source,
    cause: value,
    details: { origin, ...(wire.code === 'PLUGBAY_PLUGIN_ERROR' ? {} : { pluginCode: wire.code }) },
  });
  if (wire.stack !== undefined) err.stack = wire.stack;
  return err;
}
