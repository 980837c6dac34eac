// `plugbay serve --dev --watch` through the real CLI on a copy of the TypeScript example greeter@1.1.0: a save of
// src/index.ts is rebuilt, swapped in place under the same version, and served, while callers never stop and
// no call fails. The save → first new answer time is printed (the target is ≤ 2 s; only a sanity bound here).
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, linkNodeModules, repoRoot, runPlugbay, servePlugbay } from '../test-support/cli.js';
import { tempDir } from '../test-support/plugins.js';

const example = join(repoRoot, 'examples/plugins/greeter@1.1.0');

interface PluginsView {
  plugins: { name: string; versions: { version: string; tier: string; digest: string }[] }[];
}

test('serve --dev --watch: a saved change to a TypeScript plugin is served in place (same version, same tier) with no failed call', async (t) => {
  const project = await tempDir(t);
  await linkNodeModules(project);
  const dir = join(project, 'plugins', 'greeter@1.1.0');
  await cp(example, dir, { recursive: true });
  await rm(join(dir, 'plugin.sig.json')); // its edits are not signed: --dev warns about unsigned plugins
  const { child, url } = await servePlugbay(
    t,
    join(project, 'plugins'),
    // thread: where production runs a TypeScript plugin signed by a trusted key (unsigned would go to process).
    ['--dev', '--watch', '--dev-tier', 'thread'],
    join(project, 'state.db'),
    { cwd: project },
  );
  const greet = async (): Promise<string> => {
    const res = await fetch(`${url}/v1/call/greeter/greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada' }),
    });
    const body = (await res.json()) as { message?: string };
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
    return String(body.message);
  };
  const versionsOf = async () =>
    ((await (await fetch(`${url}/v1/plugins`)).json()) as PluginsView).plugins.find(
      (p) => p.name === 'greeter',
    )?.versions ?? [];
  assert.equal(await greet(), 'Hello, Ada! (greeter 1.1.0)');
  const before = await versionsOf();
  assert.equal(before.length, 1);
  assert.equal(before[0]?.tier, 'thread');

  // Callers that never stop: every answer and every failure is kept.
  let running = true;
  const failures: string[] = [];
  const answers: string[] = [];
  const caller = async () => {
    while (running) {
      try {
        answers.push(await greet());
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const callers = Array.from({ length: 4 }, () => caller());

  const timings: number[] = [];
  const source = join(dir, 'src/index.ts');
  const original = await readFile(source, 'utf8');
  for (const [i, greeting] of ['Howdy', 'Ahoy'].entries()) {
    const edited = original.replace("en: 'Hello'", `en: '${greeting}'`);
    assert.notEqual(edited, original);
    const expected = `${greeting}, Ada! (greeter 1.1.0)`;
    const saved = performance.now();
    await writeFile(source, edited);
    // Poll the answer until it changes; the deadline only stops a broken loop from hanging the test.
    const deadline = saved + 30_000;
    while ((await greet()) !== expected) {
      assert.ok(performance.now() < deadline, `save ${i + 1} was not served within 30 s`);
    }
    timings.push(performance.now() - saved);
  }
  running = false;
  await Promise.all(callers);
  console.log(
    `serve --dev --watch: save → first new answer ${timings.map((ms) => `${Math.round(ms)} ms`).join(', ')}`,
  );

  assert.deepEqual(failures, [], 'no call failed across the swaps');
  assert.ok(answers.length > 0);
  const after = await versionsOf();
  assert.equal(after.length, 1, 'still one greeter@1.1.0');
  assert.equal(after[0]?.version, '1.1.0');
  assert.equal(after[0]?.tier, before[0]?.tier, 'the swap keeps the tier');
  assert.notEqual(after[0]?.digest, before[0]?.digest);
  const audit = (await (await fetch(`${url}/v1/audit?plugin=greeter`)).json()) as {
    entries: { action: string }[];
  };
  // Two saves, two swaps (one more at start when the example's committed dist/ differs from this esbuild's).
  assert.ok(audit.entries.filter((e) => e.action === 'replace').length >= 2);

  child.kill('SIGINT');
  assert.equal(await exitOf(child), 0);
});

test('serve --watch or --dev-tier without --dev, or a --dev-tier that is not thread or process, is a usage error', async () => {
  const examples = join(repoRoot, 'examples/plugins');
  for (const [args, message] of [
    [['--watch'], /--watch needs --dev/],
    [['--dev-tier', 'thread'], /--dev-tier needs --dev/],
    [['--dev', '--dev-tier', 'inline'], /--dev-tier must be thread or process, got "inline"/],
  ] as const) {
    const r = await runPlugbay(['serve', examples, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
});
