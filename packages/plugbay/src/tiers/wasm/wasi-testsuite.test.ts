/**
 * The official WASI preview 1 test suite (test/wasi-testsuite, vendored) against plugbay's WASI, run the way the
 * suite's wasmtime adapter runs a test: a fresh copy of the spec's `root` preopened as `/`, the module name as
 * argv[0] then the spec's `args`, only the spec's `env`, `_start`, then the exit code and stdout compared.
 * Each test gets its own Wasi, instance and directory copy (in this process: a test is milliseconds, a process or
 * worker per test would be most of the run). `expected-failures.json` lists what plugbay fails on purpose; a new
 * failure, or an expected failure that passes, fails the run. node:wasi runs the same tests and is only recorded.
 */
import assert from 'node:assert/strict';
import { closeSync, cpSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { WASI } from 'node:wasi';
import { ProcExit } from './errors.js';
import { METER_MODULE, METER_REFILL, meterModule } from './module-meter.js';
import { repoRoot } from './test-fixtures.js';
import { Wasi } from './wasi.js';

const suiteDir = path.join(repoRoot, 'test/wasi-testsuite');
const expectedFailures = JSON.parse(
  readFileSync(path.join(suiteDir, 'expected-failures.json'), 'utf8'),
) as Record<string, string>;

interface Spec {
  args: string[];
  env: Record<string, string>;
  root: string | null;
  exit_code: number;
  /** Compared only when the spec gives it (a test may print what it found, as path_open_preopen does). */
  stdout?: string;
}
interface Case {
  name: string;
  wasm: string;
  dir: string;
  spec: Spec;
}
interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const suite of ['assemblyscript', 'c', 'rust']) {
    const dir = path.join(suiteDir, 'tests', suite, 'testsuite/wasm32-wasip1');
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.wasm'))
      .sort()) {
      const base = file.slice(0, -'.wasm'.length);
      let raw: Partial<Spec> = {};
      try {
        raw = JSON.parse(readFileSync(path.join(dir, `${base}.json`), 'utf8')) as Partial<Spec>;
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') throw err;
      }
      const spec: Spec = { args: [], env: {}, root: null, exit_code: 0, ...raw };
      out.push({ name: `${suite}/${base}`, wasm: path.join(dir, file), dir, spec });
    }
  }
  return out;
}

/** A fresh copy of the spec's root (tests write into it), or undefined when the spec preopens nothing. */
function rootCopy(c: Case): { host: string; cleanup(): void } | undefined {
  if (c.spec.root === null) return undefined;
  const tmp = mkdtempSync(path.join(tmpdir(), 'plugbay-wasi-suite-'));
  const host = path.join(tmp, 'root');
  cpSync(path.join(c.dir, c.spec.root), host, { recursive: true });
  return { host, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

function runPlugbay(c: Case, module: WebAssembly.Module, host: string | undefined): Outcome {
  const chunks: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
  const wasi = new Wasi({
    args: [path.basename(c.wasm), ...c.spec.args],
    env: c.spec.env,
    mounts: host === undefined ? [] : [{ host, guest: '/', readOnly: false }],
    clock: 'real',
    random: 'real',
    stdout: () => {},
    stderr: () => {},
    output: (fd, bytes) => {
      chunks[fd].push(Buffer.from(bytes));
    },
  });
  try {
    const imports = WebAssembly.Module.imports(module);
    const instance = new WebAssembly.Instance(module, {
      wasi_snapshot_preview1: wasi.imports(imports),
      // a metered module (module-meter.ts): fuel without a deadline
      ...(imports.some((i) => i.module === METER_MODULE)
        ? { [METER_MODULE]: { [METER_REFILL]: () => 1 << 20 } }
        : {}),
    });
    wasi.bind(instance.exports.memory as WebAssembly.Memory);
    let exitCode = 0;
    try {
      (instance.exports._start as () => void)();
    } catch (err) {
      if (!(err instanceof ProcExit)) return trapped(err, Buffer.concat(chunks[2]).toString('utf8'));
      exitCode = err.exitCode;
    }
    return {
      exitCode,
      stdout: Buffer.concat(chunks[1]).toString('utf8'),
      stderr: Buffer.concat(chunks[2]).toString('utf8'),
    };
  } finally {
    wasi.close();
  }
}

function runNode(c: Case, module: WebAssembly.Module, host: string | undefined): Outcome {
  const out = mkdtempSync(path.join(tmpdir(), 'plugbay-wasi-suite-out-'));
  const stdoutFd = openSync(path.join(out, 'stdout'), 'w');
  const stderrFd = openSync(path.join(out, 'stderr'), 'w');
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: [path.basename(c.wasm), ...c.spec.args],
      env: c.spec.env,
      preopens: host === undefined ? {} : { '/': host },
      returnOnExit: true,
      stdout: stdoutFd,
      stderr: stderrFd,
    });
    const instance = new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports);
    const read = (name: string) => readFileSync(path.join(out, name), 'utf8');
    let exitCode: number;
    try {
      exitCode = wasi.start(instance);
    } catch (err) {
      return trapped(err, read('stderr'));
    }
    return { exitCode, stdout: read('stdout'), stderr: read('stderr') };
  } finally {
    closeSync(stdoutFd);
    closeSync(stderrFd);
    rmSync(out, { recursive: true, force: true });
  }
}

