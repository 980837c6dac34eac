// Builds the examples in examples/plugins that are not TypeScript (`plugbay build` does those) from source: Go
// (process tier), Rust, C and AssemblyScript (wasm tier). Run by `npm run build`, so `npm start` and `npm test`
// both get them; the outputs are gitignored, never committed, never downloaded. Up-to-date outputs are kept.
//
// A missing toolchain skips its example with one line naming the tool and the fix (`npm start` runs
// `scripts/setup.sh examples` first, which installs them on Debian), and the rest are still built and served.
// Under CI (`CI=true`) a missing toolchain or a failed build is an error: CI installs every toolchain.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
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

/** Builds one example when its output is stale; returns the output path. */
function build(lang, dir) {
  const name = dir.split('/').at(-1);
  switch (lang) {
    case 'c': {
      const source = join(dir, 'plugin.c');
      const output = join(dir, 'plugin.wasm');
      buildStep(output, [source, join(extismHeaders, 'extism.h')], (o) => buildC({ source, output: o }));
      return output;
    }
    case 'rust': {
      const source = join(dir, 'plugin.rs');
      const output = join(dir, 'plugin.wasm');
      buildStep(output, [source], (o) => buildRust({ source, output: o }));
      return output;
    }
    case 'assemblyscript': {
      const output = join(dir, 'build/plugin.wasm');
      buildStep(output, filesBelow(join(dir, 'assembly')), (o) =>
        buildAssemblyScript({ cwd: dir, entry: 'assembly/index.ts', output: o }),
      );
      return output;
    }
    case 'go': {
      const output = join(dir, 'bin', name);
      const inputs = [join(dir, 'main.go'), join(root, 'proto/plugbay/v1/plugin.proto')];
      if (!fresh(output, inputs)) buildGo({ dir });
      return output;
    }
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
    const name = dir.slice(examples.length + 1);
    const missing = toolchains[lang].missing();
    if (missing !== undefined) {
      problems.push(
        `examples: ${name} (${toolchains[lang].label}) not built, not served: ${missing} is not installed; fix: ${fixFor(lang)}`,
      );
      continue;
    }
    try {
      build(lang, dir);
      built.push(name);
    } catch (err) {
      problems.push(
        `examples: ${name} (${toolchains[lang].label}) failed to build, not served: ${err.message.split('\n')[0]}`,
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
