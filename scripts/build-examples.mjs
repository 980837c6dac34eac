// Builds the examples in examples/plugins that are not TypeScript (`plugbay build` does those) from source: Go
// (process tier), Rust, C and AssemblyScript (wasm tier). Run by `npm run build`, so `npm start` and `npm test`
// both get them; the outputs are gitignored, never committed, never downloaded. Up-to-date outputs are kept.
//
// A missing toolchain skips its example with one line naming the tool and the fix (`npm start` runs
// `scripts/setup.sh examples` first, which installs them on Debian), and the rest are still built and served.
// Under CI (`CI=true`) a missing toolchain or a failed build is an error: CI installs every toolchain.
import { readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  buildAssemblyScript,
  buildC,
  buildGo,
  buildRust,
  buildStep,
  extismHeaders,
  filesBelow,
  fixFor,
  fresh,
  languageOf,
  root,
  toolchains,
} from './lib/toolchains.mjs';

const examples = join(root, 'examples/plugins');
const strict = Boolean(process.env.CI) && process.env.CI !== 'false';

/** What an example builds into, from which inputs, and how (`build(path)` writes the output to `path`). */
function recipeOf(lang, dir) {
  switch (lang) {
    case 'c': {
      const source = join(dir, 'plugin.c');
      return {
        output: join(dir, 'plugin.wasm'),
        inputs: [source, join(extismHeaders, 'extism.h')],
        build: (o) => buildC({ source, output: o }),
      };
    }
    case 'rust': {
      const source = join(dir, 'plugin.rs');
      return {
        output: join(dir, 'plugin.wasm'),
        inputs: [source],
        build: (o) => buildRust({ source, output: o }),
      };
    }
    case 'assemblyscript':
      return {
        output: join(dir, 'build/plugin.wasm'),
        inputs: filesBelow(join(dir, 'assembly')),
        build: (o) => buildAssemblyScript({ cwd: dir, entry: 'assembly/index.ts', output: o }),
      };
    case 'go':
      return {
        output: join(dir, 'bin', basename(dir)),
        inputs: [join(dir, 'main.go'), join(root, 'proto/plugbay/v1/plugin.proto')],
        // build-go-plugins.sh writes bin/<name> itself.
        build: null,
      };
  }
}

function main() {
  const dirs = readdirSync(examples, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(examples, e.name))
    .sort();
  const built = [];
  const problems = [];
  for (const dir of dirs) {
    const lang = languageOf(dir);
    if (lang === undefined) continue;
    const name = basename(dir);
    const { label } = toolchains[lang];
    const { output, inputs, build } = recipeOf(lang, dir);
    if (fresh(output, inputs)) {
      built.push(name);
      continue;
    }
    // From here on a stale output must not stay: it would be signed and served as if it were this source.
    const missing = toolchains[lang].missing();
    if (missing !== undefined) {
      rmSync(output, { force: true });
      problems.push(
        `examples: ${name} (${label}) not built, not served: ${missing} is not installed; fix: ${fixFor(lang)}`,
      );
      continue;
    }
    try {
      if (build) buildStep(output, inputs, build);
      else buildGo({ dir });
      built.push(name);
    } catch (err) {
      rmSync(output, { force: true });
      problems.push(
        `examples: ${name} (${label}) failed to build, not served: ${err.message.split('\n')[0]}`,
      );
    }
  }
  for (const p of problems) console.error(p);
  console.log(`examples: built ${built.join(', ') || 'none'}`);
  if (problems.length > 0 && strict) {
    console.error('examples: CI=true, so every example must build (CI installs every toolchain)');
    process.exitCode = 1;
  }
}

main();
