import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import type { TierKind } from '../core/types.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost } from './types.js';

const num = { type: 'number' };
const any = {};
const calcManifest = (version = '1.0.0', extra: Record<string, unknown> = {}) =>
  manifest({
    name: 'calc',
    version,
    functions: {
      add: {
        input: {
          type: 'object',
          properties: { a: num, b: num },
          required: ['a', 'b'],
          additionalProperties: false,
        },
        output: num,
      },
      badOutput: { input: any, output: num },
      gate: { input: any, output: any },
      hang: { input: any, output: any, timeoutMs: 50 },
      spin: { input: any, output: any, timeoutMs: 100 },
      throws: { input: any, output: any },
      rejects: { input: any, output: any },
      throwsInTimer: { input: any, output: any },
      whoami: { input: any, output: any },
      config: { input: any, output: any },
    },
    ...extra,
  });

const calcSource = (version = '1.0.0') => `
export default {
  name: 'calc',
  version: '${version}',
  functions: {
    add: { input: {}, output: {}, handler: ({ a, b }) => a + b },
    badOutput: { input: {}, output: {}, handler: () => 'not a number' },
    // Resolves when the test opens the gate (inline tier: same realm as the test).
    gate: { input: {}, output: {}, handler: () => new Promise((resolve) => { (globalThis.__gates ??= []).push(resolve); }) },
    hang: { input: {}, output: {}, handler: () => new Promise(() => {}) },
    spin: { input: {}, output: {}, handler: () => { for (;;) {} } },
    throws: { input: {}, output: {}, handler: () => { throw new Error('boom'); } },
    rejects: { input: {}, output: {}, handler: async () => { await null; throw new Error('rejected'); } },
    throwsInTimer: { input: {}, output: {}, handler: () => { setTimeout(() => { throw new Error('timer boom'); }, 0); return 'scheduled'; } },
    whoami: { input: {}, output: {}, handler: () => '${version}' },
    config: { input: {}, output: {}, handler: (_i, ctx) => ctx.config },
  },
};
`;

async function calcDir(
  t: Parameters<typeof tempDir>[0],
  version = '1.0.0',
  extra: Record<string, unknown> = {},
) {
  const root = await tempDir(t);
  return writePlugin(root, `calc@${version}`, {
    manifest: calcManifest(version, extra),
    files: { 'index.mjs': calcSource(version) },
  });
}

const quiet = pino({ level: 'silent' });

function host(t: Parameters<typeof tempDir>[0], tier: TierKind, options: HostOptions = {}): PluginHost {
  const h = createHost({
    logger: quiet,
    tiers: {
      inline: createInlineTier(),
      thread: createThreadTier({ unresponsiveMs: 200, restart: { initialDelayMs: 1 } }),
    },
    tierFor: () => tier,
    ...options,
  });
  t.after(() => h.close());
  return h;
}

const gates = () => ((globalThis as { __gates?: ((v: unknown) => void)[] }).__gates ??= []);

