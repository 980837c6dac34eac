// `plugbay client` and `plugbay call` (#18), through the real CLI against a real gateway serving the examples:
// the generated client typechecks (tsc, strict) against the examples' own sample inputs, a wrong input does not
// typecheck, and the compiled client calls every example function and gets the sample outputs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import semver from 'semver';
import { repoRoot, runPlugbay, servePlugbay } from '../test-support/cli.js';
import { type Example, listExamples } from '../test-support/examples.js';
import { tempDir } from '../test-support/plugins.js';

const run = promisify(execFile);
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');

/** The newest version of each example plugin whose toolchain is here: what the gateway documents and routes to. */
async function newestExamples(): Promise<Example[]> {
  const byName = new Map<string, Example>();
  for (const e of await listExamples()) {
    if (e.missingToolchain !== undefined) continue;
    const seen = byName.get(e.manifest.name);
    if (seen === undefined || semver.gt(e.manifest.version, seen.manifest.version))
      byName.set(e.manifest.name, e);
  }
  return [...byName.values()];
}

test('a client generated from the gateway typechecks against the examples and calls each of them', async (t) => {
  const dir = await tempDir(t);
  const { url } = await servePlugbay(
    t,
    'examples/plugins',
    ['--keyring', 'examples/keys'],
    join(dir, 'state.db'),
  );

  const generated = await runPlugbay(['client', '--url', url, '--out', join(dir, 'client.ts')]);
  assert.equal(generated.code, 0, generated.stderr);

  // A program calling every function with its first sample input, typed by the generated types only.
  const lines: string[] = [];
  const expected: Record<string, unknown> = {};
  for (const e of await newestExamples()) {
    for (const [fn, spec] of Object.entries(e.manifest.functions)) {
      const sample = spec.examples?.[0];
      if (sample === undefined) continue;
      const id = `${e.manifest.name}.${fn}`;
      lines.push(
        `results[${JSON.stringify(id)}] = await client[${JSON.stringify(e.manifest.name)}][${JSON.stringify(fn)}](${JSON.stringify(sample.input)});`,
      );
      if (sample.output !== undefined) expected[id] = sample.output;
    }
  }
  assert.ok(lines.length >= 5, `sample calls: ${lines.length}`);
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  await writeFile(
    join(dir, 'main.ts'),
    `import { createClient, PlugbayCallError, type GreeterGreetOutput } from './client.js';
const client = createClient(process.argv[2]!);
const results: Record<string, unknown> = {};
${lines.join('\n')}
const typed: GreeterGreetOutput = await client.greeter.greet({ name: 'Ada' });
results.typed = typed.message;
try {
  await client.greeter.greet({ name: '' });
} catch (err) {
  if (err instanceof PlugbayCallError) results.refused = [err.status, err.code];
}
console.log(JSON.stringify(results));
`,
  );
  // The types are real: a misspelt field must not compile (an unused @ts-expect-error is an error itself).
  await writeFile(
    join(dir, 'wrong.ts'),
    `import { createClient } from './client.js';
const client = createClient('http://127.0.0.1:1');
// @ts-expect-error nme is not a field of greet's input
void client.greeter.greet({ nme: 'Ada' });
// @ts-expect-error slugify takes a string
void client.slugify.slugify(42);
`,
  );
  const flags = ['--strict', '--noUncheckedIndexedAccess', '--target', 'es2022', '--module', 'nodenext'];
  const types = ['--typeRoots', join(repoRoot, 'node_modules/@types'), '--types', 'node'];
  await run(
    process.execPath,
    [tsc, ...flags, ...types, '--outDir', join(dir, 'out'), 'main.ts', 'client.ts'],
    {
      cwd: dir,
    },
  ).catch((err: { stdout?: string }) => assert.fail(`tsc: ${err.stdout}`));
  await run(process.execPath, [tsc, ...flags, ...types, '--noEmit', 'wrong.ts'], { cwd: dir }).catch(
    (err: { stdout?: string }) => assert.fail(`tsc on the wrong inputs: ${err.stdout}`),
  );
  await writeFile(join(dir, 'out/package.json'), '{"type":"module"}');

  const { stdout } = await run(process.execPath, [join(dir, 'out/main.js'), url]);
  const results = JSON.parse(stdout) as Record<string, unknown>;
  for (const [id, output] of Object.entries(expected)) assert.deepEqual(results[id], output, id);
  assert.match(String(results.typed), /^Hello, Ada!/);
  assert.deepEqual(results.refused, [400, 'PLUGBAY_INVALID_INPUT']);
  // The client names the same functions the folder does.
  const fromFolder = await runPlugbay([
    'client',
    '--plugins',
    'examples/plugins',
    '--out',
    join(dir, 'f.ts'),
  ]);
  assert.equal(fromFolder.code, 0, fromFolder.stderr);
  assert.equal(await readFile(join(dir, 'f.ts'), 'utf8'), await readFile(join(dir, 'client.ts'), 'utf8'));

  // plugbay call against the same gateway: the output as JSON; a refusal one line with its code, exit 1.
  const ok = await runPlugbay(['call', 'slugify.slugify', '"Hello, World!"', '--url', url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout), 'hello-world');
  const refused = await runPlugbay(['call', 'greeter.greet', '{"name":""}', '--url', url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^PLUGBAY_INVALID_INPUT: .+\n$/);
  const unknown = await runPlugbay(['call', 'nope.fn', '--url', url]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^PLUGBAY_UNKNOWN_PLUGIN: /);
});

test('plugbay call in-process on a plugins folder; bad arguments are usage errors', async () => {
  const ok = await runPlugbay([
    'call',
    'wordcount.count',
    '"one two\\nthree"',
    '--plugins',
    'examples/plugins',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { lines: 1, words: 3, chars: 13, bytes: 13 });
  const broken = await runPlugbay(['call', 'broken-manifest.hello', '--plugins', 'examples/plugins']);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /^PLUGBAY_\w+: /);
  const usage = await runPlugbay(['call', 'no-dot', '--url', 'http://127.0.0.1:1']);
  assert.equal(usage.code, 2);
  const notJson = await runPlugbay(['call', 'a.b', '{oops', '--url', 'http://127.0.0.1:1']);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /not JSON/);
});
