#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './run.js';

let code: number;
try {
  code = await runCli(process.argv.slice(2), processIo);
} catch (err) {
  // A bug, not a usage or plugin problem (those are reported by the commands): show the stack.
  process.stderr.write(
    `plugbay: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  code = 1;
}
// Exit explicitly: after `serve` has closed the host, nothing a plugin left behind may keep the process alive.
// stdout and stderr are synchronous for files and pipes on Linux, so no output is lost.
process.exit(code);
