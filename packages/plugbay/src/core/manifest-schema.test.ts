import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { manifestSchema } from './manifest-schema.js';

// schema/plugin.schema.json ships in the package for editors and other languages; it is generated from the
// TypeBox source (`npm run schema -w plugbay`) and must never drift from it.
test('the shipped plugin.schema.json equals the manifest schema the host validates with', async () => {
  const shipped = JSON.parse(
    await readFile(new URL('../../schema/plugin.schema.json', import.meta.url), 'utf8'),
  );
  const { $id: _id, $schema: _s, title: _t, ...rest } = shipped;
  assert.deepEqual(rest, JSON.parse(JSON.stringify(manifestSchema)));
});
