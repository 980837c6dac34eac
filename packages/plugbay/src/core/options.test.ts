import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlugbayError } from './errors.js';
import { OptionChecker } from './options.js';

test('OptionChecker reports every broken option at once, each named in details.options', () => {
  const check = new OptionChecker('demo');
  check.positiveInteger('a', 0);
  check.integer('b', 70_000, 0, 65_535);
  check.boolean('c', 'yes');
  check.oneOf('d', 'x', ['y', 'z']);
  check.object('e', null);
  check.restart('f', { initialDelayMs: -1 });
  check.parsed('g', () => {
    throw new Error('bad g');
  });
  check.positiveInteger('fine', 3);
  check.boolean('unset', undefined);
  assert.throws(
    () => check.done(),
    (e: PlugbayError) => {
      assert.equal(e.code, 'PLUGBAY_INVALID_ARGUMENT');
      assert.deepEqual(e.details?.options, ['a', 'b', 'c', 'd', 'e', 'f.initialDelayMs', 'g']);
      assert.equal(e.details?.option, 'a');
      assert.match(
        e.message,
        /^demo: options\.a must be a positive integer, got 0; options\.b must be an integer from 0/,
      );
      assert.match(e.message, /options\.g: bad g$/);
      return true;
    },
  );
});

test('OptionChecker.done() with nothing broken does not throw', () => {
  const check = new OptionChecker('demo');
  check.integer('port', 0, 0, 65_535);
  check.nonEmptyString('name', 'x');
  check.done();
});
