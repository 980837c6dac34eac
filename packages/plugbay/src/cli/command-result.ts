import { PlugbayError } from '../core/errors.js';

/** What a CLI command function returns; the CLI entry point prints `output` and exits with `exitCode`. */
export interface CommandResult {
  exitCode: number;
  output: string;
}

/** Runs a command; a PlugbayError (bad argument, unreadable input) becomes exit code 2 with its code and message. */
export async function withUsageErrors(run: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof PlugbayError) return { exitCode: 2, output: `error ${err.code}: ${err.message}\n` };
    throw err;
  }
}
