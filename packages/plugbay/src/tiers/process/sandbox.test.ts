// Exec plugins under the OS layers this machine has (bubblewrap, prlimit, setpriv); each layer is reported
// only where it applies.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import { detectSandboxTools, sandboxReport, wrapCommand } from './sandbox.js';
import { call, descendants, execHelperPlugin, logSink, sdkServe, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

const tools = await detectSandboxTools();

describe('exec plugin sandbox', () => {
  const dirs = tempRoot();
  after(() => dirs.cleanup());

  it('never claims a layer whose tool is missing', async () => {
    const none = { bwrap: false, seccomp: false, prlimit: false, setpriv: false, unshare: false };
    const wrapped = wrapCommand({
      runtime: 'exec',
      argv: ['/p/bin'],
      permissions: {},
      pluginDir: '/p',
      runtimePaths: [],
      socketDir: '/tmp/s',
      tools: none,
      disabled: false,
    });
    assert.equal(wrapped.command, '/p/bin');
    assert.deepEqual(wrapped.args, []);
    for (const layer of wrapped.layers)
      if (layer.layer !== 'env-allowlist') assert.equal(layer.applied, false, layer.layer);
    const report = await sandboxReport(
      { name: 'x', version: '1.0.0', runtime: 'exec', entry: 'bin', functions: {} },
      {},
      tools,
    );
    assert.equal(report.find((l) => l.layer === 'bubblewrap')?.applied, tools.bwrap);
    assert.equal(report.find((l) => l.layer === 'pdeathsig')?.applied, tools.setpriv);
  });

  it('runs an exec plugin inside bubblewrap: /etc is not there, the plugin still serves', {
    skip: !tools.bwrap && !process.env.CI && 'bwrap does not run here', // CI installs bubblewrap: never skipped there
  }, async () => {
    const tier = new ProcessTier({ socketRoot: dirs.root });
    const sdkDir = path.resolve(path.dirname(sdkServe), '../..'); // the package, for its package.json (type: module)
    const plugin = execHelperPlugin(dirs.root, 'ok', { permissions: { fs: { read: [sdkDir] } } });
    const instance = await tier.load(plugin, logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    assert.equal(((await call(instance, 'echo', 'boxed')) as { input: string }).input, 'boxed');
    const err = await call(instance, 'readPasswd').catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.details?.pluginCode, 'ENOENT', 'no /etc/passwd inside the sandbox');
    const applied = instance.sandbox.filter((l) => l.applied).map((l) => l.layer);
    assert.ok(applied.includes('bubblewrap'));
    assert.equal(applied.includes('seccomp'), tools.seccomp);
    const node = descendants(instance.pid as number).filter((p) => p.argv0 === process.execPath);
    assert.equal(node.length, 1, JSON.stringify(descendants(instance.pid as number)));
    // no capabilities, even when the host runs as root (bwrap keeps them for root unless told)
    assert.equal(node[0]?.capEff, '0000000000000000');
    // Node itself starts and serves under the filter; the kernel says the plugin process is filtered
    if (tools.seccomp) assert.equal(node[0]?.seccomp, 2);
    assert.equal(applied.includes('prlimit'), tools.prlimit);
    assert.equal(applied.includes('pdeathsig'), tools.setpriv);
    await instance.close();
    await tier.close();
  });
});
