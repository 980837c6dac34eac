// The one place that knows how the repository builds plugins in other languages, and how to tell a toolchain is
// missing. Used by scripts/build-wasm-fixtures.mjs (the wasm tier's test modules), scripts/build-examples.mjs (the
// examples `npm start` serves) and the tests that decide whether to skip. The flags are the ones the templates'
// build.sh files give plugin authors (packages/plugbay/templates/<lang>). Go builds go through
// scripts/build-go-plugins.sh (GOPATH mode with Debian's packages, no downloads).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
/** The C header `plugbay new --lang c` ships: fixtures and examples build against the very file users get. */
export const extismHeaders = join(root, 'packages/plugbay/templates/c');

function have(cmd, args = ['--version']) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function resolves(id) {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}

/**
 * Per language: the Debian packages (what `scripts/setup.sh examples` installs) and `missing()`, the first tool
 * that is not there (undefined when the language can be built).
 */
export const toolchains = {
  c: {
    label: 'C',
    packages: 'clang lld wasi-libc libclang-rt-14-dev-wasm32',
    missing: () =>
      (!have('clang') && 'clang') ||
      (!have('wasm-ld') && 'wasm-ld (lld)') ||
      (!existsSync('/usr/lib/wasm32-wasi/libc.a') && 'wasi-libc') ||
      undefined,
  },
  rust: {
    label: 'Rust',
    packages: 'rustc libstd-rust-dev-wasm32',
    // Debian's rustc: a rustup rustc earlier on PATH may lack the wasm32 std.
    missing: () =>
      (!have('/usr/bin/rustc') && 'rustc (/usr/bin/rustc)') ||
      (!existsSync('/usr/lib/rustlib/wasm32-unknown-unknown') &&
        'the Rust wasm32 std (libstd-rust-dev-wasm32)') ||
      undefined,
  },
  assemblyscript: {
    label: 'AssemblyScript',
    packages: '(npm: assemblyscript @extism/as-pdk)',
    missing: () =>
      (!resolves('assemblyscript/bin/asc.js') && 'assemblyscript (npm)') ||
      (!resolves('@extism/as-pdk/package.json') && '@extism/as-pdk (npm)') ||
      undefined,
  },
  go: {
    label: 'Go',
    packages:
      'golang golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev protobuf-compiler golang-goprotobuf-dev',
    missing: () =>
      (!have('go', ['version']) && 'go') ||
      (!have('protoc') && 'protoc') ||
      (!have('sh', ['-c', 'command -v protoc-gen-go']) && 'protoc-gen-go') ||
      (!existsSync('/usr/share/gocode/src/github.com/hashicorp/go-plugin') &&
        'hashicorp/go-plugin (Debian)') ||
      (!existsSync('/usr/share/gocode/src/google.golang.org/grpc') && 'grpc-go (Debian)') ||
      undefined,
  },
};

/**
 * The language of an example directory, from the files the `plugbay new` templates use; undefined for TypeScript
 * examples and anything else this script does not build.
 */
export function languageOf(dir) {
  if (existsSync(join(dir, 'plugin.c'))) return 'c';
  if (existsSync(join(dir, 'plugin.rs'))) return 'rust';
  if (existsSync(join(dir, 'assembly/index.ts'))) return 'assemblyscript';
  if (existsSync(join(dir, 'main.go'))) return 'go';
  return undefined;
}

/** What to run to get a language's toolchain, for the one line a skipped build prints. */
export function fixFor(lang) {
  const t = toolchains[lang];
  return lang === 'assemblyscript'
    ? 'run `npm ci`'
    : `run \`bash scripts/setup.sh examples\` (Debian: apt-get install ${t.packages})`;
}

/** True when `output` exists and is newer than every input. */
export function fresh(output, inputs) {
  if (!existsSync(output)) return false;
  const t = statSync(output).mtimeMs;
  return inputs.every((i) => statSync(i).mtimeMs <= t);
}

/**
 * Builds `output` with `build(tmpPath)` unless it is fresh, then renames it into place (atomic: tests may build
 * in parallel). Returns true when it built.
 */
export function buildStep(output, inputs, build) {
  if (fresh(output, inputs)) return false;
  mkdirSync(dirname(output), { recursive: true });
  const tmp = `${output}.${process.pid}.tmp`;
  try {
    build(tmp);
    renameSync(tmp, output);
  } finally {
    rmSync(tmp, { force: true }); // a failed build leaves nothing behind (it would be signed with the plugin)
  }
  return true;
}

/** C → a WASI reactor (`_initialize` runs once, libc works) with the Extism imports of templates/c/extism.h. */
export function buildC({ source, output, stdio = 'inherit' }) {
  execFileSync(
    'clang',
    ['--target=wasm32-wasi', '-mexec-model=reactor', '-O2', '-I', extismHeaders, '-o', output, source],
    { stdio },
  );
}

/** Rust (no crates: the source declares the Extism imports) → wasm32-unknown-unknown cdylib. */
export function buildRust({ source, output, stdio = 'inherit' }) {
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
      output,
      source,
    ],
    { stdio, cwd: dirname(source) },
  );
}

/**
 * AssemblyScript with @extism/as-pdk. `entry` is relative to `cwd`; its `myAbort` function is the abort handler
 * (`--use abort=…`), so aborts trap instead of importing `env.abort`.
 */
export function buildAssemblyScript({ cwd, entry, output, stdio = 'inherit' }) {
  const asc = require.resolve('assemblyscript/bin/asc.js');
  const abort = `${entry.replace(/\.ts$/, '')}/myAbort`;
  execFileSync(process.execPath, [asc, entry, '--outFile', output, '--use', `abort=${abort}`, '-O2'], {
    cwd,
    stdio,
  });
}

/** Go over hashicorp/go-plugin: `<dir>/main.go` → `<dir>/bin/<basename of dir>`, by scripts/build-go-plugins.sh. */
export function buildGo({ dir, stdio = 'inherit' }) {
  execFileSync('bash', [join(root, 'scripts/build-go-plugins.sh'), dir], { stdio });
  return join(dir, 'bin', basename(dir));
}

/** Every file below `dir` (for freshness checks). */
export function filesBelow(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name));
}
