import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ErrorCode,
  errorCodes,
  isErrorCode,
  PlugbayError,
  toWireError,
  type WireError,
} from './errors.js';

describe('error registry', () => {
  it('every code is PLUGBAY_* with a boolean retryable and nothing about HTTP', () => {
    for (const [code, entry] of Object.entries(errorCodes)) {
      assert.match(code, /^PLUGBAY_[A-Z_]+$/);
      assert.deepEqual(Object.keys(entry), ['retryable'], code);
      assert.equal(typeof entry.retryable, 'boolean', code);
    }
  });

  it('isErrorCode knows the registry and nothing else (not even Object.prototype names)', () => {
    assert.equal(isErrorCode('PLUGBAY_TIMEOUT'), true);
    assert.equal(isErrorCode('PLUGBAY_NOPE'), false);
    assert.equal(isErrorCode('toString'), false);
    assert.equal(isErrorCode(undefined), false);
  });
});

describe('PlugbayError', () => {
  it('takes retryable from its code unless told otherwise, and keeps details, source and cause', () => {
    const cause = new Error('root');
    const err = new PlugbayError('PLUGBAY_TIMEOUT', 'slow', {
      cause,
      details: { ms: 5 },
      plugin: 'p',
      version: '1.0.0',
    });
    assert.equal(err.code, 'PLUGBAY_TIMEOUT');
    assert.equal(err.retryable, true);
    assert.equal(err.name, 'PlugbayError');
    assert.equal(err.cause, cause);
    assert.deepEqual(err.details, { ms: 5 });
    assert.deepEqual([err.plugin, err.version], ['p', '1.0.0']);
    assert.equal(new PlugbayError('PLUGBAY_TIMEOUT', 'x', { retryable: false }).retryable, false);
    assert.equal(new PlugbayError('PLUGBAY_INTERNAL', 'x').retryable, false);
    assert.equal('cause' in new PlugbayError('PLUGBAY_INTERNAL', 'x'), false);
  });

  it('instanceof holds for any object with the Symbol.for brand (another copy of the SDK), not for other errors', () => {
    const copy = Object.defineProperty(new Error('x'), Symbol.for('plugbay.error'), { value: true });
    assert.ok(copy instanceof PlugbayError);
    assert.ok(new PlugbayError('PLUGBAY_INTERNAL', 'x') instanceof PlugbayError);
    assert.ok(new PlugbayError('PLUGBAY_INTERNAL', 'x') instanceof Error);
    assert.equal(new Error('x') instanceof PlugbayError, false);
    const nothing: unknown = null;
    assert.equal(nothing instanceof PlugbayError, false);
  });

  it('from() passes PlugbayErrors through and wraps anything else with the given code', () => {
    const own = new PlugbayError('PLUGBAY_CLOSED', 'closed');
    assert.equal(PlugbayError.from(own, 'PLUGBAY_INTERNAL'), own);

    const thrown = new TypeError('bad');
    const wrapped = PlugbayError.from(thrown, 'PLUGBAY_START_FAILED', { plugin: 'p', version: '2.0.0' });
    assert.equal(wrapped.code, 'PLUGBAY_START_FAILED');
    assert.equal(wrapped.message, 'bad');
    assert.equal(wrapped.cause, thrown);
    assert.deepEqual([wrapped.plugin, wrapped.version], ['p', '2.0.0']);
    assert.match(wrapped.stack ?? '', /^PlugbayError: bad\n {4}at /);

    assert.equal(PlugbayError.from('text').code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(PlugbayError.from('text').message, 'non-error thrown: text');
    assert.equal(PlugbayError.from({ a: 1 }).message, 'non-error thrown: {"a":1}');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.equal(PlugbayError.from(circular).message, 'non-error thrown: [object Object]');
  });

  it('toJSON is the wire shape without the stack', () => {
    const err = new PlugbayError('PLUGBAY_INVALID_INPUT', 'no', { details: { field: 'name' }, plugin: 'p' });
    assert.deepEqual(JSON.parse(JSON.stringify(err)), {
      code: 'PLUGBAY_INVALID_INPUT',
      message: 'no',
      retryable: false,
      details: { field: 'name' },
      plugin: 'p',
    });
    assert.equal(typeof err.toWire().stack, 'string');
  });
});

describe('wire round trip', () => {
  it('fromWire(toWireError(err)) keeps code, message, details, retryable, source and stack', () => {
    const codes = Object.keys(errorCodes) as ErrorCode[];
    for (const code of codes) {
      const err = new PlugbayError(code, `m ${code}`, {
        details: { n: 1 },
        retryable: !errorCodes[code].retryable,
        plugin: 'p',
        version: '1.2.3',
      });
      const back = PlugbayError.fromWire(JSON.parse(JSON.stringify(toWireError(err))) as WireError);
      assert.deepEqual(
        [back.code, back.message, back.details, back.retryable, back.plugin, back.version, back.stack],
        [code, err.message, { n: 1 }, err.retryable, 'p', '1.2.3', err.stack],
        code,
      );
    }
  });

  it("toWireError keeps a plugin's own code, which fromWire turns into PLUGBAY_PLUGIN_ERROR with details.pluginCode", () => {
    const own = Object.assign(new Error('quota'), { code: 'E_QUOTA' });
    const wire = toWireError(own);
    assert.deepEqual([wire.code, wire.message, wire.retryable], ['E_QUOTA', 'quota', undefined]);
    const back = PlugbayError.fromWire({ ...wire, details: { left: 0 } }, { plugin: 'p', version: '1.0.0' });
    assert.equal(back.code, 'PLUGBAY_PLUGIN_ERROR');
    assert.deepEqual(back.details, { left: 0, pluginCode: 'E_QUOTA' });
    assert.equal(back.retryable, false);
    assert.deepEqual([back.plugin, back.version], ['p', '1.0.0']);

    // The source of the wire wins over the caller's guess.
    assert.equal(
      PlugbayError.fromWire({ code: 'X', message: 'm', plugin: 'q' }, { plugin: 'p' }).plugin,
      'q',
    );
  });

  it('toWireError: an Error without a code, or a non-error, is PLUGBAY_PLUGIN_ERROR', () => {
    assert.equal(toWireError(new Error('plain')).code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(toWireError(Object.assign(new Error('e'), { code: '' })).code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(toWireError(Object.assign(new Error('e'), { code: 7 })).code, 'PLUGBAY_PLUGIN_ERROR');
    assert.deepEqual(toWireError(42), { code: 'PLUGBAY_PLUGIN_ERROR', message: 'non-error thrown: 42' });
  });
});