/** A trap (a Rust panic aborts with `unreachable`) is a failed run, as in wasmtime; stderr says why. */
function trapped(err: unknown, stderr: string): Outcome {
  const why = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  return { exitCode: -1, stdout: '', stderr: `${stderr}trap: ${why}` };
}

/** undefined when the test passes, else why it failed. */
function check(
  c: Case,
  run: (c: Case, m: WebAssembly.Module, host: string | undefined) => Outcome,
  metered = false,
): string | undefined {
  const bytes = readFileSync(c.wasm);
  const module = new WebAssembly.Module(metered ? meterModule(bytes, 1 << 20).bytes : bytes);
  const root = rootCopy(c);
  try {
    const got = run(c, module, root?.host);
    if (got.exitCode !== c.spec.exit_code) {
      const stderr = got.stderr.trim().split('\n').slice(-3).join(' / ');
      return `exit code ${got.exitCode}, expected ${c.spec.exit_code}: ${stderr}`;
    }
    if (c.spec.stdout !== undefined && got.stdout !== c.spec.stdout) {
      return `stdout ${JSON.stringify(got.stdout)}, expected ${JSON.stringify(c.spec.stdout)}`;
    }
    return undefined;
  } catch (err) {
    return `threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`;
  } finally {
    root?.cleanup();
  }
}

const all = cases();

test('the vendored suite holds the 72 wasip1 tests and the expected-failures file names only real tests', () => {
  assert.equal(all.length, 72);
  const names = new Set(all.map((c) => c.name));
  for (const name of Object.keys(expectedFailures))
    assert.ok(names.has(name), `${name} is not a test of the suite`);
});

describe('every wasip1 test passes under plugbay, except the documented expected failures', () => {
  let passed = 0;
  for (const c of all) {
    const expected = expectedFailures[c.name];
    test(expected === undefined ? c.name : `${c.name} (expected to fail: ${expected})`, () => {
      const failure = check(c, runPlugbay);
      if (failure === undefined) passed++;
      if (expected === undefined) assert.equal(failure, undefined, `${c.name} fails: ${failure}`);
      else assert.notEqual(failure, undefined, `${c.name} passes now: remove it from expected-failures.json`);
    });
  }
  test('count', (t) => t.diagnostic(`plugbay passes ${passed}/${all.length}`));
});

// The meter's rewrite on 72 programs from three toolchains (Rust, C, AssemblyScript): each one's outcome is
// the same as without it.
describe('the same tests with the module metered (module-meter.ts): every outcome unchanged', () => {
  for (const c of all) {
    test(c.name, () => {
      // (the expected failures print file times: digits differ from run to run)
      const outcome = (metered: boolean) => check(c, runPlugbay, metered)?.replace(/\d{10,}/g, 'N');
      assert.equal(outcome(true), outcome(false));
    });
  }
});

test('node:wasi on the same tests (recorded, not asserted)', (t) => {
  let passed = 0;
  const failed: string[] = [];
  for (const c of all) {
    const failure = check(c, runNode);
    if (failure === undefined) passed++;
    else failed.push(`${c.name}: ${failure}`);
  }
  t.diagnostic(`node:wasi passes ${passed}/${all.length}`);
  for (const f of failed) t.diagnostic(`node:wasi fails ${f}`);
});
