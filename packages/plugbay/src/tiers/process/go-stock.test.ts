// A plain go-plugin plugin described by its .proto alone (examples/go-plugins/stock: no `functions` in its
// manifest), built by scripts/build-go-plugins.sh. The five bad inputs, once through the tier with no
// schema at all (the strict converter is the only guard) and once through the host and the gateway (the derived
// schemas answer first): each is refused naming the field, and the plugin's stock is unchanged.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { pino } from 'pino';
import { PlugbayError } from '../../core/errors.js';
import { validateManifest } from '../../core/manifest.js';
import type { CheckedPlugin } from '../../core/types.js';
import { createGateway } from '../../gateway/server.js';
import { createHost } from '../../host/host.js';
import { createProcessTier } from '../index.js';
import { messageArb } from './proto-json.test.shared.js';
import { readService } from './proto-service.js';
import { call, logSink, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

const stockDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../../examples/go-plugins/stock',
);
const built = fs.existsSync(path.join(stockDir, 'bin/stock'));
const skip = built || process.env.CI ? false : 'Go plugins not built (run scripts/build-go-plugins.sh)';

/** The manifest as written (no functions): what the tier sees when nothing derived schemas for it. */
function bareStock(extra: Record<string, unknown> = {}): CheckedPlugin {
  const raw = { ...JSON.parse(fs.readFileSync(path.join(stockDir, 'plugin.json'), 'utf8')), ...extra };
  const result = validateManifest(raw);
  if (!('manifest' in result)) throw new Error(`bad manifest ${JSON.stringify(result.problems)}`);
  assert.deepEqual(result.manifest.functions, {}, 'no schema guards these calls');
  return {
    id: 'go-stock@1.0.0',
    dir: stockDir,
    manifest: result.manifest,
    entryPath: path.join(stockDir, result.manifest.entry),
    permissions: {},
    warnings: [],
  };
}

/** The five inputs, each with the field it must be refused at. */
const badInputs: [input: Record<string, unknown>, field: string][] = [
  [{ sku: 'apple', qty: 3000000000 }, 'qty'], // overflows int32 (grpc-js wrapped it to -1294967296)
  [{ sku: 'apple', qty: 'abc' }, 'qty'], // not a number (became 0)
  [{ sku: 'apple', qty: 1.5 }, 'qty'], // not an integer (became 1)
  [{ sku: 42, qty: 1 }, 'sku'], // a number for a string (became "42")
  [{ sku: 'apple', qty: 1, warehouse: 'north' }, 'warehouse'], // not a field (was dropped)
];

const errorOf = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PlugbayError);
  return err;
};

