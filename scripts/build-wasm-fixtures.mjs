// Builds the wasm test plugins from source into test/fixtures/wasm/build/ (gitignored): the .wat corpus with
// wabt, AssemblyScript with @extism/as-pdk, C with Debian clang (wasm32-wasi reactor), Rust with Debian rustc.
// Called by the wasm tier's tests (fixtures.ts) and safe to run by hand: `node scripts/build-wasm-fixtures.mjs`.
// Up-to-date outputs are kept. A toolchain that is not installed is skipped and recorded in build/status.json
// (scripts/setup.sh installs them). Writes are atomic (tmp + rename): test files may build in parallel.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'test/fixtures/wasm');
const out = join(src, 'build');
mkdirSync(out, { recursive: true });
const require = createRequire(import.meta.url);
const status = { built: [], skipped: {} };
const tmp = (file) => `${file}.${process.pid}.tmp`;

function fresh(output, inputs) {
  if (!existsSync(output)) return false;
  const t = statSync(output).mtimeMs;
  return inputs.every((i) => statSync(i).mtimeMs <= t);
}

function have(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function step(name, output, inputs, build) {
  if (!fresh(output, inputs)) {
    build(tmp(output));
    renameSync(tmp(output), output);
  }
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
  step('as', join(out, 'as.wasm'), [input], (o) => {
    const asc = require.resolve('assemblyscript/bin/asc.js');
    execFileSync(
      process.execPath,
      [asc, 'plugin.ts', '--outFile', o, '--use', 'abort=plugin/myAbort', '-O2'],
      {
        cwd: join(src, 'as'),
        stdio: 'inherit',
      },
    );
  });
}

// C: Debian clang 14 + wasi-libc, a WASI reactor
if (have('clang', ['--version']) && existsSync('/usr/lib/wasm32-wasi/libc.a')) {
  const input = join(src, 'c/plugin.c');
  // The header `plugbay new --lang c` ships: the fixture builds against the very file users get.
  const headers = join(root, 'packages/plugbay/templates/c');
  step('c', join(out, 'c.wasm'), [input, join(headers, 'extism.h')], (o) => {
    execFileSync(
      'clang',
      ['--target=wasm32-wasi', '-mexec-model=reactor', '-O2', '-I', headers, '-o', o, input],
      {
        stdio: 'inherit',
      },
    );
  });
} else {
  status.skipped.c =
    'clang with wasi-libc is not installed (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32)';
}

// Rust: Debian rustc + libstd-rust-dev-wasm32 (/usr/bin/rustc: rustup's rustc may come first on PATH without the wasm std)
if (have('/usr/bin/rustc', ['--version']) && existsSync('/usr/lib/rustlib/wasm32-unknown-unknown')) {
  const input = join(src, 'rust/plugin.rs');
  step('rust', join(out, 'rust.wasm'), [input], (o) => {
    execFileSync(
      '/usr/bin/rustc',
      [
        '--edition',
        '2021',
        '--target',
        'wasm32-unknown-unknown',
        '--crate-type',
        'cdylib',
        '-O',
        '-C',
        'strip=debuginfo',
        '-o',
        o,
        input,
      ],
      { stdio: 'inherit', cwd: join(src, 'rust') },
    );
  });
} else {
  status.skipped.rust = 'Debian rustc with libstd-rust-dev-wasm32 is not installed';
}

writeFileSync(tmp(join(out, 'status.json')), JSON.stringify(status, null, 2));
renameSync(tmp(join(out, 'status.json')), join(out, 'status.json'));
console.log(
  `wasm fixtures: built ${status.built.length}, skipped ${Object.keys(status.skipped).join(', ') || 'none'}`,
);
