// Sandbox detection: asynchronous (the event loop keeps turning while it probes), once per host process, never for
// a tier whose sandbox is off, and a tool that fails its probe is never claimed. Fake bwrap and prlimit first on
// PATH record each run and fail, so the test sees every probe (node --test runs this file in its own process:
// nothing was probed before).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { detectSandboxTools, sandboxReport } from './sandbox.js';
import { call, execHelperPlugin, logSink, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

describe('sandbox detection', () => {
  const dirs = tempRoot();
  const bin = path.join(dirs.root, 'bin');
  const runsLog = path.join(dirs.root, 'probes.log');
  fs.mkdirSync(bin);
  for (const tool of ['bwrap', 'prlimit']) {
    fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho ${tool} >> '${runsLog}'\nexit 1\n`, {
      mode: 0o755,
    });
  }
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
  const probes = (): string[] =>
    fs.existsSync(runsLog) ? fs.readFileSync(runsLog, 'utf8').split('\n').filter(Boolean) : [];
  after(() => {
    process.env.PATH = savedPath;
    dirs.cleanup();
  });

  it('a tier with the sandbox off launches exec plugins without probing bwrap or prlimit', async () => {
    const tier = new ProcessTier({ socketRoot: dirs.root, sandbox: false });
    const instance = await tier.load(execHelperPlugin(dirs.root, 'ok'), logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    assert.equal(((await call(instance, 'echo', 'plain')) as { input: string }).input, 'plain');
    assert.deepEqual(probes(), []);
    const applied = instance.sandbox.filter((l) => l.applied).map((l) => l.layer);
    for (const layer of ['bubblewrap', 'seccomp', 'prlimit'])
      assert.equal(applied.includes(layer as never), false, layer);
    await instance.close();
    await tier.close();
  });

  it('probes without blocking the event loop, once per process, and claims no tool whose probe failed', async () => {
    let turned = false;
    const immediate = setImmediate(() => {
      turned = true;
    });
    const first = detectSandboxTools();
    const second = detectSandboxTools();
    const [a, b] = await Promise.all([first, second]);
    clearImmediate(immediate);
    assert.equal(turned, true, 'the loop ran while the probes were out');
    assert.deepEqual(a, b);
    assert.deepEqual(
      { bwrap: a.bwrap, seccomp: a.seccomp, prlimit: a.prlimit },
      {
        bwrap: false,
        seccomp: false,
        prlimit: false,
      },
    );
    const afterFirst = probes();
    assert.ok(afterFirst.includes('bwrap') && afterFirst.includes('prlimit'), afterFirst.join(','));
    await detectSandboxTools();
    const report = await sandboxReport({
      name: 'x',
      version: '1.0.0',
      runtime: 'exec',
      entry: 'bin',
      functions: {},
    });
    assert.deepEqual(probes(), afterFirst, 'cached: no probe runs again');
    for (const layer of report)
      if (['bubblewrap', 'seccomp', 'prlimit'].includes(layer.layer)) assert.equal(layer.applied, false);
  });
});
