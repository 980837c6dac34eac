// Runs docs/getting-started.md as a reader would: its sh blocks in order as one bash script (port 7070 → a free
// one), its ts blocks written to the file named in the `<!-- file: … -->` comment above them, its js blocks run
// as a module in the plugin directory. Used by getting-started.test.ts (the repository's packages linked in) and
// tarballs.test.ts (the packed tarballs really installed, the registry unreachable for @plugbay/*).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../test-support/cli.js';

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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** The `# => text` lines of the page: output it promises. */
export async function promisedLines(): Promise<string[]> {
  const page = await readFile(join(repoRoot, 'docs/getting-started.md'), 'utf8');
  return page
    .split('\n')
    .filter((l) => l.startsWith('# => '))
    .map((l) => l.slice(5));
}

/**
 * Runs the page in `work` and returns everything it printed. `shell` is bash run before each part (functions,
 * PATH); `env` the environment of every command.
 */
export async function runGettingStarted(
  work: string,
  options: { shell?: string[]; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<string> {
  const page = await readFile(join(repoRoot, 'docs/getting-started.md'), 'utf8');
  const blocks = codeBlocks(page);
  assert.deepEqual([...new Set(blocks.map((b) => b.lang))].sort(), ['js', 'sh', 'ts']);
  const timeout = options.timeoutMs ?? 180_000;
  const { env } = options;
  const port = String(await freePort());
  const prelude = [
    'set -euo pipefail',
    // Job control: a background job gets its own process group, so `kill %1` ends the server and its children.
    'set -m',
    "trap 'for j in $(jobs -p); do kill -- -$j 2>/dev/null || true; done' EXIT",
    ...(options.shell ?? []),
  ].join('\n');
  let output = '';
  let script = prelude;
  for (const block of blocks) {
    if (block.lang === 'sh') {
      script += `\n${block.code.replaceAll('7070', port)}`;
    } else if (block.lang === 'ts') {
      assert.ok(block.file, 'a ts block names its file');
      // Run what came before, then write the file where the page says.
      output += (await run('bash', ['-c', script], { cwd: work, env, timeout })).stdout;
      script = `${prelude}\ncd ${join(work, dirname(dirname(block.file)))}`;
      await writeFile(join(work, block.file), block.code);
    } else if (block.lang === 'js') {
      output += (await run('bash', ['-c', script], { cwd: work, env, timeout })).stdout;
      const dir = join(work, 'plugins/hello');
      await writeFile(join(dir, 'snippet.mjs'), block.code);
      output += (await run(process.execPath, ['snippet.mjs'], { cwd: dir, env, timeout: 60_000 })).stdout;
      await rm(join(dir, 'snippet.mjs'));
      script = `${prelude}\ncd ${work}/plugins/hello`;
    }
  }
  output += (await run('bash', ['-c', script], { cwd: work, env, timeout })).stdout;
  return output;
}
