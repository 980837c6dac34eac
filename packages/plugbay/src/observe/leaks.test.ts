import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGateway } from '../gateway/server.js';
import { createHost } from '../host/host.js';
import { createInlineTier, createThreadTier } from '../tiers/index.js';
import { obsPlugin, recordingLogger } from './test-support.js';

const leaked = () => ((globalThis as { __leaked?: NodeJS.Timeout[] }).__leaked ??= []);

test('inline: an interval the plugin forgot is reported at close with its creation stack', async (t) => {
  t.after(() => {
    for (const timer of leaked().splice(0)) clearInterval(timer);
  });
  const { logger, lines } = recordingLogger();
  const host = createHost({ logger, tiers: { inline: createInlineTier() }, tierFor: () => 'inline' });
  t.after(() => host.close());
  const root = await obsPlugin(t);
  await host.loadDirectory(root);
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  assert.equal(await host.call('obs', 'leak', {}), 'ok');
  const { digest } = host.versions()[0]!;
  await host.unload('obs', '1.0.0');

  const [report, ...more] = host.leaks('obs');
  assert.equal(more.length, 0);
  assert.ok(report);
  assert.equal(report.version, '1.0.0');
  assert.deepEqual(
    report.leaks.map((l) => [l.kind, l.type]),
    [['interval', 'Timeout']],
  );
  // The stack points into the plugin's own file (the copy it runs from, under its digest), at the handler.
  assert.match(report.leaks[0]!.stack, new RegExp(`${digest}/index\\.mjs:\\d+`));
  const warning = lines.find((l) => Array.isArray(l.leaks));
  assert.equal(warning?.plugin, 'obs');
  assert.equal(warning?.tier, 'inline');
  assert.equal(warning?.level, 40);

  const res = await gateway.fastify.inject({ method: 'GET', url: '/v1/plugins/obs' });
  assert.equal(res.statusCode, 200);
  const body = res.json() as { leaks: { leaks: { kind: string; stack: string }[] }[] };
  assert.equal(body.leaks[0]?.leaks[0]?.kind, 'interval');
  assert.equal((await gateway.fastify.inject({ method: 'GET', url: '/v1/plugins/nope' })).statusCode, 404);
});

test('inline: a plugin that clears its timers in stop() leaves no report', async (t) => {
  const stop = `globalThis.__stopHook = () => { for (const timer of (globalThis.__leaked ?? []).splice(0)) clearInterval(timer); };`;
  const host = createHost({
    logger: recordingLogger().logger,
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t, 'tidy', '1.0.0', stop));
  await host.call('tidy', 'echo', { text: 'x' });
  (globalThis as { __stopHook?: () => void }).__stopHook?.();
  await host.unload('tidy', '1.0.0');
  assert.deepEqual(host.leaks('tidy'), []);
});

test('thread: no leak report (the worker is terminated with everything it created)', async (t) => {
  const host = createHost({ logger: recordingLogger().logger, tiers: { thread: createThreadTier() } });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t, 'worker'));
  assert.equal(await host.call('worker', 'leak', {}), 'ok');
  await host.unload('worker', '1.0.0');
  assert.deepEqual(host.leaks('worker'), []);
});
