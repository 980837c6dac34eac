// `plugbay serve` with a Go plugin that crashes on request (examples/go-plugins/faulty): a crash loop answers 502
// PLUGBAY_PLUGIN_CRASHED, heals after --crashloop-cooldown-ms, and the audit log has the load and both ends.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPlugbay, servePlugbay, waitForLog } from '../test-support/cli.js';
import { tempDir } from '../test-support/plugins.js';
import { faultyGoPlugin, goSkip } from '../tiers/process/test-helpers.js';

test('serve --crashloop-cooldown-ms: a crash-looped Go plugin answers 502 crashloop, then heals by itself; all audited', {
  skip: goSkip,
}, async (t) => {
  const root = await tempDir(t);
  fs.chmodSync(root, 0o755); // the sandboxed plugin's uid reads its folder
  const plugin = faultyGoPlugin(root, 'serve');
  const state = join(await tempDir(t), 'state.db');
  const { child, url } = await servePlugbay(
    t,
    root,
    ['--crashloop-cooldown-ms', '50', '--allow-unsigned', 'go-faulty'],
    state,
  );
  const call = (fn: 'Get' | 'Put', input: unknown) =>
    fetch(`${url}/v1/call/go-faulty/${fn}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
  const put = { key: 'k', value: Buffer.from('v').toString('base64') };
  const entered = waitForLog(child, (l) => l.state === 'crashloop');
  let left = false;
  const healed = waitForLog(child, (l) => {
    if (l.previous === 'crashloop') left = true;
    return left && l.previous === 'degraded' && l.state === 'ready';
  });
  // The default crashloopCount (5): each call crashes the process; the next one waits for its restart.
  for (let i = 0; i < 5; i++) {
    const res = await call('Get', { key: 'crash' });
    assert.equal(res.status, 502, await res.text());
  }
  await entered;
  const refused = await call('Put', put);
  if (refused.status !== 200) {
    // Unless the 50 ms retry came first (then the Put waited for it, or went to the healed process).
    const body = (await refused.json()) as { error: { code: string; details: { state: string } } };
    assert.deepEqual(
      [refused.status, body.error.code, body.error.details.state],
      [502, 'PLUGBAY_PLUGIN_CRASHED', 'crashloop'],
    );
    assert.ok(refused.headers.get('retry-after') !== null);
  }
  await healed; // by itself: nobody activated it
  assert.equal((await call('Put', put)).status, 200);
  const audit = (await (await fetch(`${url}/v1/audit?plugin=go-faulty`)).json()) as {
    entries: { action: string; actor: string; details?: Record<string, unknown> }[];
  };
  const actions = audit.entries
    .map((e) => [e.action, e.actor, e.details?.by ?? e.details?.retryInMs])
    .reverse();
  assert.deepEqual(actions, [
    ['load', 'watcher', undefined],
    ['crashloop', 'host', 50],
    ['crashloop-exit', 'host', 'retry'],
  ]);
  assert.equal(audit.entries.at(-1)?.details?.dir, plugin.dir);
});

test('serve --crashloop-cooldown-ms takes a positive integer', async (t) => {
  const root = await tempDir(t);
  for (const value of ['0', '1.5', 'soon']) {
    const res = await runPlugbay(['serve', root, '--crashloop-cooldown-ms', value]);
    assert.equal(res.code, 2, value);
    assert.match(res.stderr, /--crashloop-cooldown-ms must be a positive integer/);
  }
});