describe('go-plugin plugin from its .proto alone (stock.Stock)', { skip }, () => {
  const dirs = tempRoot();
  const tier = new ProcessTier({ socketRoot: dirs.root });
  after(async () => {
    await tier.close();
    dirs.cleanup();
  });

  it('refuses the five bad inputs with no schema at all, naming the field; the stock is unchanged', async () => {
    const instance = await tier.load(bareStock(), logSink().opts());
    assert.deepEqual([...instance.exportedFunctions].sort(), ['Adjust', 'Get', 'Set']);
    await instance.start({ signal: new AbortController().signal, config: undefined });
    assert.deepEqual(await call(instance, 'Adjust', { sku: 'apple', qty: 5 }), { sku: 'apple', qty: 5 });
    for (const [input, field] of badInputs) {
      const err = await errorOf(call(instance, 'Adjust', input));
      assert.equal(err.code, 'PLUGBAY_INVALID_INPUT', JSON.stringify(input));
      assert.equal(err.details?.field, field, JSON.stringify(input));
      const [violation] = (err.details?.violations ?? []) as { pointer: string }[];
      assert.equal(violation?.pointer, `/${field}`);
    }
    // the original field name is accepted as protojson does, and 64-bit integers come back as strings
    assert.deepEqual(await call(instance, 'Set', { sku: 'pear', total_sold: 9007199254740991 }), {
      sku: 'pear',
      totalSold: '9007199254740991',
    });
    assert.deepEqual(await call(instance, 'Get', { sku: 'apple' }), { sku: 'apple', qty: 5 });
    await instance.close();
  });

  it('round-trips every kind of field through the Go service, defaults omitted', async () => {
    const instance = await tier.load(bareStock(), logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    const item = {
      sku: 'kiwi',
      qty: -2147483648,
      totalSold: '9223372036854775807',
      shelf: 4294967295,
      serial: '18446744073709551615',
      unit: 'KILOGRAM',
      tags: ['green', 'fuzzy'],
      bins: { a1: 3, b2: -4 },
      madeHere: true,
      photo: Buffer.from([0, 1, 2, 250]).toString('base64'),
      updated: '2024-02-29T23:59:59.123456789Z',
      shelfLife: '-1.500s',
      reorderAt: 0,
      attributes: { color: 'green', sizes: [1, 2.5], organic: true, origin: null, nested: { x: 'y' } },
      price: 1.25,
      weight: 0.5,
      balance: '-9223372036854775808',
      batch: 4294967295,
      notes: { '-9223372036854775808': 'min', '7': 'seven' },
    };
    assert.deepEqual(await call(instance, 'Set', item), item);
    assert.deepEqual(await call(instance, 'Get', { sku: 'kiwi' }), item);
    // inputs in the other accepted forms come back in the canonical one
    const loose = {
      sku: 'fig',
      total_sold: 12,
      unit: 1,
      updated: '2024-01-01T01:00:00+01:00',
      made_here: false,
      photo: '-_8',
      weight: 'Infinity',
    };
    assert.deepEqual(await call(instance, 'Set', loose), {
      sku: 'fig',
      totalSold: '12',
      unit: 'PIECE',
      updated: '2024-01-01T00:00:00Z',
      madeHere: false, // a oneof member is written when set, even at its default value
      photo: '+/8=',
      weight: 'Infinity',
    });
    // a oneof with two members set is refused
    const both = await errorOf(call(instance, 'Set', { sku: 'x', supplier: 'acme', madeHere: true }));
    assert.equal(both.code, 'PLUGBAY_INVALID_INPUT');
    assert.equal(both.details?.field, 'madeHere');
    await instance.close();
  });

  it('property: generated Items round-trip through the Go service to equal JSON', async () => {
    const instance = await tier.load(bareStock(), logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    const read = (file: string) => fs.readFileSync(path.join(stockDir, file), 'utf8');
    const item = readService('proto/stock.proto', 'stock.Stock', read).methods.get('Set')?.requestType;
    assert.ok(item);
    await fc.assert(
      fc.asyncProperty(messageArb(item), async (value) => {
        assert.deepEqual(await call(instance, 'Set', value), value);
      }),
      { numRuns: 60, seed: 16 },
    );
    await instance.close();
  });

  it('"emitDefaults": true writes every field, unset messages as null', async () => {
    const instance = await tier.load(bareStock({ emitDefaults: true }), logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    const out = (await call(instance, 'Adjust', { sku: 'plum', qty: 0 })) as Record<string, unknown>;
    assert.deepEqual(out, {
      sku: 'plum',
      qty: 0,
      totalSold: '0',
      shelf: 0,
      serial: '0',
      unit: 'UNIT_UNSPECIFIED',
      tags: [],
      bins: {},
      photo: '',
      updated: null,
      shelfLife: null,
      reorderAt: null,
      attributes: null,
      price: 0,
      weight: 0,
      balance: '0',
      batch: 0,
      notes: {},
    });
    await instance.close();
  });

  it('through the host and the gateway: derived functions, 400 naming the field, the stock unchanged', async (t) => {
    const host = createHost({
      logger: pino({ level: 'silent' }),
      tiers: { process: createProcessTier() },
      tierFor: () => 'process',
    });
    t.after(() => host.close());
    const gateway = createGateway({ host, port: 0 });
    t.after(() => gateway.close());
    await host.load(stockDir);
    const address = await gateway.listen();
    const post = async (fn: string, body: unknown) => {
      const res = await fetch(`${address.url}/v1/call/go-stock/${fn}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    assert.equal((await post('Adjust', { sku: 'apple', qty: 7 })).status, 200);
    for (const [input, field] of badInputs) {
      const res = await post('Adjust', input);
      assert.equal(res.status, 400, JSON.stringify(input));
      const error = res.body.error as { code: string; details: { violations: { pointer: string }[] } };
      assert.equal(error.code, 'PLUGBAY_INVALID_INPUT');
      assert.ok(
        error.details.violations.some((v) => v.pointer === `/${field}`),
        `${JSON.stringify(input)} names /${field}: ${JSON.stringify(error.details.violations)}`,
      );
    }
    const get = await post('Get', { sku: 'apple' });
    assert.deepEqual([get.status, get.body], [200, { sku: 'apple', qty: 7 }]);
  });
});
