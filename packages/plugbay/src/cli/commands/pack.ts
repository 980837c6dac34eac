import { packPlugin } from '../../artifact/pack.js';
import { parseCommandArgs } from '../args.js';
import { withUsageErrors } from '../command-result.js';
import { type Command, UsageError } from '../io.js';
import { print } from './trust.js';

export const packCli: Command = {
  name: 'pack',
  usage: `plugbay pack <pluginDir> [--out <dir | file.plugbay.tgz>]

Writes the plugin as one file, <name>@<version>.plugbay.tgz (a deterministic gzip'd tar): plugin.json, the entry,
the proto of exec plugins, the files the manifest's "files" globs declare (default: everything but node_modules/,
dot-files and folders, src/ and editor litter) and plugin.sig.json. Exactly what "plugbay sign" signs: sign first,
then pack. "plugbay serve" and the host load packed files beside folders. --out: a directory (default: the current
one) or the file to write.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { out: { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError('takes exactly one plugin directory');
    const result = await withUsageErrors(async () => {
      const packed = await packPlugin(positionals[0]!, values.out === undefined ? {} : { out: values.out });
      return {
        exitCode: 0,
        output: `packed ${packed.id} (${packed.files.length} files, ${packed.signed ? 'signed' : 'unsigned'}, digest ${packed.digest}): ${packed.path}\n`,
      };
    });
    return print(result, io);
  },
};
