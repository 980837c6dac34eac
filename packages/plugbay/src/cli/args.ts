import { type ParseArgsConfig, parseArgs } from 'node:util';
import { didYouMean } from '../core/suggest.js';
import { UsageError } from './io.js';

/** A subcommand's arguments as every subcommand reads them: positionals allowed, unknown options a UsageError. */
export function parseCommandArgs<const O extends CommandOptions>(args: string[], options: O): CommandArgs<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(parseProblem(err as Error & { code?: string }, options), { brief: true });
  }
}

/** parseArgs's error in one line: the option at fault and, for an unknown one, the closest known option. */
function parseProblem(err: Error & { code?: string }, options: CommandOptions): string {
  const known = Object.keys(options).map((name) => `--${name}`);
  const unknown = /^Unknown option '([^']+)'/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== undefined) {
    const hint = unknown.startsWith('--') ? didYouMean(unknown.split('=')[0]!, known, '') : '';
    return `unknown option ${unknown}${hint}`;
  }
  const valued = /^Option '(-\w, )?(--[\w-]+)/.exec(err.message)?.[2];
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && valued !== undefined) {
    return options[valued.slice(2)]?.type === 'boolean'
      ? `${valued} takes no value`
      : `${valued} needs a value (${valued} <value>)`;
  }
  return err.message.split('\n')[0]!;
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
