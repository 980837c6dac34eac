// docs/debugging.md, its tested path: a plugin run in the inline tier by the test kit, under Node's terminal
// debugger, stops at the `debugger;` statement in its handler, shows a local, and runs on to the answer. Driven by
// the debugger's own output (no sleeps); its inspector port is a free one (--port=0).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, linkNodeModules, outputLines, repoRoot, runPlugbay } from '../test-support/cli.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { codeBlocks } from './test-support.js';

const source = `import { definePlugin, Type } from '@plugbay/sdk';

export default definePlugin({
  name: 'dbg',
  version: '1.0.0',
  functions: {
    twice: {
      input: Type.Number(),
      output: Type.Number(),
      handler: (n) => {
        const result = n * 2;
        debugger;
        return result;
      },
    },
  },
});
`;

test('docs/debugging.md: the inline tier under node inspect stops at a debugger statement in the plugin', {
  timeout: 120_000,
}, async (t) => {
  const page = await readFile(join(repoRoot, 'docs/debugging.md'), 'utf8');
  const script = codeBlocks(page).find((b) => b.file === 'plugins/dbg/debug.mjs');
  assert.ok(script, 'the page has the debug.mjs block');
  const project = await tempDir(t);
  await linkNodeModules(project);
  const dir = await writePlugin(join(project, 'plugins'), 'dbg', { files: { 'src/index.ts': source } });
  await writeFile(join(dir, 'debug.mjs'), script.code);
  const built = await runPlugbay(['build', dir]);
  assert.equal(built.code, 0, built.stderr);

  const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...env } = process.env;
  const child = spawn(process.execPath, ['inspect', '--port=0', 'debug.mjs'], { cwd: dir, env });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = outputLines(child);
  await lines.next(/Break on start/);
  child.stdin.write('cont\n');
  assert.match(await lines.next(/break in /), /break in .*\/dist\/plugin\.js:\d+/);
  assert.match(await lines.next(/^\s*>\s*\d+\s+debugger;/), /debugger;/);
  child.stdin.write('exec result\n');
  await lines.next(/(^|> )42$/);
  child.stdin.write('cont\n');
  await lines.next(/answer 42/);
  child.stdin.write('.exit\n');
  await exitOf(child);
});
