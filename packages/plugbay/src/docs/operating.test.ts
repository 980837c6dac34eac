// docs/operating-the-gateway.md: its generated references match the code, and the code gives them everything.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { flagSynopsis, type ServeFlag, serveEnv, serveFlags } from '../cli/commands/serve-options.js';
import { apiGroups, type DocumentedSchema, errorSchemaId } from '../gateway/schemas.js';
import { repoRoot, runPlugbay } from '../test-support/cli.js';
import {
  gatewayFacts,
  generatedSections,
  operatingDoc,
  regenerate,
  sectionNames,
  sectionOf,
} from './operating.js';

test(`${operatingDoc}: the generated references are up to date`, async () => {
  const page = await readFile(join(repoRoot, operatingDoc), 'utf8');
  const sections = await generatedSections();
  for (const name of sectionNames) {
    const now = sectionOf(page, name);
    assert.ok(now !== undefined, `${operatingDoc} lost the markers of its "${name}" section`);
    assert.ok(
      now === sections[name],
      `${operatingDoc}: the ${name} reference is stale; run \`${regenerate}\` and commit the result`,
    );
  }
});

test('every gateway route has a summary, a description, a group, its parameters and its answers', async () => {
  const { routes } = await gatewayFacts();
  const documented = routes.filter((r) => r.method !== 'HEAD');
  assert.ok(documented.length >= 15, `only ${documented.length} routes seen: the onRoute collection broke`);
  for (const route of routes) {
    const at = `${route.method} ${route.url}`;
    const schema = route.schema as (DocumentedSchema & Record<string, unknown>) | undefined;
    assert.ok(schema !== undefined, `${at} has no schema`);
    assert.ok(typeof schema.summary === 'string' && schema.summary !== '', `${at} has no summary`);
    assert.ok(
      typeof schema.description === 'string' && schema.description !== '',
      `${at} has no description`,
    );
    assert.ok(apiGroups.includes(schema.tags?.[0]), `${at} has no known tag (${apiGroups.join(', ')})`);
    const params = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const declared = Object.keys((schema.params as { properties?: object } | undefined)?.properties ?? {});
    assert.deepEqual(declared.sort(), params.sort(), `${at}: params schema must list exactly ${params}`);
    const responses = (schema.response ?? {}) as Record<string, Record<string, unknown>>;
    assert.ok(
      Object.keys(responses).some((s) => s.startsWith('2')),
      `${at} documents no successful answer`,
    );
    for (const [status, answer] of Object.entries(responses)) {
      if (Number(status) >= 400 && !(route.url === '/readyz' && status === '503')) {
        assert.equal(answer.$ref, `${errorSchemaId}#`, `${at} ${status}: errors use the one error schema`);
        assert.ok(typeof answer.description === 'string', `${at} ${status}: say which codes`);
      }
    }
  }
});

test(`every plugbay serve option is parsed, in --help and in ${operatingDoc}`, async () => {
  const page = await readFile(join(repoRoot, operatingDoc), 'utf8');
  const help = await runPlugbay(['serve', '--help']);
  assert.equal(help.code, 0);
  for (const [name, flag] of Object.entries(serveFlags) as [string, ServeFlag][]) {
    assert.ok(help.stdout.includes(`--${name}`), `--${name} is missing from plugbay serve --help`);
    assert.ok(page.includes(`\`${flagSynopsis(name, flag)}\``), `--${name} is missing from ${operatingDoc}`);
  }
  for (const variable of serveEnv) assert.ok(page.includes(`\`${variable.name}\``), variable.name);
  // The table is what parseArgs knows: an option outside it is a usage error.
  const unknown = await runPlugbay(['serve', '--no-such-option']);
  assert.equal(unknown.code, 2);
});
