// docs/library-api.md: every ```ts block on the page runs, as a reader would run it (an ES module importing
// `plugbay`, from the repository root), and must exit 0. Its own assertions are the checks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { transform } from 'esbuild';
import { linkNodeModules, repoRoot } from '../test-support/cli.js';
import { tempDir } from '../test-support/plugins.js';

const run = promisify(execFile);
const page = 'docs/library-api.md';

/** The ```ts blocks of the page, each with the heading it sits under. */
async function blocks(): Promise<{ heading: string; code: string }[]> {
  const text = await readFile(join(repoRoot, page), 'utf8');
  const out: { heading: string; code: string }[] = [];
  let heading = '';
  for (const part of text.split(/^(```ts\n[\s\S]*?^```)$/m)) {
    if (part.startsWith('```ts\n')) out.push({ heading, code: part.slice(6, -3) });
    else heading = [...part.matchAll(/^#+ (.+)$/gm)].at(-1)?.[1] ?? heading;
  }
  return out;
}

test(`${page}: every ts example runs`, async (t) => {
  const found = await blocks();
  assert.ok(found.length >= 6, `${page} has ${found.length} ts blocks`);
  const dir = await tempDir(t);
  await linkNodeModules(dir);
  for (const [i, { heading, code }] of found.entries()) {
    await t.test(`block ${i + 1} (${heading})`, async () => {
      const js = (await transform(code, { loader: 'ts', format: 'esm', target: 'node20' })).code;
      const file = join(dir, `block-${i + 1}.mjs`);
      await writeFile(file, js);
      await run(process.execPath, [file], { cwd: repoRoot, timeout: 120_000 }).catch(
        (err: { stderr?: string; message: string }) =>
          assert.fail(`${heading}: ${err.stderr || err.message}`),
      );
    });
  }
});
