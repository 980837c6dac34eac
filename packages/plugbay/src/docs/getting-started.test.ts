// docs/getting-started.md runs as a test: its sh blocks in order as one bash script (npx plugbay → this CLI,
// npm install → the repository's packages linked in, port 7070 → a free one), its ts blocks written to the file
// named in the `<!-- file: … -->` comment above them, its js blocks run as a module in the plugin directory.
// Every `# => text` line is output the page promises: it must appear in what the script printed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, repoRoot } from '../test-support/cli.js';

const run = promisify(execFile);

interface Block {
  lang: string;
  code: string;
  file?: string;
}

export function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /(?:<!-- file: (\S+) -->\n)?```(\w+)\n([\s\S]*?)```/g;
  for (const m of markdown.matchAll(re)) {
    blocks.push({ lang: m[2]!, code: m[3]!, ...(m[1] ? { file: m[1] } : {}) });
  }
  return blocks;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

test('docs/getting-started.md: every code block runs and prints what the page says', async (t) => {
  const page = await readFile(join(repoRoot, 'docs/getting-started.md'), 'utf8');
  const blocks = codeBlocks(page);
  assert.deepEqual([...new Set(blocks.map((b) => b.lang))].sort(), ['js', 'sh', 'ts']);
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
  const port = String(await freePort());
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const prelude = [
    'set -euo pipefail',
    // Job control: a background job gets its own process group, so `kill %1` ends the server and its children.
    'set -m',
    "trap 'for j in $(jobs -p); do kill -- -$j 2>/dev/null || true; done' EXIT",
    `export PATH="${join(modules, '.bin')}:$PATH"`,
    'npx() { if [ "$1" = plugbay ]; then shift; plugbay "$@"; else command npx "$@"; fi; }',
    // Installing is the reader's job: here the packages are linked in above the project (node_modules in work/).
    'npm() { if [ "$1" = install ]; then echo "(npm install: linked)"; else command npm "$@"; fi; }',
  ].join('\n');
  let output = '';
  let script = prelude;
  for (const block of blocks) {
    if (block.lang === 'sh') {
      script += `\n${block.code.replaceAll('7070', port)}`;
    } else if (block.lang === 'ts') {
      assert.ok(block.file, 'a ts block names its file');
      // Run what came before, then write the file where the page says.
      output += (await run('bash', ['-c', script], { cwd: work, env, timeout: 180_000 })).stdout;
      script = `${prelude}\ncd ${join(work, dirname(dirname(block.file)))}`;
      await writeFile(join(work, block.file), block.code);
    } else if (block.lang === 'js') {
      output += (await run('bash', ['-c', script], { cwd: work, env, timeout: 180_000 })).stdout;
      const dir = join(work, 'plugins/hello');
      await writeFile(join(dir, 'snippet.mjs'), block.code);
      output += (await run(process.execPath, ['snippet.mjs'], { cwd: dir, env, timeout: 60_000 })).stdout;
      await rm(join(dir, 'snippet.mjs'));
      script = `${prelude}\ncd ${work}/plugins/hello`;
    }
  }
  output += (await run('bash', ['-c', script], { cwd: work, env, timeout: 180_000 })).stdout;
  for (const line of page.split('\n').filter((l) => l.startsWith('# => '))) {
    assert.ok(output.includes(line.slice(5)), `expected "${line.slice(5)}" in:\n${output}`);
  }
  assert.match(output, /Hello, Grace!/);
  assert.match(output, /true/);
});
