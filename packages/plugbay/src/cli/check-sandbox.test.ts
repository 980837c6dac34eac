import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { runPlugbay } from '../test-support/cli.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import type { CheckReport } from './commands/check.js';

const has = (tool: string, ...args: string[]) => spawnSync(tool, args).status === 0;

test('plugbay check says which sandbox layers apply to each process-tier plugin, and never claims a missing one', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'native', {
    manifest: manifest({ name: 'native', runtime: 'exec', entry: 'run.sh' }),
    files: { 'run.sh': '#!/bin/sh\nexit 1\n' },
  });
  await writePlugin(root, 'js', {
    manifest: manifest({ name: 'js' }),
    files: { 'index.mjs': 'export default {};' },
  });
  const { code, stdout } = await runPlugbay(['check', root, '--json']);
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as CheckReport;
  const layers = (name: string) =>
    Object.fromEntries(
      (report.plugins.find((p) => p.name === name)?.sandbox ?? []).map((l) => [l.layer, l.applied]),
    );
  const native = layers('native');
  assert.equal(native.bubblewrap, has('bwrap', '--version'));
  assert.equal(native.prlimit, has('prlimit', '--version'));
  // the seccomp filter comes with bwrap on the architectures it has a syscall table for, never without bwrap
  assert.equal(native.seccomp, native.bubblewrap && ['x64', 'arm64'].includes(process.arch));
  assert.equal(layers('js')['node-permission-model'], true);
  assert.equal(layers('js').seccomp, undefined, 'Node plugins do not run under bwrap: no seccomp claimed');
  const human = await runPlugbay(['check', root]);
  assert.match(human.stdout, /SANDBOX/);
  const nativeRow = human.stdout.split('\n').find((line) => line.startsWith('native'));
  assert.equal(/\bseccomp\b/.test(nativeRow ?? ''), native.seccomp, nativeRow);
});
