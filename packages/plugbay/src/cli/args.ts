import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './io.js';

/** A subcommand's arguments as every subcommand reads them: positionals allowed, unknown options a UsageError. */
export function parseCommandArgs<const O extends CommandOptions>(args: string[], options: O): CommandArgs<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type CommandOptions = NonNullable<ParseArgsConfig['options']>;
type CommandArgs<O extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** A TCP port option: an integer 0–65535 (0 picks a free port). */
export function portOption(value: string | undefined, fallback: number, option = '--port'): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new UsageError(`${option} must be an integer from 0 to 65535, got "${value}"`);
  return port;
}
