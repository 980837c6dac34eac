// docs/manifest.md: its generated reference is fresh, covers every field of the shipped schema with a
// description and an example, and the complete manifest shown for each runtime is valid.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateManifest } from '../core/manifest.js';
import { repoRoot } from '../test-support/cli.js';
import {
  manifestDoc,
  manifestFields,
  manifestReference,
  runtimeExamples,
  withManifestSection,
} from './manifest-reference.js';

test(`${manifestDoc}: the generated reference is up to date`, async () => {
  const page = await readFile(join(repoRoot, manifestDoc), 'utf8');
  assert.ok(
    withManifestSection(page, manifestReference()) === page,
    `${manifestDoc} is stale: run \`npm run docs\` and commit the result`,
  );
});

test('every field of plugin.schema.json has a row with a description and an example', async () => {
  const shipped = JSON.parse(
    await readFile(join(repoRoot, 'packages/plugbay/schema/plugin.schema.json'), 'utf8'),
  ) as Record<string, unknown>;
  // The paths of the shipped file, walked independently of the generator.
  const paths: string[] = [];
  const walk = (schema: Record<string, unknown>, prefix: string) => {
    for (const [key, child] of Object.entries(
      (schema.properties ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      paths.push(path);
      walk(child, path);
      const items = child.items as Record<string, unknown> | undefined;
      if (items?.type === 'object') walk(items, `${path}[]`);
    }
    if (prefix === '') return;
    for (const child of Object.values(
      (schema.patternProperties ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      paths.push(`${prefix}.<name>`);
      walk(child, `${prefix}.<name>`);
    }
  };
  walk(shipped, '');
  const fields = manifestFields();
  assert.deepEqual(fields.map((f) => f.path).sort(), [...new Set(paths)].sort());
  for (const f of fields) {
    assert.ok(f.description !== '', `${f.path} has no description`);
    assert.ok(f.example !== undefined, `${f.path} has no example in the schema`);
  }
  assert.equal(fields.find((f) => f.path === 'permissions.fs.mounts')?.runtimes, 'wasm');
  assert.equal(fields.find((f) => f.path === 'functions.<name>.codec')?.runtimes, 'wasm, exec');
});

test('the manifest shown for each runtime is valid, and shows what that runtime has of its own', () => {
  for (const [runtime, { manifest }] of Object.entries(runtimeExamples)) {
    const checked = validateManifest(manifest);
    assert.deepEqual(checked.problems, [], runtime);
    assert.equal((manifest as { runtime: string }).runtime, runtime);
  }
  assert.ok(JSON.stringify(runtimeExamples.wasm.manifest).includes('"mounts"'));
  assert.ok(JSON.stringify(runtimeExamples.exec.manifest).includes('"handshake"'));
});
