// `plugbay contract diff` on two generated 2,000-property contracts (issue 15: under 2 s), the whole command as a
// user runs it, beside the raw boundary in the same run: a Node process that reads and parses the same two files.
// Schemas as TypeBox and zod-to-json-schema write them: every field required unless optional, shared `$defs`
// reached through `$ref`. Two pairs: a compatible release (optional fields added to the input, an output field
// narrowed) and a breaking one (a shared definition narrowed). Prints a markdown table and, last, a JSON line.
// BENCH_QUICK=1 runs 2 rounds instead of 5.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { table } from './harness.js';

const rounds = process.env.BENCH_QUICK === '1' ? 2 : 5;
const cli = fileURLToPath(new URL('../../packages/plugbay/bin/plugbay.js', import.meta.url));
const FIELDS = 2000;

type Schema = Record<string, unknown>;
const kinds: Schema[] = [
  { type: 'string', maxLength: 64 },
  { type: 'integer', minimum: 0 },
  { type: 'number' },
  { type: 'boolean' },
  { type: 'array', items: { $ref: '#/$defs/Tag' } },
  { $ref: '#/$defs/Address' },
  { enum: ['draft', 'live', 'archived'] },
  { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
];

function objectOf(fields: number, optionalEvery: number): Schema {
  const properties: Schema = {};
  const required: string[] = [];
  for (let i = 0; i < fields; i++) {
    properties[`field${i}`] = structuredClone(kinds[i % kinds.length]);
    if (i % optionalEvery !== 0) required.push(`field${i}`);
  }
  return {
    type: 'object',
    properties,
    required,
    additionalProperties: false,
    $defs: {
      Tag: { type: 'string', maxLength: 50 },
      Address: {
        type: 'object',
        properties: { street: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' } },
        required: ['street'],
      },
    },
  };
}

function snapshot(version: string, change: (input: Schema, output: Schema) => void): unknown {
  const input = objectOf(FIELDS, 5);
  const output = objectOf(FIELDS, 5);
  change(input, output);
  return { name: 'generated', version, functions: { handle: { input, output } } };
}

const props = (s: Schema) => s.properties as Record<string, Schema>;
const pairs: [string, unknown, unknown][] = [
  [
    'compatible: 10 optional input fields added, an output field narrowed',
    snapshot('1.0.0', () => {}),
    snapshot('1.1.0', (input, output) => {
      for (let i = 0; i < 10; i++) props(input)[`extra${i}`] = { type: 'string' };
      props(output).field0 = { type: 'string', maxLength: 32 };
    }),
  ],
  [
    'breaking: the shared Tag definition narrowed',
    snapshot('1.0.0', () => {}),
    snapshot('1.1.0', (input) => {
      (input.$defs as Record<string, Schema>).Tag = { type: 'string', maxLength: 5 };
    }),
  ],
];

const dir = await mkdtemp(join(tmpdir(), 'plugbay-bench-contract-'));
try {
  const rows: { name: string; diffMs: number; rawMs: number; exit: number }[] = [];
  for (const [i, [name, before, after]] of pairs.entries()) {
    const a = join(dir, `${i}-before.json`);
    const b = join(dir, `${i}-after.json`);
    await writeFile(a, JSON.stringify(before));
    await writeFile(b, JSON.stringify(after));
    const diff = () => {
      try {
        execFileSync(process.execPath, [cli, 'contract', 'diff', a, b], { stdio: 'pipe' });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    const raw = () =>
      execFileSync(process.execPath, [
        '-e',
        'const fs=require("node:fs");for(const f of process.argv.slice(1))JSON.parse(fs.readFileSync(f,"utf8"))',
        a,
        b,
      ]);
    const samples = { diff: [] as number[], raw: [] as number[] };
    let exit = -1;
    for (let r = 0; r < rounds; r++) {
      // interleaved, so that machine noise hits both alike
      let t0 = performance.now();
      raw();
      samples.raw.push(performance.now() - t0);
      t0 = performance.now();
      exit = diff();
      samples.diff.push(performance.now() - t0);
    }
    rows.push({ name, diffMs: median(samples.diff), rawMs: median(samples.raw), exit });
  }
  console.log(`## Contract diff, two ${FIELDS}-property schemas (target < 2000 ms, whole command)\n`);
  console.log(
    table(
      ['pair', 'exit', 'contract diff ms', 'raw: node + parse ms', 'ratio', 'within target'],
      rows.map((r) => [
        r.name,
        r.exit,
        r.diffMs.toFixed(0),
        r.rawMs.toFixed(0),
        (r.diffMs / r.rawMs).toFixed(1),
        r.diffMs < 2000 ? 'yes' : 'NO',
      ]),
    ),
  );
  console.log(JSON.stringify({ rounds, fields: FIELDS, results: rows }));
} finally {
  await rm(dir, { recursive: true, force: true });
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}
