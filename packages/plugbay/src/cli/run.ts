import { hostVersion } from '../core/version.js';
import { buildCommand } from './commands/build.js';
import { type CliIo, type Command, UsageError } from './io.js';

const commands: Command[] = [buildCommand];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `plugbay ${hostVersion} — a plugin host for Node.js

Usage: plugbay <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show help (also: plugbay <command> --help)
  -v, --version  print the version`;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code: 0 ok, 1 failure, 2 usage. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    io.out(topic ? topic.usage : usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(hostVersion);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) {
    io.err(`plugbay: unknown command "${first}"\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`plugbay ${command.name}: ${err.message}\n\nUsage: ${command.usage}`);
      return 2;
    }
    throw err;
  }
}
