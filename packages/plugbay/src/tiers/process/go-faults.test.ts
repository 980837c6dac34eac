// Faults of a real go-plugin binary (examples/go-plugins/faulty, one mode per test): each start failure and crash
// carries the code and details docs/process-tier.md promises ("What a failed start or a crash reports").
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import type { ProcessInstance } from './instance.js';
import { detectSandboxTools } from './sandbox.js';
import { call, execPid, faultyGoPlugin, goSkip, logSink, stateReached, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

const noSignal = new AbortController().signal;

async function loadError(
  tier: ProcessTier,
  ...args: Parameters<typeof faultyGoPlugin>
): Promise<PlugbayError> {
  const err = await tier.load(faultyGoPlugin(...args), logSink().opts()).catch((e: unknown) => e);
  assert.ok(err instanceof PlugbayError, `expected a PlugbayError, got ${String(err)}`);
  assert.equal(err.code, 'PLUGBAY_START_FAILED');
  return err;
}

describe('go-plugin faults', { skip: goSkip }, () => {
  const dirs = tempRoot();
  fs.chmodSync(dirs.root, 0o755); // the sandboxed plugin's uid reads its folder
  // Sandboxed as in production. Only the plugins that never hand-shake wait for the start timeout: a short one
  // through the option for them (long enough for a loaded machine to run the binary), the default for the rest.
  const tier = new ProcessTier({ socketRoot: dirs.root });
  const timingOut = new ProcessTier({ socketRoot: dirs.root, startTimeoutMs: 3000 });
  after(async () => {
    await tier.close();
    await timingOut.close();
    dirs.cleanup();
  });

  it('garbage on stdout and no handshake: the timeout names the stray stdout and the stderr tail', async () => {
    const err = await loadError(timingOut, dirs.root, 'garbage');
    assert.equal(err.details?.rule, 'start-timeout');
    assert.equal(err.details?.timeoutMs, 3000);
    assert.deepEqual(err.details?.strayStdout, [
      'hello from a Go plugin that prints before its handshake',
      '{"not":"a handshake"}',
    ]);
    assert.deepEqual(err.details?.stderrTail, ['faulty: loading the config took a wrong turn']);
    assert.match(err.message, /2 stray stdout lines/);
  });

  it('a silent binary: the timeout says nothing was written', async () => {
    const err = await loadError(timingOut, dirs.root, 'silent');
    assert.equal(err.details?.rule, 'start-timeout');
    assert.deepEqual(err.details?.strayStdout, []);
    assert.deepEqual(err.details?.stderrTail, []);
    assert.match(err.message, /wrote nothing/);
  });

  it('exit at once: the exit code and the last stderr line, in the message too', async () => {
    const err = await loadError(tier, dirs.root, 'exit');
    assert.equal(err.details?.rule, 'exit-before-handshake');
    assert.equal(err.details?.exitCode, 2);
    assert.equal(err.details?.signal, null);
    assert.deepEqual(err.details?.stderrTail, ['faulty: cannot open the config, giving up']);
    assert.match(err.message, /exited with code 2 before the handshake: faulty: cannot open the config/);
  });

  it('a wrong cookie value: go-plugin refuses to run, reported as a cookie mismatch naming the key', async () => {
    const err = await loadError(tier, dirs.root, 'serve', {
      handshake: { magicCookieKey: 'FAULTY_PLUGIN', magicCookieValue: 'stale', protocolVersion: 1 },
    });
    assert.equal(err.details?.rule, 'magic-cookie');
    assert.equal(err.details?.field, 'handshake.magicCookieValue');
    assert.equal(err.details?.magicCookieKey, 'FAULTY_PLUGIN');
    assert.equal(err.details?.exitCode, 1);
    assert.match(err.message, /magic cookie/);
    assert.match(err.message, /FAULTY_PLUGIN/);
    // go-plugin's own words stay in the tail
    assert.match(String(err.details?.stderrTail), /not meant to be executed directly/);
  });

  it('a cookie under another key (the plugin sees none): the same diagnosis, naming the key the host set', async () => {
    const err = await loadError(tier, dirs.root, 'serve', {
      handshake: { magicCookieKey: 'KV_PLUGIN', magicCookieValue: 'faulty', protocolVersion: 1 },
    });
    assert.equal(err.details?.rule, 'magic-cookie');
    assert.equal(err.details?.magicCookieKey, 'KV_PLUGIN');
    assert.match(err.message, /KV_PLUGIN/);
  });

  it('another app protocol version: fails at the handshake line, naming the cookie key and both versions', async () => {
    const err = await loadError(tier, dirs.root, 'protocol-2');
    assert.equal(err.details?.rule, 'protocol-version');
    assert.equal(err.details?.field, 'handshake.protocolVersion');
    assert.equal(err.details?.protocolVersion, 2);
    assert.deepEqual(err.details?.expected, { magicCookieKey: 'FAULTY_PLUGIN', protocolVersions: [1] });
    assert.match(err.details?.handshake as string, /^1\|2\|unix\|/);
    assert.match(err.message, /protocol version 2/);
    assert.match(err.message, /FAULTY_PLUGIN/);
  });

  for (const sandbox of [true, false]) {
    it(`kill -9 of the Go binary (sandbox ${sandbox ? 'on' : 'off'}) is reported as the signal`, async (t) => {
      const tools = await detectSandboxTools();
      if (sandbox && !tools.bwrap) return t.skip('bwrap does not run here');
      const local = new ProcessTier({ socketRoot: dirs.root, sandbox, restart: { initialDelayMs: 10 } });
      t.after(() => local.close());
      const instance: ProcessInstance = await local.load(
        faultyGoPlugin(dirs.root, 'serve'),
        logSink().opts(),
      );
      await instance.start({ signal: noSignal, config: undefined });
      if (sandbox) assert.equal(instance.sandbox.find((l) => l.layer === 'bubblewrap')?.applied, true);
      const exited = new Promise<PlugbayError>((resolve) => instance.once('exit', resolve));
      const go = execPid(instance);
      if (sandbox) assert.notEqual(go, instance.pid, 'the Go binary runs below bwrap');
      process.kill(go, 'SIGKILL');
      const err = await exited;
      assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
      assert.equal(err.details?.reason, 'signal');
      assert.equal(err.details?.signal, 'SIGKILL');
      assert.equal(err.details?.exitCode, null);
      assert.ok(Array.isArray(err.details?.stderrTail));
      // under bwrap the signal was read from its 128 + 9 exit; without it Node saw the signal itself
      assert.deepEqual(err.details?.wrapper, sandbox ? { name: 'bwrap', exitCode: 137 } : undefined);
      assert.match(err.message, /killed by SIGKILL/);
      // and the supervisor restarts it as for any crash
      await stateReached(instance, 'ready');
      const value = Buffer.from('back').toString('base64');
      assert.deepEqual(await call(instance, 'Put', { key: 'k', value }), {});
    });
  }

  it('a Go plugin exiting with its own code under bwrap keeps reason "exit" and that code', async () => {
    const local = new ProcessTier({ socketRoot: dirs.root, restart: { initialDelayMs: 10 } });
    const instance = await local.load(faultyGoPlugin(dirs.root, 'serve'), logSink().opts());
    await instance.start({ signal: noSignal, config: undefined });
    const exited = new Promise<PlugbayError>((resolve) => instance.once('exit', resolve));
    await call(instance, 'Get', { key: 'crash' }).catch(() => {});
    const err = await exited;
    assert.equal(err.details?.reason, 'exit');
    assert.equal(err.details?.exitCode, 3);
    assert.equal(err.details?.signal, null);
    assert.equal((err.details?.stderrTail as string[] | undefined)?.at(-1), 'faulty: crashing on request');
    await local.close();
  });
});
