// The CI gate a plugin repository runs, on real plugin directories through the real CLI: snapshot the released
// contract, then `plugbay contract check` each new version against it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPlugbay } from '../test-support/cli.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';

const input = {
  type: 'object',
  properties: { url: { type: 'string' }, width: { type: 'integer', minimum: 1 } },
  required: ['url', 'width'],
};
const output = (required: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(
    required.map((p) => [p, p === 'bytes' ? { type: 'integer' } : { type: 'string' }]),
  ),
  required,
});

async function images(root: string, folder: string, version: string, outputRequired: string[]) {
  return writePlugin(root, folder, {
    manifest: manifest({
      name: 'images',
      version,
      functions: { resize: { input, output: output(outputRequired) } },
    }),
    files: { 'index.mjs': 'export default { name: "images", functions: {} };\n' },
  });
}

test('contract check: removing a required output field fails (exit 1, naming the field) until the major version is bumped', async (t) => {
  const root = await tempDir(t);
  const v1 = await images(root, 'v1', '1.0.0', ['url', 'bytes']);
  const snapshot = join(root, 'images.contract.json');

  const snap = await runPlugbay(['contract', 'snapshot', v1, '--out', snapshot]);
  assert.equal(snap.code, 0, snap.stderr);
  const saved = JSON.parse(await readFile(snapshot, 'utf8'));
  assert.deepEqual(Object.keys(saved.functions), ['resize']);
  assert.equal(saved.version, '1.0.0');
  const printed = await runPlugbay(['contract', 'snapshot', v1]);
  assert.deepEqual(JSON.parse(printed.stdout), saved);

  // 1.1.0 stops returning `bytes`: callers relying on it would break.
  const minor = await images(root, 'v1.1', '1.1.0', ['url']);
  const failed = await runPlugbay(['contract', 'check', minor, '--against', snapshot]);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /^error: .*resize.*bytes/m);
  assert.match(failed.stdout, /failed: \d+ error/);

  const json = await runPlugbay(['contract', 'check', minor, '--against', snapshot, '--json']);
  assert.equal(json.code, 1);
  const result = JSON.parse(json.stdout) as { ok: boolean; errors: { rule?: string; path?: string }[] };
  assert.equal(result.ok, false);
  assert.ok(result.errors.length >= 1);

  // diff says the same, per change: breaking, exit 1; --json lists the rule ids.
  const diff = await runPlugbay(['contract', 'diff', snapshot, minor, '--json']);
  assert.equal(diff.code, 1);
  const changes = (JSON.parse(diff.stdout) as { changes: { rule: string; verdict: string; path: string }[] })
    .changes;
  assert.ok(
    changes.some((c) => c.verdict === 'breaking' && c.rule.startsWith('output.') && c.path.includes('bytes')),
    JSON.stringify(changes),
  );

  // 2.0.0 with the same change passes the gate: a major bump announces the break.
  const major = await images(root, 'v2', '2.0.0', ['url']);
  const passed = await runPlugbay(['contract', 'check', major, '--against', snapshot]);
  assert.equal(passed.code, 0, passed.stdout + passed.stderr);
  assert.match(passed.stdout, /^ok /m);

  // A compatible change (an extra output field promised) passes diff with exit 0.
  const more = await images(root, 'v1.2', '1.2.0', ['url', 'bytes', 'etag']);
  assert.equal((await runPlugbay(['contract', 'diff', snapshot, more])).code, 0);
});

test('contract commands: bad usage exits 2', async (t) => {
  const root = await tempDir(t);
  const v1 = await images(root, 'v1', '1.0.0', ['url']);
  for (const args of [
    ['contract'],
    ['contract', 'frobnicate'],
    ['contract', 'diff', v1],
    ['contract', 'check', v1],
    ['contract', 'snapshot', v1, '--against', v1],
    ['contract', 'diff', join(root, 'missing.json'), v1],
  ]) {
    const res = await runPlugbay(args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
  }
});

test('contract check names the version it expects: the next major (0.x included) or the next minor', async (t) => {
  const root = await tempDir(t);
  const v020 = await images(root, 'v0.2.0', '0.2.0', ['url', 'bytes']);
  const snapshot = join(root, 'images.contract.json');
  assert.equal((await runPlugbay(['contract', 'snapshot', v020, '--out', snapshot])).code, 0);
  const broken = await images(root, 'v0.2.1', '0.2.1', ['url']);
  const failed = await runPlugbay(['contract', 'check', broken, '--against', snapshot]);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /needs a major version bump: 0\.2\.0 → 1\.0\.0 \(found 0\.2\.1\)/);
  const added = await images(root, 'v0.2.2', '0.2.2', ['url', 'bytes', 'etag']);
  const warned = await runPlugbay(['contract', 'check', added, '--against', snapshot]);
  assert.equal(warned.code, 0, warned.stdout + warned.stderr);
  assert.match(warned.stdout, /expected at least a minor version bump: 0\.2\.0 → 0\.3\.0 \(found 0\.2\.2\)/);
});

