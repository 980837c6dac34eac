import { relative } from 'node:path';
import { PlugbayError } from '../../core/errors.js';
import type { TierKind } from '../../core/types.js';
import { type Language, languages, scaffold } from '../../scaffold/new.js';
import { parseCommandArgs } from '../args.js';
import { type Command, UsageError } from '../io.js';

const next: Record<Language, string> = {
  ts: 'npm install && npm test',
  assemblyscript: 'npm install && npm test',
  c: 'sh build.sh && plugbay test .',
  rust: 'sh build.sh && plugbay test .',
  go: './build.sh && plugbay test . --tier process',
};

export const newCommand: Command = {
  name: 'new',
  usage: `plugbay new <name> --lang ${languages.join('|')} [--tier <tier>] [--dir <parent>] [--deps local|registry]

Creates <parent>/<name>, a plugin project that builds and passes its own test out of the box, with a README
giving its build, test, sign and run commands. ts runs in thread (default), inline or process; assemblyscript, c
and rust in wasm; go in process. Never overwrites: an existing directory is an error.
--deps local (default): the project's package.json takes plugbay and @plugbay/sdk from this install of plugbay
(file: paths), so npm install needs no registry for them; --deps registry writes version ranges instead.`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, {
      lang: { type: 'string' },
      tier: { type: 'string' },
      dir: { type: 'string' },
      deps: { type: 'string' },
    });
    if (values.deps !== undefined && values.deps !== 'local' && values.deps !== 'registry')
      throw new UsageError(`--deps must be local or registry, got "${values.deps}"`);
    if (positionals.length !== 1) throw new UsageError('takes exactly one plugin name');
    if (values.lang === undefined) throw new UsageError(`--lang is required (${languages.join(', ')})`);
    try {
      const made = await scaffold({
        name: positionals[0]!,
        lang: values.lang as Language,
        ...(values.tier ? { tier: values.tier as TierKind } : {}),
        ...(values.dir ? { parent: values.dir } : {}),
        ...(values.deps ? { deps: values.deps } : {}),
      });
      const where = relative(process.cwd(), made.dir) || '.';
      const linked = Object.entries(made.dependencies).map(([name, spec]) => `${name} ${spec}`);
      const note =
        linked.length === 0
          ? ''
          : `\n\npackage.json takes ${linked.join(' and ')} from this plugbay install, not the npm registry ` +
            '(plugbay new --deps registry writes version ranges instead)';
      io.out(
        `created ${where} (${made.lang}, ${made.tier} tier): ${made.files.length} files${note}\n\n  cd ${where}\n  ${next[made.lang]}`,
      );
      return 0;
    } catch (err) {
      if (err instanceof PlugbayError && err.details?.dir !== undefined) {
        io.err(`plugbay new: ${err.message}`);
        return 1;
      }
      if (err instanceof PlugbayError && err.code === 'PLUGBAY_INVALID_ARGUMENT')
        throw new UsageError(err.message);
      throw err;
    }
  },
};
