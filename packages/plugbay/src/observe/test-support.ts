/** Helpers for the observe tests: a pino logger that records parsed lines, and a small plugin written to disk. */
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { tempDir, writePlugin } from '../test-support/plugins.js';

export interface RecordedLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at `trace` whose lines are kept parsed in `lines` (written synchronously). */
export function recordingLogger() {
  const lines: RecordedLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n')) if (text !== '') lines.push(JSON.parse(text));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), lines };
}

export const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A plugin `obs` with `echo` (logs through ctx.log), `fails` (throws) and `timer` (throws in its own timer). */
export async function obsPlugin(
  t: TestContext,
  name = 'obs',
  version = '1.0.0',
  extraSource = '',
): Promise<string> {
  const root = await tempDir(t);
  const any = {};
  await writePlugin(root, `${name}-${version}`, {
    manifest: {
      name,
      version,
      runtime: 'node',
      entry: 'index.mjs',
      functions: {
        echo: {
          input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
          output: any,
        },
        fails: { input: any, output: any },
        timer: { input: any, output: any },
        leak: { input: any, output: any },
        span: { input: any, output: any },
      },
    },
    files: {
      'index.mjs': `${extraSource}
export default {
  name: ${JSON.stringify(name)},
  version: ${JSON.stringify(version)},
  functions: {
    echo: { input: {}, output: {}, handler: (input, ctx) => { ctx.log.info('echoing', { size: input.text.length }); return input; } },
    fails: { input: {}, output: {}, handler: () => { throw new Error('handler failed'); } },
    timer: { input: {}, output: {}, handler: () => { setTimeout(() => { throw new Error('timer failed'); }, 0); return 'ok'; } },
    // Forgets its interval (the test clears it through globalThis once the report is checked).
    leak: { input: {}, output: {}, handler: () => { (globalThis.__leaked ??= []).push(setInterval(() => {}, 60_000)); return 'ok'; } },
    span: { input: {}, output: {}, handler: (_input, ctx) => (globalThis.__pluginSpan ? globalThis.__pluginSpan(ctx.traceparent) : 'no tracer') },
  },
};
`,
    },
  });
  return root;
}
