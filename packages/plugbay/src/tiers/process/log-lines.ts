/** Turns a plugin's stderr/stdout lines into structured log lines: hclog JSON, `[LEVEL] text`, or plain text. */
import type { PluginLogLine } from '../../core/types.js';

type Level = PluginLogLine['level'];

const levels: Record<string, Level> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

// `[ERROR] text`, also after a timestamp (`2024/01/01 10:00:00 [ERROR] text`, Go's log package and hclog text).
const bracketed = /^[^[]*\[(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|ERR|FATAL)\]\s*(.*)$/i;

/** `fallback` is the level of a line that says none (stderr: info, as go-plugin does). */
export function parseLogLine(line: string, fallback: Level): PluginLogLine {
  if (line.startsWith('{')) {
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec !== null && typeof rec === 'object' && ('@message' in rec || '@level' in rec)) {
        const { '@level': level, '@message': msg, '@timestamp': _ts, traceparent, ...fields } = rec;
        const out: PluginLogLine = {
          level: levels[String(level).toLowerCase()] ?? fallback,
          msg: String(msg ?? ''),
        };
        if (Object.keys(fields).length > 0) out.fields = fields;
        if (typeof traceparent === 'string') out.traceparent = traceparent;
        return out;
      }
    } catch {
      // not JSON after all: a plain line
    }
  }
  const m = bracketed.exec(line);
  if (m) return { level: levels[(m[1] as string).toLowerCase()] ?? fallback, msg: m[2] as string };
  return { level: fallback, msg: line };
}

/** Splits a stream into lines; a line longer than `maxLine` is cut (the rest is dropped) so memory stays bounded. */
export function lineSplitter(onLine: (line: string) => void, maxLine = 64 * 1024): (chunk: Buffer) => void {
  let parts: string[] = [];
  let size = 0;
  let overflow = false;
  return (chunk) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!overflow) {
        const room = maxLine - size;
        const take = Math.min(room, end - start);
        if (take > 0) {
          parts.push(chunk.toString('utf8', start, start + take));
          size += take;
        }
        if (end - start > take) overflow = true;
      }
      if (nl === -1) return;
      const line = parts.join('').replace(/\r$/, '');
      onLine(overflow ? `${line}… [cut at ${maxLine} bytes]` : line);
      parts = [];
      size = 0;
      overflow = false;
      start = nl + 1;
    }
  };
}
