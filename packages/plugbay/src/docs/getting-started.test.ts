// docs/getting-started.md runs as a test (docs/test-support.ts): npx plugbay → this CLI, npm install → the
// repository's packages linked in. Every `# => text` line is output the page promises: it must appear in what the
// script printed. tarballs.test.ts runs the same page on the packed tarballs, really installed.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, repoRoot } from '../test-support/cli.js';
import { promisedLines, runGettingStarted } from './test-support.js';

test('docs/getting-started.md: every code block runs and prints what the page says', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'plugbay-docs-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const modules = join(work, 'node_modules');
  await mkdir(join(modules, '@plugbay'), { recursive: true });
  await mkdir(join(modules, '.bin'));
  await symlink(join(repoRoot, 'node_modules/@plugbay/sdk'), join(modules, '@plugbay/sdk'));
  await symlink(join(repoRoot, 'packages/plugbay'), join(modules, 'plugbay'));
  await writeFile(
    join(modules, '.bin/plugbay'),
    `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`,
    {
      mode: 0o755,
    },
  );
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const output = await runGettingStarted(work, {
    env,
    shell: [
      `export PATH="${join(modules, '.bin')}:$PATH"`,
      'npx() { if [ "$1" = plugbay ]; then shift; plugbay "$@"; else command npx "$@"; fi; }',
      // Installing is the reader's job: here the packages are linked in above the project (node_modules in work/).
      'npm() { if [ "$1" = install ]; then echo "(npm install: linked)"; else command npm "$@"; fi; }',
    ],
  });
  for (const line of await promisedLines()) {
    assert.ok(output.includes(line), `expected "${line}" in:\n${output}`);
  }
  assert.match(output, /Hello, Grace!/);
  assert.match(output, /true/);
});
