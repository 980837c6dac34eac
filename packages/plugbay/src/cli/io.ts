/** Where a command writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/**
 * Bad arguments: the CLI prints the message and the command's usage, and exits 2. `brief` (a mistyped flag):
 * one line and a pointer to `--help` instead of the whole usage.
 */
export class UsageError extends Error {
  readonly brief: boolean;
  constructor(message: string, options: { brief?: boolean } = {}) {
    super(message);
    this.brief = options.brief ?? false;
  }
  override get name(): string {
    return 'UsageError';
  }
}

/** A subcommand: parses its own arguments, calls the library, prints, and returns the exit code. */
export interface Command {
  name: string;
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}
