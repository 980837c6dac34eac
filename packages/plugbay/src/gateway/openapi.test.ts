// GET /v1/openapi.json (#18): an OpenAPI 3.1 document of every loaded function, valid per the OpenAPI 3.1 schema
// (checked by @seriousme/openapi-schema-validator, not by us), following loads and unloads.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import type { PluginHost } from '../host/types.js';
import { listExamples } from '../test-support/examples.js';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';
import { httpStatuses } from './errors.js';
import type { OpenApiDocument } from './openapi.js';
import { createGateway } from './server.js';

const quiet = pino({ level: 'silent' });

async function gatewayOver(t: TestContext, host: PluginHost) {
  const gateway = createGateway({ host, port: 0, logger: quiet });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  const get = async () => {
    const res = await fetch(`${url}/v1/openapi.json`);
    assert.equal(res.status, 200);
    return (await res.json()) as OpenApiDocument;
  };
  return { url, get };
}

async function assertValid(document: OpenApiDocument) {
  const validator = new Validator();
  const result = await validator.validate(document);
  assert.equal(validator.version, '3.1', 'validated as OpenAPI 3.1');
  assert.deepEqual(result.errors ?? [], [], 'valid per the OpenAPI 3.1 schema');
  assert.equal(result.valid, true);
}

test('the examples: one POST per function with its manifest schemas and every error status; valid OpenAPI 3.1', async (t) => {
  const examples = (await listExamples()).filter((e) => e.missingToolchain === undefined);
  const host = createHost({ logger: quiet });
  t.after(() => host.close());
  // Unsigned-key refusals or a missing toolchain leave an example out; the assertions below need the main ones.
  for (const example of examples) await host.load(example.dir).catch(() => undefined);
  const { get } = await gatewayOver(t, host);
  const document = await get();
  await assertValid(document);

  const loaded = new Set(host.versions().map((v) => v.plugin));
  assert.ok(loaded.has('greeter') && loaded.has('slugify'), `examples loaded: ${[...loaded]}`);
  const greet = document.paths['/v1/call/greeter/greet']?.post;
  assert.ok(greet, 'greeter.greet is documented');
  // Two greeter versions are loaded and no route is set: the newest release documents the plugin.
  assert.equal(greet['x-plugbay-version'], '1.1.0');
  const greeter = host.manifest('greeter', '1.1.0')!;
  const body = greet.requestBody as { content: Record<string, { schema: unknown }> };
  assert.deepEqual(body.content['application/json']?.schema, greeter.functions.greet!.input);
  const ok = (greet.responses as Record<string, { content: Record<string, { schema: unknown }> }>)['200']!;
  assert.deepEqual(ok.content['application/json']?.schema, greeter.functions.greet!.output);
  const statuses = Object.keys(greet.responses as object).filter((s) => s !== '200');
  assert.deepEqual(statuses.sort(), [...new Set(Object.values(httpStatuses).map(String))].sort());
  for (const example of examples) {
    if (!loaded.has(example.manifest.name)) continue;
    for (const fn of Object.keys(example.manifest.functions))
      assert.ok(document.paths[`/v1/call/${example.manifest.name}/${fn}`], `${example.dirName} ${fn}`);
  }
});

test('the document follows loads and unloads; a bytes function is documented with its content type', async (t) => {
  const root = await tempDir(t);
  const host = createHost({ logger: quiet, tierFor: () => 'inline' });
  t.after(() => host.close());
  const { get } = await gatewayOver(t, host);
  assert.deepEqual((await get()).paths, {});

  await writePlugin(root, 'echo', {
    manifest: manifest(),
    files: { 'index.mjs': pluginSource('echo', '1.0.0', { echo: '({ text }) => ({ text })' }) },
  });
  await host.load(`${root}/echo`);
  const after = await get();
  await assertValid(after);
  assert.deepEqual(Object.keys(after.paths), ['/v1/call/echo/echo']);

  await host.unload('echo', '1.0.0');
  assert.deepEqual((await get()).paths, {});

  const { openApiDocument } = await import('./openapi.js');
  const bytes = openApiDocument([
    {
      name: '@acme/reader',
      version: '1.0.0',
      runtime: 'wasm',
      entry: 'plugin.wasm',
      functions: {
        first_line: { input: {}, output: {}, codec: 'bytes', contentType: 'text/plain' },
      },
    },
  ]);
  await assertValid(bytes);

  // A schema with local refs keeps them resolvable: it becomes its own resource ($id), and the client generator
  // still names its parts.
  const withRefs = {
    type: 'object',
    properties: { item: { $ref: '#/definitions/item' } },
    required: ['item'],
    definitions: { item: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } },
  };
  const refs = openApiDocument([
    {
      name: 'shop',
      version: '1.0.0',
      runtime: 'node',
      entry: 'i.js',
      functions: { add: { input: withRefs, output: { type: 'boolean' } } },
    },
  ]);
  await assertValid(refs);
  const addBody = refs.paths['/v1/call/shop/add']!.post!.requestBody as {
    content: Record<string, { schema: Record<string, unknown> }>;
  };
  assert.equal(addBody.content['application/json']!.schema.$id, 'urn:plugbay:shop:1.0.0:add:input');
  const { generateClient } = await import('./client-gen.js');
  const source = await generateClient(refs);
  assert.match(source, /export interface ShopAddInput \{\s+item: ShopAddItem;/);
  assert.match(source, /export interface ShopAddItem \{\s+id: number;/);
  const op = bytes.paths['/v1/call/%40acme%2Freader/first_line']?.post;
  assert.ok(op);
  assert.equal(op['x-plugbay-codec'], 'bytes');
  const ok = (op.responses as Record<string, { content: Record<string, unknown> }>)['200']!;
  assert.deepEqual(Object.keys(ok.content), ['text/plain']);
});
