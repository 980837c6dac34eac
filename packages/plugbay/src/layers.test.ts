// The layering of docs/ARCHITECTURE.md, checked: a source file imports only its own layer and the layers below it.
// Test files and test helpers may reach anywhere; the SDK never imports the host.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Top to bottom, as the diagram draws them. */
const layers = [
  'docs',
  'cli',
  'testing',
  'scaffold',
  'gateway',
  'build',
  'host',
  'artifact',
  'tiers',
  'store',
  'trust',
  'contract',
  'observe',
  'core',
];

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const isTestCode = (path: string): boolean =>
  /\.test(\.shared)?\.ts$|test-support|test-helpers|test-fixtures/.test(path);

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !isTestCode(f))
    .map((f) => join(dir, f));
}

/** The relative import specifiers of a file (static `from '…'` and dynamic `import('…')`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
}

test('every import in packages/plugbay/src runs to the same layer or one below it', () => {
  const src = join(packagesDir, 'plugbay/src');
  const upward: string[] = [];
  for (const file of sources(src)) {
    const from = relative(src, file).split('/')[0]!;
    if (!layers.includes(from)) continue; // src/index.ts: the package's entry re-exports every layer
    for (const spec of importsOf(file)) {
      const to = relative(src, join(file, '..', spec)).split('/')[0]!;
      if (to === from || isTestCode(spec)) continue;
      if (!layers.includes(to)) upward.push(`${relative(src, file)} imports ${spec}: no layer "${to}"`);
      else if (layers.indexOf(to) < layers.indexOf(from))
        upward.push(`${relative(src, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('the SDK never imports the host package', () => {
  const sdk = join(packagesDir, 'sdk/src');
  const found = sources(sdk).flatMap((file) =>
    /from\s*'plugbay(\/[^']*)?'|import\(\s*'plugbay/.test(readFileSync(file, 'utf8'))
      ? [relative(sdk, file)]
      : [],
  );
  assert.deepEqual(found, []);
});
