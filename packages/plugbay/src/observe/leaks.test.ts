import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { createGateway } from '../gateway/server.js';
import { createHost } from '../host/host.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier } from '../tiers/index.js';
import { obsPlugin, recordingLogger } from './test-support.js';

const leaked = () => ((globalThis as { __leaked?: NodeJS.Timeout[] }).__leaked ??= []);

test('inline: an interval the plugin forgot is reported at close with its creation stack', async (t) => {
  t.after(() => {
    for (const timer of leaked().splice(0)) clearInterval(timer);
  });
  const { logger, lines } = recordingLogger();
  const host = createHost({
    logger,
    tiers: { inline: createInlineTier({ attribution: 'async-context' }) },
    tierFor: () => 'inline',
  });
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

test('inline: a plugin that clears its interval in stop() leaves no report; the same plugin without that stop() does', async (t) => {
  t.after(() => {
    for (const timer of leaked().splice(0)) clearInterval(timer);
  });
  const host = createHost({
    logger: recordingLogger().logger,
    tiers: { inline: createInlineTier({ attribution: 'async-context' }) },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  await host.loadDirectory(await timerPlugin(t, 'tidy', true));
  await host.loadDirectory(await timerPlugin(t, 'untidy', false));
  assert.equal(await host.call('tidy', 'tick', {}), 'ok');
  assert.equal(await host.call('untidy', 'tick', {}), 'ok');
  await host.unload('tidy', '1.0.0');
  await host.unload('untidy', '1.0.0');
  assert.deepEqual(host.leaks('tidy'), []);
  assert.deepEqual(
    host.leaks('untidy').flatMap((r) => r.leaks.map((l) => l.kind)),
    ['interval'],
  );
});

// The thread, process and wasm tiers make no leak report (Instance.leaks stays undefined): their worker, process or
// wasm instance ends with everything it created, so there is nothing to test here for them.

/** A plugin whose `tick` starts an interval; its stop() clears it when `tidy`, and it is forgotten otherwise. */
async function timerPlugin(t: TestContext, name: string, tidy: boolean): Promise<string> {
  const root = await tempDir(t);
  await writePlugin(root, name, {
    manifest: {
      name,
      version: '1.0.0',
      runtime: 'node',
      entry: 'index.mjs',
      functions: { tick: { input: {}, output: {} } },
    },
    files: {
      'index.mjs': `let timer;
export default {
  name: ${JSON.stringify(name)},
  version: '1.0.0',
  ${tidy ? 'stop() { clearInterval(timer); },' : ''}
  functions: {
    tick: { input: {}, output: {}, handler: () => { timer = setInterval(() => {}, 60_000); (globalThis.__leaked ??= []).push(timer); return 'ok'; } },
  },
};
`,
    },
  });
  return root;
}
