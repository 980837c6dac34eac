import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

// A scaffolded Go project must be self-contained, so the template ships its own copy of the protocol; it must
// never drift from the one the host speaks.
test('the Go template ships the same plugin.proto as the host', async () => {
  const read = (path: string) => readFile(new URL(`../../../../${path}`, import.meta.url), 'utf8');
  assert.equal(
    await read('packages/plugbay/templates/go/proto/plugbay/v1/plugin.proto'),
    await read('proto/plugbay/v1/plugin.proto'),
  );
});
