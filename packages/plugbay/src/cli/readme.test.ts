// The README's tour runs as a test: each curl line is executed as written (only the port differs) against a real
// `plugbay serve examples/plugins`, and the output shown in the comments under it must be what the server says.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import { exitOf, linkNodeModules, repoRoot, runPlugbay, servePlugbay } from '../test-support/cli.js';
import { listExamples, skipReason } from '../test-support/examples.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';

const exec = promisify(execFile);

interface TourStep {
  command: string;
  /** The comment lines right below the command (the output the README promises). */
  expected: string[];
}

async function tourSteps(): Promise<TourStep[]> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A 5-minute tour'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'README has a tour code block');
  const steps: TourStep[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('curl ') || line.startsWith('npx ')) steps.push({ command: line, expected: [] });
    else if (line.startsWith('# ') && steps.length > 0) steps.at(-1)?.expected.push(line.slice(2));
    else if (line.trim() === '' && steps.length > 0) steps.push({ command: '', expected: [] }); // ends a step's output
  }
  return steps.filter((s) => s.command !== '');
}

test('README tour: every command does what the README says', async (t) => {
  await stat(join(repoRoot, 'examples/plugins/greeter@1.0.0/plugin.json')).catch(() => {
    assert.fail('examples are not built: run `npm run build` first');
  });
  // As `npm start` runs it: the examples are signed with the demo key, the keyring trusts it. Its own state
  // file: the default (.plugbay/state.db in the repo) is locked by any other serve running.
  const state = join(await tempDir(t), 'state.db');
  const { child, url } = await servePlugbay(t, 'examples/plugins', ['--keyring', 'examples/keys'], state);

  const steps = await tourSteps();
  assert.ok(steps.filter((s) => s.command.startsWith('curl ')).length >= 6, 'the tour has its curl calls');
  // An example whose toolchain is missing here was not built (never under CI): its tour line is skipped.
  const unbuilt = new Map<string, string>();
  for (const example of await listExamples()) {
    const reason = skipReason(example);
    if (reason) unbuilt.set(example.manifest.name, reason);
  }
  for (const step of steps) {
    const target = /\/v1\/call\/([^/]+)\//.exec(step.command)?.[1];
    const reason = target === undefined ? undefined : unbuilt.get(target);
    if (reason) {
      t.diagnostic(`skipped ${step.command}: ${reason}`);
      continue;
    }
    if (step.command.startsWith('npx ')) {
      // As written, through npx at the repository root: the root's node_modules/.bin must have plugbay (npm ci
      // links the workspace's bin there), or this prints "plugbay: not found".
      const res = await exec('sh', ['-c', step.command], { cwd: repoRoot }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (err: { code: number; stdout: string; stderr: string }) => err,
      );
      assert.equal(res.code, 1, `the README says check exits 1 (broken-manifest): ${res.stderr}`);
      assert.match(res.stdout, /broken-manifest/);
      continue;
    }
    assert.match(step.command, /^curl /, `unexpected tour command: ${step.command}`);
    const command = step.command.replaceAll('localhost:7070', new URL(url).host);
    const { stdout } = await exec('sh', ['-c', command]);
    const withHeaders = / -s?i /.test(command);
    const [head, body] = withHeaders ? splitResponse(stdout) : ['', stdout];
    const expectedJson = step.expected.filter((e) => !/^[a-z-]+: /i.test(e)).join('');
    for (const header of step.expected.filter((e) => /^x-[a-z-]+: /i.test(e))) {
      assert.ok(
        head.toLowerCase().includes(header.toLowerCase()),
        `${step.command}: header ${header} in\n${head}`,
      );
    }
    const parsed = JSON.parse(body) as { error?: { code: string } };
    if (expectedJson === '') continue;
    const code = /"code":"(\w+)"/.exec(expectedJson)?.[1];
    if (expectedJson.includes('...')) assert.equal(parsed.error?.code, code, step.command);
    else assert.deepEqual(parsed, JSON.parse(expectedJson), step.command);
  }
  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});

function splitResponse(raw: string): [string, string] {
  const i = raw.indexOf('\r\n\r\n');
  return i === -1 ? [raw, ''] : [raw.slice(0, i), raw.slice(i + 4)];
}

test('README "Write a plugin": the example builds with plugbay build and answers through a host', async (t) => {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Write a plugin'));
  const source = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(source, 'README has the plugin example');
  const project = await tempDir(t);
  await linkNodeModules(project);
  await writePlugin(join(project, 'plugins'), 'shout', { files: { 'src/index.ts': source } });

  const built = await runPlugbay(['build', 'plugins'], { cwd: project });
  assert.equal(built.code, 0, built.stderr);
  const host = createHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  const report = await host.loadDirectory(join(project, 'plugins'));
  assert.deepEqual(report.diagnostics, []);
  assert.deepEqual(await host.call('shout', 'shout', { text: 'hi' }), { text: 'HI' });
});
