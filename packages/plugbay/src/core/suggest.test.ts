import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean, editDistance } from './suggest.js';

test('editDistance counts insertions, deletions and substitutions', () => {
  assert.equal(editDistance('', ''), 0);
  assert.equal(editDistance('runtim', 'runtime'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('abc', ''), 3);
});

test('closest: a near word or a unique prefix, nothing for a stranger', () => {
  const fields = ['name', 'version', 'runtime', 'entry', 'functions'];
  assert.equal(closest('runtim', fields), 'runtime');
  assert.equal(closest('verison', fields), 'version');
  assert.equal(closest('funct', fields), 'functions');
  assert.equal(closest('colour', fields), undefined);
  assert.equal(closest('x', fields), undefined);
  assert.equal(didYouMean('--prot', ['--port', '--host']), ' (did you mean "--port"?)');
  assert.equal(didYouMean('--zzzzzz', ['--port']), '');
});
