import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TierKind } from '../core/types.js';
import { createHost } from '../host/host.js';
import { createInlineTier, createProcessTier, createThreadTier, createWasmTier } from '../tiers/index.js';
import { buildFixtures, fixture, wasmPlugin } from '../tiers/wasm/test-fixtures.js';
import { obsPlugin, recordingLogger, traceparent } from './test-support.js';

for (const tier of ['inline', 'thread', 'process'] as TierKind[]) {
  test(`${tier}: a plugin's ctx.log lines carry plugin, version, tier, instance, traceId and spanId`, async (t) => {
    const { logger, lines } = recordingLogger();
    const host = createHost({
      logger,
      tiers: { inline: createInlineTier(), thread: createThreadTier(), process: createProcessTier() },
      tierFor: () => tier,
    });
    t.after(() => host.close());
    const [loaded] = (await host.loadDirectory(await obsPlugin(t))).loaded;
    assert.ok(loaded);
    await host.call('obs', 'echo', { text: 'hello' }, { traceparent });
    // A process plugin's lines come over its stderr: they may arrive just after the answer.
    const line = await eventually(() => lines.find((l) => l.msg === 'echoing'));
    assert.ok(line, 'the plugin line arrived');
    assert.equal(line.plugin, 'obs');
    assert.equal(line.version, '1.0.0');
    assert.equal(line.tier, tier);
    assert.match(String(line.instance), new RegExp(`^obs@1\\.0\\.0/${tier}/\\d+$`));
    assert.equal(line.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(line.spanId, 'b7ad6b7169203331');
    assert.equal(line.size, 5);
    // Lines the host writes about the instance carry the same binding.
    const about = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('loaded obs@1.0.0'));
    assert.equal(about?.instance, line.instance);
    assert.equal(about?.tier, tier);
  });
}

test('logLevels: a plugin at warn drops its info lines; other plugins keep the logger level', async (t) => {
  const { logger, lines } = recordingLogger();
  const host = createHost({
    logger,
    logLevels: { quiet: 'warn' },
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t, 'quiet'));
  await host.loadDirectory(await obsPlugin(t, 'chatty'));
  await host.call('quiet', 'echo', { text: 'a' });
  await host.call('chatty', 'echo', { text: 'b' });
  const echoes = lines.filter((l) => l.msg === 'echoing').map((l) => l.plugin);
  assert.deepEqual(echoes, ['chatty']);
});

test('logLevels with an unknown level is refused naming the option', () => {
  assert.throws(() => createHost({ logLevels: { x: 'loud' as 'info' } }), {
    code: 'PLUGBAY_INVALID_ARGUMENT',
    message: /options\.logLevels/,
  });
});

test('registry and tracing options are checked at once', () => {
  assert.throws(() => createHost({ registry: {} as never }), {
    code: 'PLUGBAY_INVALID_ARGUMENT',
    message: /options\.registry/,
  });
  assert.throws(() => createHost({ tracing: 'on' as 'auto' }), {
    code: 'PLUGBAY_INVALID_ARGUMENT',
    message: /options\.tracing/,
  });
});

/** The value once `find` returns one, checked after each short pause (bounded): lines cross a pipe. */
async function eventually<T>(find: () => T | undefined, timeoutMs = 5000): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined || Date.now() > until) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("wasm: a plugin's log_* lines carry plugin, version, tier, instance, traceId and spanId", async (t) => {
  buildFixtures();
  const p = wasmPlugin(fixture('as'), { name: 'obs-wasm', functions: { log: { input: {}, output: {} } } });
  t.after(() => p.cleanup());
  const { logger, lines } = recordingLogger();
  const host = createHost({ logger, tiers: { wasm: createWasmTier({ run: 'host-thread' }) } });
  t.after(() => host.close());
  await host.load(p.dir);
  await host.call('obs-wasm', 'log', {}, { traceparent });
  const line = await eventually(() => lines.find((l) => l.msg === 'hello from AssemblyScript'));
  assert.ok(line, 'the plugin line arrived');
  assert.deepEqual(
    [line.plugin, line.version, line.tier, line.traceId, line.spanId],
    ['obs-wasm', '1.0.0', 'wasm', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'],
  );
  assert.match(String(line.instance), /^obs-wasm@1\.0\.0\/wasm\/\d+$/);
});
