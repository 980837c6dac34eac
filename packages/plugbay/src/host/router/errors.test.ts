import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectionError } from './errors.js';
import { compileRoute, selectVersion } from './select.js';

describe('selectionError', () => {
  it('turns a failed selection into PLUGBAY_NO_INSTANCE with every skipped choice', () => {
    const route = compileRoute('greeter', { stable: '1.0.0', fallback: ['0.9.0'] });
    const s = selectVersion(route, [{ version: '1.0.0', available: false }], { key: 'k' });
    assert.ok(!s.ok);
    const err = selectionError('greeter', s);
    assert.equal(err.code, 'PLUGBAY_NO_INSTANCE');
    assert.equal(err.retryable, true);
    assert.equal(err.plugin, 'greeter');
    assert.deepEqual(err.details?.skipped, [
      { arm: 'stable', version: '1.0.0', why: 'unavailable' },
      { arm: 'fallback', version: '0.9.0', why: 'not-loaded' },
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(err)).details, err.details, 'details survive JSON');
  });

  it('turns an invalid pin into PLUGBAY_INVALID_ARGUMENT naming the field', () => {
    const s = selectVersion(compileRoute('greeter'), [], { version: 'nope!' });
    assert.ok(!s.ok);
    const err = selectionError('greeter', s, 'nope!');
    assert.equal(err.code, 'PLUGBAY_INVALID_ARGUMENT');
    assert.equal(err.details?.field, 'version');
  });
});
