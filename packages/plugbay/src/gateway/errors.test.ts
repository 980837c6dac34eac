import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ErrorCode, errorCodes, PlugbayError } from '../core/errors.js';
import { httpErrorOf, httpStatuses } from './errors.js';

const codes = Object.keys(errorCodes) as ErrorCode[];

test('httpStatuses has one error status for every code of the registry, and no other code', () => {
  assert.deepEqual(Object.keys(httpStatuses).sort(), [...codes].sort());
  for (const code of codes) {
    const status = httpStatuses[code];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
  }
});

test('httpErrorOf answers every code with its status from httpStatuses and the code in the body', () => {
  for (const code of codes) {
    const mapped = httpErrorOf(new PlugbayError(code, 'x', { plugin: 'p', version: '1.0.0' }));
    assert.equal(mapped.status, httpStatuses[code], code);
    assert.deepEqual(mapped.body, { error: { code, message: 'x', plugin: 'p', version: '1.0.0' } }, code);
    assert.equal(mapped.internal, code === 'PLUGBAY_INTERNAL', code);
  }
});

test('fastify 4xx errors are PLUGBAY_INVALID_INPUT with fastify status; anything else is 500 PLUGBAY_INTERNAL', () => {
  const tooLarge = Object.assign(new Error('too large'), {
    statusCode: 413,
    code: 'FST_ERR_CTP_BODY_TOO_LARGE',
  });
  const mapped = httpErrorOf(tooLarge, 'echo');
  assert.equal(mapped.status, 413);
  assert.equal(mapped.body.error.code, 'PLUGBAY_INVALID_INPUT');
  assert.deepEqual(mapped.body.error.details, { httpCode: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  assert.equal(mapped.internal, false);

  const broken = httpErrorOf(new TypeError('oops'));
  assert.equal(broken.status, httpStatuses.PLUGBAY_INTERNAL);
  assert.equal(broken.body.error.code, 'PLUGBAY_INTERNAL');
  assert.equal(broken.internal, true);
});