for (const tier of ['inline', 'thread'] as const) {
  test(`${tier}: a call returns the plugin's answer, with the version that served it`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    assert.equal(await h.call('calc', 'add', { a: 2, b: 3 }), 5);
    assert.deepEqual(await h.callDetailed('calc', 'add', { a: 1, b: 1 }), {
      output: 2,
      plugin: 'calc',
      version: '1.0.0',
      arm: 'stable',
      routeRevision: 0,
    });
  });

  test(`${tier}: input failing its schema is refused before the plugin runs, with pointer and rule`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    await assert.rejects(h.call('calc', 'add', { a: 'two', b: 3 }), (e: PlugbayError) => {
      assert.equal(e.code, 'PLUGBAY_INVALID_INPUT');
      assert.equal(e.plugin, 'calc');
      assert.deepEqual(e.details?.violations, [{ pointer: '/a', rule: 'type', message: 'must be number' }]);
      return true;
    });
    await assert.rejects(h.call('calc', 'add', { a: 1 }), { code: 'PLUGBAY_INVALID_INPUT' });
    await assert.rejects(h.call('calc', 'add', { a: 1, b: 2, c: 3 }), { code: 'PLUGBAY_INVALID_INPUT' });
  });

  test(`${tier}: output failing its schema is PLUGBAY_INVALID_OUTPUT`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    await assert.rejects(h.call('calc', 'badOutput', {}), {
      code: 'PLUGBAY_INVALID_OUTPUT',
      version: '1.0.0',
    });
  });

  test(`${tier}: throw and reject become PLUGBAY_PLUGIN_ERROR and the plugin keeps serving`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    await assert.rejects(h.call('calc', 'throws', {}), {
      code: 'PLUGBAY_PLUGIN_ERROR',
      plugin: 'calc',
      message: 'boom',
    });
    await assert.rejects(h.call('calc', 'rejects', {}), {
      code: 'PLUGBAY_PLUGIN_ERROR',
      message: 'rejected',
    });
    assert.equal(await h.call('calc', 'add', { a: 1, b: 1 }), 2);
  });

  test(`${tier}: a call past its deadline fails with PLUGBAY_TIMEOUT and the host still serves`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    await assert.rejects(h.call('calc', 'hang', {}), {
      code: 'PLUGBAY_TIMEOUT',
      retryable: true,
      plugin: 'calc',
    });
    await assert.rejects(
      h.call('calc', 'hang', {}, { timeoutMs: 10 }),
      (e: PlugbayError) => e.code === 'PLUGBAY_TIMEOUT' && e.details?.timeoutMs === 10,
    );
    assert.equal(await h.call('calc', 'add', { a: 1, b: 2 }), 3);
  });

  test(`${tier}: the caller's AbortSignal cancels the call`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    const ac = new AbortController();
    const call = h.call('calc', 'hang', {}, { signal: ac.signal, timeoutMs: 60_000 });
    ac.abort();
    await assert.rejects(call, { code: 'PLUGBAY_CANCELLED' });
    await assert.rejects(h.call('calc', 'add', { a: 1, b: 2 }, { signal: AbortSignal.abort() }), {
      code: 'PLUGBAY_CANCELLED',
    });
  });

  test(`${tier}: unknown plugin, function and version are distinct errors`, async (t) => {
    const h = host(t, tier);
    await h.load(await calcDir(t));
    await assert.rejects(h.call('nope', 'add', {}), { code: 'PLUGBAY_UNKNOWN_PLUGIN' });
    await assert.rejects(h.call('calc', 'nope', {}), { code: 'PLUGBAY_UNKNOWN_FUNCTION', version: '1.0.0' });
    await assert.rejects(h.call('calc', 'add', { a: 1, b: 1 }, { version: '2.0.0' }), {
      code: 'PLUGBAY_NO_INSTANCE',
    });
  });

  test(`${tier}: config is validated against the manifest's config schema and passed to the plugin`, async (t) => {
    const schema = { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'] };
    const ok = host(t, tier, { config: { calc: { greeting: 'hi' } } });
    await ok.load(await calcDir(t, '1.0.0', { config: schema }));
    assert.deepEqual(await ok.call('calc', 'config', {}), { greeting: 'hi' });
    const bad = host(t, tier, { config: { calc: { greeting: 7 } } });
    await assert.rejects(bad.load(await calcDir(t, '1.0.0', { config: schema })), {
      code: 'PLUGBAY_START_FAILED',
    });
    assert.equal(bad.versions().length, 0);
  });
}

// The inline tier's attribution of errors thrown in plugin timers is tested in its own process
// (tiers/inline/attribution.test.ts): node:test's own uncaughtException listener would fail any test here.

test('thread: a throw inside the plugin timer kills only its worker; it restarts and serves', async (t) => {
  const h = host(t, 'thread');
  await h.load(await calcDir(t));
  assert.equal(await h.call('calc', 'throwsInTimer', {}), 'scheduled');
  assert.equal(await h.call('calc', 'add', { a: 2, b: 2 }), 4);
});

test('thread: a busy loop is cut off by its own deadline, the worker is replaced, and the next call succeeds', async (t) => {
  const h = host(t, 'thread');
  await h.load(await calcDir(t));
  // The function's own budget (manifest timeoutMs 100): a caller's shorter deadline would not be a reason to kill.
  await assert.rejects(h.call('calc', 'spin', {}), { code: 'PLUGBAY_TIMEOUT' });
  assert.equal(await h.call('calc', 'add', { a: 20, b: 22 }), 42);
});

test('close() waits for in-flight calls, then refuses new ones', async (t) => {
  const h = host(t, 'inline');
  await h.load(await calcDir(t));
  const before = gates().length;
  const inflight = h.call('calc', 'gate', {});
  await waitFor(() => gates().length > before);
  const closing = h.close();
  let closed = false;
  void closing.then(() => {
    closed = true;
  });
  await assert.rejects(h.call('calc', 'add', { a: 1, b: 1 }), { code: 'PLUGBAY_CLOSED' });
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false, 'close() must wait for the in-flight call');
  gates().at(-1)?.('done');
  assert.equal(await inflight, 'done');
  await closing;
  assert.equal(h.versions().length, 0);
  await h.close(); // idempotent
});

