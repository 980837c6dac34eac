import type { PluginLogger } from '@plugbay/sdk';
import type { PluginLoggerSink, PluginLogLine } from '../core/types.js';

/**
 * The logger plugin code sees during a call: each line goes to the host's sink with the call's traceparent.
 * Without a traceparent the sink itself is the logger (nothing to add).
 */
export function traceLogger(sink: PluginLoggerSink, traceparent: string | undefined): PluginLogger {
  if (traceparent === undefined) return sink;
  const line = (level: PluginLogLine['level'], msg: string, fields?: Record<string, unknown>): void =>
    sink.line(fields === undefined ? { level, msg, traceparent } : { level, msg, fields, traceparent });
  return {
    trace: (msg, fields) => line('trace', msg, fields),
    debug: (msg, fields) => line('debug', msg, fields),
    info: (msg, fields) => line('info', msg, fields),
    warn: (msg, fields) => line('warn', msg, fields),
    error: (msg, fields) => line('error', msg, fields),
  };
}
