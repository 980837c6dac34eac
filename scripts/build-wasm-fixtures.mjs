// Builds the wasm test plugins from source into test/fixtures/wasm/build/ (gitignored): the .wat corpus with
// wabt, AssemblyScript with @extism/as-pdk, C with Debian clang (wasm32-wasi reactor), Rust with Debian rustc
// (the compilers and their flags: scripts/lib/toolchains.mjs).
// Called by the wasm tier's tests (fixtures.ts) and safe to run by hand: `node scripts/build-wasm-fixtures.mjs`.
// Up-to-date outputs are kept. A toolchain that is not installed is skipped and recorded in build/status.json
// (scripts/setup.sh installs them). Writes are atomic (tmp + rename): test files may build in parallel.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildAssemblyScript,
  buildC,
  buildRust,
  buildStep,
  extismHeaders,
  root,
  toolchains,
} from './lib/toolchains.mjs';

const src = join(root, 'test/fixtures/wasm');
const out = join(src, 'build');
mkdirSync(out, { recursive: true });
const status = { built: [], skipped: {} };

function step(name, output, inputs, build) {
  buildStep(output, inputs, build);
  status.built.push(name);
}

// .wat corpus
const wabt = await (await import('wabt')).default();
for (const file of readdirSync(join(src, 'wat')).filter((f) => f.endsWith('.wat'))) {
  const input = join(src, 'wat', file);
  step(`wat/${file}`, join(out, file.replace(/\.wat$/, '.wasm')), [input], (o) => {
    const mod = wabt.parseWat(file, readFileSync(input, 'utf8'));
    writeFileSync(o, mod.toBinary({}).buffer);
    mod.destroy();
  });
}

// AssemblyScript + @extism/as-pdk
{
  const input = join(src, 'as/plugin.ts');
  step('as', join(out, 'as.wasm'), [input], (o) =>
    buildAssemblyScript({ cwd: join(src, 'as'), entry: 'plugin.ts', output: o }),
  );
}

// C: Debian clang 14 + wasi-libc, a WASI reactor
if (toolchains.c.missing() === undefined) {
  const input = join(src, 'c/plugin.c');
  step('c', join(out, 'c.wasm'), [input, join(extismHeaders, 'extism.h')], (o) =>
    buildC({ source: input, output: o }),
  );
} else {
  status.skipped.c = `clang with wasi-libc is not installed (Debian: ${toolchains.c.packages})`;
}

// Rust: Debian rustc + libstd-rust-dev-wasm32
if (toolchains.rust.missing() === undefined) {
  const input = join(src, 'rust/plugin.rs');
  step('rust', join(out, 'rust.wasm'), [input], (o) => buildRust({ source: input, output: o }));
} else {
  status.skipped.rust = `Debian rustc with libstd-rust-dev-wasm32 is not installed (${toolchains.rust.packages})`;
}

const statusFile = join(out, 'status.json');
writeFileSync(`${statusFile}.${process.pid}.tmp`, JSON.stringify(status, null, 2));
renameSync(`${statusFile}.${process.pid}.tmp`, statusFile);
console.log(
  `wasm fixtures: built ${status.built.length}, skipped ${Object.keys(status.skipped).join(', ') || 'none'}`,
);