test('two versions side by side: the newest stable answers, a pinned version or range is honoured', async (t) => {
  const h = host(t, 'inline');
  await h.load(await calcDir(t, '1.0.0'));
  await h.load(await calcDir(t, '1.1.0'));
  await h.load(await calcDir(t, '2.0.0-beta.1'));
  assert.equal(await h.call('calc', 'whoami', {}), '1.1.0');
  assert.equal(await h.call('calc', 'whoami', {}, { version: '1.0.0' }), '1.0.0');
  assert.equal(await h.call('calc', 'whoami', {}, { version: '~1.0.0' }), '1.0.0');
  assert.equal(await h.call('calc', 'whoami', {}, { version: '2.0.0-beta.1' }), '2.0.0-beta.1');
  await h.unload('calc', '1.1.0');
  assert.equal(await h.call('calc', 'whoami', {}), '1.0.0');
});

test('loading the same name and version twice is PLUGBAY_DUPLICATE_PLUGIN, never an override', async (t) => {
  const h = host(t, 'inline');
  await h.load(await calcDir(t));
  await assert.rejects(h.load(await calcDir(t)), { code: 'PLUGBAY_DUPLICATE_PLUGIN' });
  assert.equal(h.versions().length, 1);
});

test('loadDirectory loads the good plugins and reports the broken ones', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'calc@1.0.0', { manifest: calcManifest(), files: { 'index.mjs': calcSource() } });
  await writePlugin(root, 'broken', { manifest: '{ nope' });
  await writePlugin(root, 'lies', {
    manifest: manifest({ name: 'lies', functions: { missing: { input: {}, output: {} } } }),
    files: { 'index.mjs': 'export default { name: "lies", version: "1.0.0", functions: {} };' },
  });
  await writePlugin(root, 'throws-at-import', {
    manifest: manifest({ name: 'throws-at-import' }),
    files: { 'index.mjs': 'throw new Error("import boom");' },
  });
  const h = host(t, 'thread');
  const report = await h.loadDirectory(root);
  assert.deepEqual(
    report.loaded.map((v) => `${v.plugin}@${v.version}`),
    ['calc@1.0.0'],
  );
  const codes = Object.fromEntries(
    report.diagnostics.map((d) => [d.plugin ?? d.dir.split('/').at(-1), d.code]),
  );
  assert.deepEqual(codes, {
    broken: 'PLUGBAY_MANIFEST_INVALID',
    lies: 'PLUGBAY_LOAD_FAILED',
    'throws-at-import': 'PLUGBAY_LOAD_FAILED',
  });
  assert.equal(h.diagnostics().length, 3);
  assert.equal(await h.call('calc', 'add', { a: 1, b: 1 }), 2);
});

test('a start() that overruns the start timeout fails the load and leaves nothing behind', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'slow', {
    manifest: manifest({ name: 'slow' }),
    files: {
      'index.mjs': `export default { name: 'slow', version: '1.0.0', start: () => new Promise(() => {}),
        functions: { echo: { input: {}, output: {}, handler: (i) => i } } };`,
    },
  });
  const h = host(t, 'thread', { startTimeoutMs: 200 });
  await assert.rejects(h.load(dir), { code: 'PLUGBAY_START_FAILED' });
  assert.deepEqual(h.versions(), []);
});

test('a typed client calls through the host', async (t) => {
  const h = host(t, 'inline');
  await h.load(await calcDir(t));
  const calc = h.client('calc');
  assert.equal(await calc.add?.({ a: 4, b: 5 }), 9);
  await assert.rejects(async () => calc.add?.({ a: 'x' }), { code: 'PLUGBAY_INVALID_INPUT' });
});

test('options are checked at once and name the option', () => {
  assert.throws(
    () => createHost({ logger: quiet, callTimeoutMs: -1 }),
    (e: PlugbayError) => {
      assert.equal(e.code, 'PLUGBAY_INVALID_ARGUMENT');
      assert.match(String((e.details as { problems: string[] }).problems[0]), /^options\.callTimeoutMs /);
      return true;
    },
  );
});

test('await using closes the host', async (t) => {
  const dir = await calcDir(t);
  let h: PluginHost;
  {
    await using scoped = createHost({ logger: quiet, tiers: { thread: createThreadTier() } });
    h = scoped;
    await scoped.load(dir);
    assert.equal(scoped.versions()[0]?.state, 'ready');
  }
  await assert.rejects(h.call('calc', 'add', { a: 1, b: 1 }), { code: 'PLUGBAY_CLOSED' });
});

/**
 * Waits for a state the host reaches on its own (an instance failing after a plugin timer threw): checked after
 * each short pause, bounded.
 */
async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await delay(5);
  }
}