test('contract snapshot --out into a missing directory or onto a directory: one line, exit 2, no stack', async (t) => {
  const root = await tempDir(t);
  const v1 = await images(root, 'v1', '1.0.0', ['url']);
  await mkdir(join(root, 'taken'));
  for (const out of [join(root, 'missing', 'snap.json'), join(root, 'taken')]) {
    const res = await runPlugbay(['contract', 'snapshot', v1, '--out', out]);
    assert.equal(res.code, 2, res.stdout + res.stderr);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.match(res.stderr, /cannot write/);
    assert.doesNotMatch(res.stderr, /internal error|\n\s+at /);
  }
});

test('contract diff/check --json: an input or usage error is JSON on stdout too (exit 2)', async (t) => {
  const root = await tempDir(t);
  const v1 = await images(root, 'v1', '1.0.0', ['url']);
  const missing = join(root, 'missing.json');
  for (const [args, message] of [
    [['contract', 'diff', missing, v1, '--json'], /missing\.json/],
    [['contract', 'check', v1, '--against', missing, '--json'], /missing\.json/],
    [['contract', 'check', v1, '--json'], /needs --against/],
    [['contract', 'diff', v1, '--json'], /takes <old> and <new>/],
  ] as const) {
    const res = await runPlugbay([...args]);
    assert.equal(res.code, 2, res.stdout + res.stderr);
    const body = JSON.parse(res.stdout) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'PLUGBAY_INVALID_ARGUMENT');
    assert.match(body.error.message, message);
  }
});

test('contract files: a UTF-8 byte-order mark is accepted, in a snapshot and in plugin.json', async (t) => {
  const root = await tempDir(t);
  const v1 = await images(root, 'v1', '1.0.0', ['url']);
  const snapshot = join(root, 'images.contract.json');
  const printed = await runPlugbay(['contract', 'snapshot', v1]);
  await writeFile(snapshot, `\uFEFF${printed.stdout}`);
  const manifestPath = join(v1, 'plugin.json');
  await writeFile(manifestPath, `\uFEFF${await readFile(manifestPath, 'utf8')}`);
  const res = await runPlugbay(['contract', 'diff', snapshot, v1]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
});

// The timeout turns a regression (a read that blocks on the FIFO forever) into a failure instead of a hung run.
test('contract files: a FIFO or a file over 64 MiB is refused at once (exit 2), not read', {
  timeout: 20_000,
}, async (t) => {
  const root = await tempDir(t);
  const v1 = await images(root, 'v1', '1.0.0', ['url']);
  const fifo = join(root, 'snap.fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(root, 'big.json');
  await writeFile(big, '');
  await truncate(big, 64 * 1024 * 1024 + 1); // sparse: no 64 MiB written
  for (const [path, reason] of [
    [fifo, /not a regular file/],
    [big, /larger than 64 MiB/],
  ] as const) {
    const res = await runPlugbay(['contract', 'diff', path, v1]);
    assert.equal(res.code, 2, res.stdout + res.stderr);
    assert.match(res.stderr, reason);
  }
});

test('the greeter $ref experiment: a shared definition narrowed between minors fails the gate, naming the rule and a witness', async (t) => {
  const root = await tempDir(t);
  const greeter = (version: string, tagMax: number) =>
    writePlugin(root, `greeter-${version}`, {
      manifest: manifest({
        name: 'greeter',
        version,
        functions: {
          greet: {
            input: {
              type: 'object',
              properties: {
                name: { type: 'string', minLength: 1 },
                tags: { type: 'array', items: { $ref: '#/$defs/Tag' } },
              },
              required: ['name'],
              additionalProperties: false,
              $defs: { Tag: { type: 'string', maxLength: tagMax } },
            },
            output: { type: 'string' },
          },
        },
      }),
      files: { 'index.mjs': 'export default { name: "greeter", functions: {} };\n' },
    });
  const v12 = await greeter('1.2.0', 50);
  const v13 = await greeter('1.3.0', 5);

  const diff = await runPlugbay(['contract', 'diff', v12, v13]);
  assert.equal(diff.code, 1, diff.stdout + diff.stderr);
  assert.match(diff.stdout, /tags\[\]: maxLength decreased from 50 to 5/);
  assert.match(diff.stdout, /witness: \{"name":"a","tags":\["a{6}"\]\}/, 'the smallest input that breaks');

  const snapshot = join(root, 'greeter.contract.json');
  assert.equal((await runPlugbay(['contract', 'snapshot', v12, '--out', snapshot])).code, 0);
  const check = await runPlugbay(['contract', 'check', v13, '--against', snapshot, '--json']);
  assert.equal(check.code, 1, check.stdout + check.stderr);
  const result = JSON.parse(check.stdout) as {
    errors: { message: string; change?: { rule: string; witness?: unknown } }[];
  };
  const narrowed = result.errors.find((e) => e.change?.rule === 'input.max-length.decreased');
  assert.match(narrowed?.message ?? '', /needs a major version bump: 1\.2\.0 → 2\.0\.0/);
  assert.deepEqual(result.errors.find((e) => e.change?.rule === 'input.value.refused')?.change?.witness, {
    name: 'a',
    tags: ['aaaaaa'],
  });
});
