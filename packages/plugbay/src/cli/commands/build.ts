import { relative } from 'node:path';
import { buildPlugins } from '../../build/build.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../io.js';

export const buildCommand: Command = {
  name: 'build',
  usage: `plugbay build [dir...] [--no-typecheck]

Builds each dir that holds a TypeScript plugin (src/index.ts with a definePlugin default export) into
dist/plugin.js and plugin.json. A dir that is not a plugin has each plugin subfolder built; others are skipped.
A plugin with a tsconfig.json is typechecked first by its own TypeScript (tsc --noEmit; type errors fail the
build); --no-typecheck skips that. Default dir: the current directory. Exits 1 when a build fails or nothing was
built.`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, { 'no-typecheck': { type: 'boolean' } });
    const dirs = positionals.length > 0 ? positionals : ['.'];
    let built = 0;
    let failed = 0;
    for (const dir of dirs) {
      for (const outcome of await buildPlugins(dir, { typecheck: values['no-typecheck'] !== true })) {
        const where = relative(process.cwd(), outcome.dir) || '.';
        if (outcome.status === 'built') {
          built += 1;
          const checked = outcome.typecheck;
          const note =
            checked?.status === 'passed'
              ? '  (typechecked)'
              : checked?.status === 'skipped' && checked.reason !== 'no tsconfig.json'
                ? `  (not typechecked: ${checked.reason})`
                : '';
          io.out(`built    ${outcome.manifest.name}@${outcome.manifest.version}  ${where}${note}`);
        } else if (outcome.status === 'skipped') {
          io.out(`skipped  ${where}  (${outcome.reason})`);
        } else {
          failed += 1;
          io.err(`failed   ${where}  ${outcome.error.code}: ${outcome.error.message}`);
        }
      }
    }
    if (built === 0 && failed === 0) io.err(`no TypeScript plugin found in ${dirs.join(', ')}`);
    return failed > 0 || built === 0 ? 1 : 0;
  },
};
