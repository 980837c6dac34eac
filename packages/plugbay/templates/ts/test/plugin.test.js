// Runs with `npm test` (after `plugbay build`): the plugin in a real plugbay host, in the __TIER__ tier.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { conformance, formatReport, testPlugin } from 'plugbay/testing';

const dir = fileURLToPath(new URL('..', import.meta.url));

test('passes the plugbay conformance checks', async () => {
  const report = await conformance(dir, { tier: '__TIER__' });
  assert.ok(report.ok, formatReport(report));
});

test('greet says hello', async () => {
  const plugin = await testPlugin(dir, { tier: '__TIER__' });
  try {
    assert.deepEqual(await plugin.call('greet', { name: 'Grace' }), { message: 'Hello, Grace!' });
    await assert.rejects(plugin.call('greet', { name: '' }), { code: 'PLUGBAY_INVALID_INPUT' });
  } finally {
    await plugin.close();
  }
});
