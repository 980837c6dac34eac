import { readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { type BuildOutcome, buildPlugins, isTsPlugin } from '../../build/build.js';
import { type PluginWatch, watchPlugin } from '../../build/watch.js';
import { parseCommandArgs } from '../args.js';
import type { CliIo, Command } from '../io.js';

export const buildCommand: Command = {
  name: 'build',
  usage: `plugbay build [dir...] [--no-typecheck] [--watch]

Builds each dir that holds a TypeScript plugin (src/index.ts with a definePlugin default export) into
dist/plugin.js and plugin.json. A dir that is not a plugin has each plugin subfolder built; others are skipped.
A plugin with a tsconfig.json is typechecked first by its own TypeScript (tsc --noEmit; type errors fail the
build); --no-typecheck skips that. Default dir: the current directory. Exits 1 when a build fails or nothing was
built.
--watch: builds again (esbuild's incremental build, plugin.json rewritten) on every save of each plugin's
sources, until SIGINT or SIGTERM; no typecheck in this mode (tsc --watch beside it). Under plugbay serve --dev,
bump the version in src/index.ts and the gateway loads the rebuilt version.`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, {
      'no-typecheck': { type: 'boolean' },
      watch: { type: 'boolean' },
    });
    const dirs = positionals.length > 0 ? positionals : ['.'];
    if (values.watch === true) return watchBuilds(dirs, io);
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

/** `--watch`: every TS plugin among `dirs` (a plugin folder, or a folder of them) rebuilt on save until a signal. */
async function watchBuilds(dirs: string[], io: CliIo): Promise<number> {
  const roots: string[] = [];
  for (const dir of dirs.map((d) => resolve(d))) {
    if (await isTsPlugin(dir)) roots.push(dir);
    else {
      const subs = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of subs)
        if (e.isDirectory() && (await isTsPlugin(join(dir, e.name)))) roots.push(join(dir, e.name));
    }
  }
  if (roots.length === 0) {
    io.err(`no TypeScript plugin found in ${dirs.join(', ')}`);
    return 1;
  }
  const report = (outcome: BuildOutcome) => {
    const where = relative(process.cwd(), outcome.dir) || '.';
    if (outcome.status === 'built')
      io.out(`built    ${outcome.manifest.name}@${outcome.manifest.version}  ${where}`);
    else if (outcome.status === 'failed')
      io.err(`failed   ${where}  ${outcome.error.code}: ${outcome.error.message}`);
  };
  const watches: PluginWatch[] = [];
  for (const root of roots) watches.push(await watchPlugin(root, report));
  io.out(`watching ${roots.length} plugin(s); Ctrl-C stops`);
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  await Promise.all(watches.map((w) => w.close()));
  return 0;
}
