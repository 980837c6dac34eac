import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffSchemas } from './diff.js';
import { diffSide, diffSnapshots } from './gate.js';
import type { ContractSnapshot, JsonSchema } from './snapshot.js';

const snapshot = (input: JsonSchema, output: JsonSchema = { type: 'string' }): ContractSnapshot => ({
  name: 'p',
  version: '1.0.0',
  functions: { f: { input, output } },
});

test('a change the rules cannot judge is breaking once a witness is found, and the message shows the value', () => {
  const before = { anyOf: [{ type: 'string' }, { type: 'integer' }] };
  const after = { anyOf: [{ type: 'string', maxLength: 2 }, { type: 'number' }] };
  assert.deepEqual(
    diffSchemas(before, after, 'input', 'f').map((c) => c.verdict),
    ['unknown'],
    'the rules alone cannot tell what a rewritten anyOf does',
  );
  const changes = diffSide(before, after, 'input', 'f');
  const found = changes.find((c) => c.rule === 'input.value.refused');
  assert.equal(found?.verdict, 'breaking');
  assert.match(
    found?.message ?? '',
    /witness: "[^"]{3,}.*the new refuses: maxLength/,
    'a string over the new maxLength',
  );
  assert.equal(diffSnapshots(snapshot(before), snapshot(after)).breaking, true);
});

test('no witness for a widened input or a narrowed output: the verdict stays compatible', () => {
  const narrow = { type: 'string', maxLength: 5 };
  const wide = { type: 'string', maxLength: 50 };
  const result = diffSnapshots(snapshot(narrow, wide), snapshot(wide, narrow));
  assert.equal(result.breaking, false);
  assert.deepEqual(
    result.changes.filter((c) => c.rule.endsWith('value.refused')),
    [],
  );
});
