import { parseCommandArgs } from '../args.js';
import { contractCheckCommand, contractDiffCommand, contractSnapshotCommand } from '../contract-commands.js';
import { type Command, UsageError } from '../io.js';

export const contractCli: Command = {
  name: 'contract',
  usage: `plugbay contract <snapshot|diff|check> ...

  plugbay contract snapshot <pluginDir> [--out file]
      The plugin's contract as JSON: {name, version, functions: {f: {input, output}}} (keys sorted, git-friendly).
      Written to --out, or printed.
  plugbay contract diff <old> <new> [--json] [--allow-unknown]
      Every change between two snapshots (files or plugin directories), each with a rule id and a verdict:
      breaking, compatible or unknown. Unknown counts as breaking unless --allow-unknown.
      Exit 0 compatible, 1 breaking, 2 usage.
  plugbay contract check <pluginDir> --against <snapshot> [--json] [--allow-unknown]
      The CI gate: fails (exit 1) when a breaking change comes without a major version bump, naming the function,
      field and rule and the version expected; a compatible addition without a minor bump is a warning.
      Exit 0 pass, 1 fail, 2 usage or unreadable input (with --json, that error is JSON on stdout too).`,
  async run(args, io) {
    const [sub, ...rest] = args;
    const { values, positionals } = parseCommandArgs(rest, {
      out: { type: 'string' },
      against: { type: 'string' },
      json: { type: 'boolean' },
      'allow-unknown': { type: 'boolean' },
    });
    const allowed: Record<string, string[]> = {
      snapshot: ['out'],
      diff: ['json', 'allow-unknown'],
      check: ['against', 'json', 'allow-unknown'],
    };
    if (sub === undefined || !Object.hasOwn(allowed, sub)) {
      throw new UsageError(
        sub === undefined ? 'needs a subcommand' : `unknown subcommand "${sub}" (snapshot, diff, check)`,
      );
    }
    const extra = Object.keys(values).filter((k) => !allowed[sub]!.includes(k));
    if (extra.length > 0) throw new UsageError(`contract ${sub} does not take --${extra[0]}`);
    const json = values.json ?? false;
    const allowUnknown = values['allow-unknown'] ?? false;
    const dispatch = async (): Promise<{ exitCode: number; output: string }> => {
      if (sub === 'snapshot') {
        if (positionals.length !== 1)
          throw new UsageError('contract snapshot takes exactly one plugin directory');
        return contractSnapshotCommand({
          pluginDir: positionals[0]!,
          ...(values.out === undefined ? {} : { out: values.out }),
        });
      } else if (sub === 'diff') {
        if (positionals.length !== 2) throw new UsageError('contract diff takes <old> and <new>');
        return contractDiffCommand({
          before: positionals[0]!,
          after: positionals[1]!,
          json,
          allowUnknown,
        });
      } else {
        if (positionals.length !== 1)
          throw new UsageError('contract check takes exactly one plugin directory');
        if (values.against === undefined) throw new UsageError('contract check needs --against <snapshot>');
        return contractCheckCommand({
          pluginDir: positionals[0]!,
          against: values.against,
          json,
          allowUnknown,
        });
      }
    };
    let result: { exitCode: number; output: string };
    try {
      result = await dispatch();
    } catch (err) {
      // With --json a program reads stdout: a usage error is JSON there too, not usage text on stderr.
      if (!(json && err instanceof UsageError)) throw err;
      io.out(`${JSON.stringify({ error: { code: 'PLUGBAY_INVALID_ARGUMENT', message: err.message } })}\n`);
      return 2;
    }
    // 0 and 1 are answers (compatible / breaking): stdout. 2 is a usage or input problem: stderr, unless --json
    // (then it is JSON, for the program reading stdout).
    if (result.exitCode === 2 && !json) io.err(result.output);
    else io.out(result.output);
    return result.exitCode;
  },
};
