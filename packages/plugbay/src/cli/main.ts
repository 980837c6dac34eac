#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './run.js';

try {
  process.exitCode = await runCli(process.argv.slice(2), processIo);
} catch (err) {
  // A bug, not a usage or plugin problem (those are reported by the commands): show the stack.
  process.stderr.write(
    `plugbay: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
}
