// `plugbay test` on a go-plugin binary that fails to start (examples/go-plugins/faulty): the fix speaks of the
// handshake, the cookie and plugin.Serve, never of TypeScript or Node's permission model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, type TestContext, test } from 'node:test';
import { runPlugbay } from '../test-support/cli.js';
import { faultyGoPlugin, faultyHandshake, goSkip, tempRoot } from '../tiers/process/test-helpers.js';
import { fixFor } from './fixes.js';
import { type ConformanceCheck, conformance } from './index.js';

function root(t: TestContext): string {
  const dirs = tempRoot();
  fs.chmodSync(dirs.root, 0o755); // the sandboxed plugin's uid reads its folder
  t.after(() => dirs.cleanup());
  return dirs.root;
}

/** Only a plugin that never hand-shakes waits for the start timeout: short there, the default elsewhere. */
async function loadCheck(dir: string, startTimeoutMs?: number): Promise<ConformanceCheck> {
  const report = await conformance(dir, startTimeoutMs === undefined ? {} : { startTimeoutMs });
  const load = report.checks.find((c) => c.id === 'load');
  assert.equal(load?.status, 'fail');
  return load;
}

const nodeAdvice = /TypeScript|permission model|plugbay build|node_modules/;

describe('fix hints for exec plugins', { skip: goSkip }, () => {
  test('a wrong cookie: the fix names the HandshakeConfig and the key', async (t) => {
    const plugin = faultyGoPlugin(root(t), 'serve', {
      handshake: { ...faultyHandshake, magicCookieValue: 'stale' },
    });
    const load = await loadCheck(plugin.dir);
    assert.match(load.problem ?? '', /PLUGBAY_START_FAILED: .*magic cookie.*FAULTY_PLUGIN/);
    assert.match(load.fix ?? '', /HandshakeConfig/);
    assert.match(load.fix ?? '', /plugin\.Serve exits at once when FAULTY_PLUGIN/);
    assert.doesNotMatch(load.fix ?? '', nodeAdvice);
  });

  test('another app protocol version: the fix names handshake.protocolVersion', async (t) => {
    const load = await loadCheck(faultyGoPlugin(root(t), 'protocol-2').dir);
    assert.match(load.fix ?? '', /handshake\.protocolVersion/);
    assert.doesNotMatch(load.fix ?? '', nodeAdvice);
  });

  test('garbage and no handshake: the fix says plugin.Serve and stderr, the problem the stray lines', async (t) => {
    const load = await loadCheck(faultyGoPlugin(root(t), 'garbage').dir, 3000);
    assert.match(load.problem ?? '', /2 stray stdout lines/);
    assert.match(load.fix ?? '', /plugin\.Serve/);
    assert.match(load.fix ?? '', /Log to stderr, not stdout/);
    assert.doesNotMatch(load.fix ?? '', nodeAdvice);
  });

  test('exit at once: the fix is about the binary itself, the problem quotes its stderr once', async (t) => {
    const load = await loadCheck(faultyGoPlugin(root(t), 'exit').dir);
    const quoted = load.problem?.split('faulty: cannot open the config').length;
    assert.equal(quoted, 2, `quoted once: ${load.problem}`);
    assert.match(load.fix ?? '', /chmod \+x/);
    assert.doesNotMatch(load.fix ?? '', nodeAdvice);
  });

  test('plugbay test prints them (exit code 1)', async (t) => {
    const plugin = faultyGoPlugin(root(t), 'serve', {
      handshake: { ...faultyHandshake, magicCookieKey: 'KV_PLUGIN' },
    });
    const result = await runPlugbay(['test', plugin.dir]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /FAIL\s+load/);
    assert.match(result.stdout, /KV_PLUGIN/);
    assert.match(result.stdout, /HandshakeConfig/);
    assert.doesNotMatch(result.stdout, nodeAdvice);
  });
});

test('node plugins keep the Node advice; exec plugins without a rule get the handshake advice', () => {
  const details = { stderrTail: ['boom'] };
  assert.match(fixFor('PLUGBAY_START_FAILED', { details, runtime: 'node' }), /permission model/);
  const exec = fixFor('PLUGBAY_START_FAILED', { details, runtime: 'exec', protocol: 'go-plugin' });
  assert.match(exec, /plugin\.Serve/);
  assert.doesNotMatch(exec, nodeAdvice);
  assert.doesNotMatch(
    fixFor('PLUGBAY_MANIFEST_INVALID', { field: 'handshake', runtime: 'exec' }),
    /plugbay build/,
  );
});
