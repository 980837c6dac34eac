import { parseCommandArgs } from '../args.js';
import type { CommandResult } from '../command-result.js';
import { type CliIo, type Command, UsageError } from '../io.js';
import { keygenCommand, signCommand, verifyCommand } from '../trust-commands.js';

/** Prints a command function's result: its output on stdout when it succeeded, on stderr otherwise. */
export function print(result: CommandResult, io: CliIo): number {
  if (result.output !== '') (result.exitCode === 0 ? io.out : io.err)(result.output);
  return result.exitCode;
}

export const keygenCli: Command = {
  name: 'keygen',
  usage: `plugbay keygen --out <name>

Writes an Ed25519 key pair: <name>.key (private, PEM, mode 0600; keep it secret) and <name>.pub (public; put it in
the keyring directory of the servers that should trust it). Never overwrites a file. Prints the key id.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { out: { type: 'string' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.out === undefined || values.out === '') throw new UsageError('--out <name> is required');
    return print(await keygenCommand({ out: values.out }), io);
  },
};

export const signCli: Command = {
  name: 'sign',
  usage: `plugbay sign <pluginDir...> --key <private.pem>

Writes <pluginDir>/plugin.sig.json: every file of the plugin's file set (what "plugbay pack" packs: plugin.json,
the entry, the proto, the manifest's "files" globs or the default set — never node_modules/ or src/ unless
declared) with its sha256, the manifest's name and version, the key id, the time, and an Ed25519 signature over all
of it. Sign after building: any later change to a file of the set makes the plugin "modified". Several directories
may be given; exits 1 if one could not be signed.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { key: { type: 'string' } });
    if (positionals.length === 0) throw new UsageError('takes at least one plugin directory');
    if (values.key === undefined || values.key === '')
      throw new UsageError('--key <private.pem> is required');
    let exitCode = 0;
    for (const pluginDir of positionals) {
      const code = print(await signCommand({ pluginDir, key: values.key }), io);
      exitCode = Math.max(exitCode, code);
    }
    return exitCode;
  },
};

export const verifyCli: Command = {
  name: 'verify',
  usage: `plugbay verify <pluginDir | file.plugbay.tgz> --keyring <dir> [--json]

Verifies the plugin's plugin.sig.json (in the folder, or in the packed file) against the keyring (a directory of .pub files and an optional keyring.json
giving keys the "trusted" level or revoking them). Prints the status — valid, unsigned, invalid or modified — and
each reason with its rule id. Exits 0 only when valid, 1 otherwise, 2 on bad usage or an unreadable keyring.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      keyring: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('takes exactly one plugin directory or packed file');
    if (values.keyring === undefined || values.keyring === '')
      throw new UsageError('--keyring <dir> is required');
    const result = await verifyCommand({
      pluginDir: positionals[0]!,
      keyring: values.keyring,
      json: values.json ?? false,
    });
    // The status is the answer even when it is not `valid`: it goes to stdout, only usage problems to stderr.
    if (result.exitCode === 2) return print(result, io);
    io.out(result.output);
    return result.exitCode;
  },
};
