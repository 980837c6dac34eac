// Bounded shutdown over real sockets: close() gives requests in flight `shutdownTimeoutMs`, then closes every
// connection still open, including one whose body is still arriving.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slowBody } from '../test-support/slow-body.js';
import { start } from './rollout.test.shared.js';

test('close(): connections still sending a body are closed once shutdownTimeoutMs has passed', async (t) => {
  const graceMs = 400;
  const { port, gateway } = await start(t, { shutdownTimeoutMs: graceMs });
  const slow = Array.from({ length: 5 }, () => slowBody(port, '/v1/call/svc/who'));
  t.after(() => {
    for (const s of slow) s.socket.destroy();
  });
  await Promise.all(slow.map((s) => s.started));

  const began = performance.now();
  await gateway.close();
  const took = performance.now() - began;
  await Promise.all(slow.map((s) => s.closed));
  assert.ok(took >= graceMs - 5, `close() waited for the grace (${took} ms)`);
  assert.ok(took < graceMs + 2000, `close() took ${took} ms with a ${graceMs} ms grace`);
});
