import { spanIdOf, traceIdOf } from '@plugbay/sdk/runtime';
import { type Logger, pino } from 'pino';
import type { PluginLoggerSink, PluginLogLine } from '../core/types.js';

/** The host's default logger: JSON lines on stderr at `info` (LOG_LEVEL overrides). */
export function defaultLogger(): Logger {
  return pino({ name: 'plugbay', level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
}

/**
 * A sink for lines from or about one instance. Every line carries plugin, version, tier and instance (bound on
 * the child logger) and, when a call is in progress, its traceId and spanId.
 */
export function pluginSink(base: Logger): PluginLoggerSink & { bindInstance(id: string): void } {
  let log = base;
  const write = (line: PluginLogLine) => {
    // Below the plugin's level (host option logLevels): nothing is built for the line.
    if (line.level !== 'fatal' && !log.isLevelEnabled(line.level)) return;
    const fields: Record<string, unknown> = { ...line.fields };
    const traceId = traceIdOf(line.traceparent);
    if (traceId !== undefined) {
      fields.traceId = traceId;
      fields.spanId = spanIdOf(line.traceparent);
    }
    log[line.level](fields, line.msg);
  };
  const at =
    (level: PluginLogLine['level']) =>
    (msg: string, fields?: Record<string, unknown>): void =>
      write(fields === undefined ? { level, msg } : { level, msg, fields });
  return {
    // The instance id exists only once the tier made the instance; lines logged while importing lack it.
    bindInstance(id: string) {
      log = base.child({ instance: id });
    },
    line: write,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
