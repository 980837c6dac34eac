// The CI failure this answers: a test's temp folder was removed (its after hook added first) while the `plugbay
// serve` it had started (its after hook added later) still wrote in it; the rm failed with ENOTEMPTY, node:test
// skipped the hooks after it, the child was never killed and its test file hung until the 300 s timeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanup } from './cleanup.js';

/** A stand-in test context: its after hooks are kept, to run when the test says. */
function context() {
  const hooks: (() => unknown)[] = [];
  return { after: (fn: () => unknown) => void hooks.push(fn), hooks };
}

test('cleanup steps run newest first, in one after hook of the test', async () => {
  const t = context();
  const order: string[] = [];
  cleanup(t, () => order.push('remove the folder'));
  cleanup(t, async () => {
    await Promise.resolve();
    order.push('stop the process writing in it');
  });
  assert.equal(t.hooks.length, 1);
  await t.hooks[0]!();
  assert.deepEqual(order, ['stop the process writing in it', 'remove the folder']);
});

test('a failing step fails the test but every other step still runs', async () => {
  const t = context();
  const ran: string[] = [];
  cleanup(t, () => ran.push('first'));
  cleanup(t, () => {
    throw new Error('ENOTEMPTY');
  });
  cleanup(t, () => ran.push('last'));
  await assert.rejects(async () => t.hooks[0]!(), /ENOTEMPTY/);
  assert.deepEqual(ran, ['last', 'first']);

  const twice = context();
  cleanup(twice, () => Promise.reject(new Error('one')));
  cleanup(twice, () => Promise.reject(new Error('two')));
  await assert.rejects(
    async () => twice.hooks[0]!(),
    (err: unknown) => {
      assert.ok(err instanceof AggregateError);
      assert.deepEqual(
        err.errors.map((e: Error) => e.message),
        ['two', 'one'],
      );
      return true;
    },
  );
});
