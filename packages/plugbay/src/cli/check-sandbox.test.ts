import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  const js = layers('js');
  assert.equal(js['node-permission-model'], true);
  // Node plugins run under the same OS layers as exec plugins (prlimit without the address-space cap)
  for (const layer of [
    'bubblewrap',
    'pid-namespace',
    'network-namespace',
    'uid',
    'seccomp',
    'prlimit',
    'pdeathsig',
  ])
    assert.equal(js[layer], native[layer], layer);
  assert.equal(report.sandboxWarning === undefined, Object.values(native).every(Boolean));
  const human = await runPlugbay(['check', root]);
  assert.match(human.stdout, /SANDBOX/);
  const nativeRow = human.stdout.split('\n').find((line) => line.startsWith('native'));
  assert.equal(/\bseccomp\b/.test(nativeRow ?? ''), native.seccomp, nativeRow);
});

test('with neither bwrap nor unshare, plugbay check claims no namespace and says what plugins run without', async (t) => {
  const root = await tempDir(t);
  const bin = await tempDir(t);
  for (const tool of ['bwrap', 'unshare'])
    await writeFile(join(bin, tool), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  await writePlugin(root, 'js', {
    manifest: manifest({ name: 'js' }),
    files: { 'index.mjs': 'export default {};' },
  });
  const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
  const { code, stdout } = await runPlugbay(['check', root, '--json'], { env });
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as CheckReport;
  const js = Object.fromEntries((report.plugins[0]?.sandbox ?? []).map((l) => [l.layer, l.applied]));
  for (const layer of ['bubblewrap', 'pid-namespace', 'network-namespace', 'seccomp'])
    assert.equal(js[layer], false, layer);
  assert.equal(js.uid, process.getuid?.() === 0 && has('setpriv', '--version'));
  assert.match(report.sandboxWarning ?? '', /without: bubblewrap, pid-namespace, network-namespace, /);
  const human = await runPlugbay(['check', root], { env });
  assert.match(human.stdout, /warning: process-tier plugins run without: bubblewrap/);
  assert.doesNotMatch(human.stdout.split('\n').find((l) => l.startsWith('js')) ?? '', /namespace/);
});
