import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffSchemas, fieldOf, type Side } from './diff.js';
import { diffSnapshots } from './gate.js';
import type { JsonSchema } from './snapshot.js';

type Row = [
  name: string,
  side: Side,
  before: JsonSchema,
  after: JsonSchema,
  expected: [rule: string, verdict: string][],
];

const obj = (
  properties: Record<string, JsonSchema>,
  required: string[] = [],
  extra: Record<string, unknown> = {},
) => ({
  type: 'object',
  properties,
  required,
  ...extra,
});
const S = { type: 'string' };
const N = { type: 'number' };
const I = { type: 'integer' };

// Each row: what changed, on which side, and every (rule, verdict) the diff must report — nothing more.
const rows: Row[] = [
  // --- no change / annotations
  ['identical schemas', 'input', obj({ a: S }, ['a']), obj({ a: S }, ['a']), []],
  ['description changed', 'input', { ...S, description: 'x' }, { ...S, description: 'y' }, []],
  [
    'title/examples/default changed',
    'output',
    { ...N, title: 'a', default: 1 },
    { ...N, title: 'b', default: 2, examples: [3] },
    [],
  ],
  ['x- vendor keyword changed', 'output', { ...S, 'x-ui': 1 }, { ...S, 'x-ui': 2 }, []],
  ['required order changed', 'input', obj({ a: S, b: S }, ['a', 'b']), obj({ a: S, b: S }, ['b', 'a']), []],
  ['enum order changed', 'input', { enum: ['a', 'b'] }, { enum: ['b', 'a'] }, []],
  ['true vs {}', 'input', true, {}, []],
  // --- required
  [
    'input: new required property',
    'input',
    obj({ a: S }),
    obj({ a: S, b: S }, ['b']),
    [['input.property.required-added', 'breaking']],
  ],
  [
    'input: existing property became required',
    'input',
    obj({ a: S }),
    obj({ a: S }, ['a']),
    [['input.property.required-added', 'breaking']],
  ],
  [
    'input: property no longer required',
    'input',
    obj({ a: S }, ['a']),
    obj({ a: S }),
    [['input.property.required-removed', 'compatible']],
  ],
  [
    'output: property no longer required',
    'output',
    obj({ a: S }, ['a']),
    obj({ a: S }),
    [['output.property.required-removed', 'breaking']],
  ],
  [
    'output: property became required',
    'output',
    obj({ a: S }),
    obj({ a: S }, ['a']),
    [['output.property.required-added', 'compatible']],
  ],
  // --- properties added / removed
  [
    'input: optional property added',
    'input',
    obj({ a: S }),
    obj({ a: S, b: N }),
    [['input.property.added', 'compatible']],
  ],
  [
    'output: optional property added',
    'output',
    obj({ a: S }),
    obj({ a: S, b: N }),
    [['output.property.added', 'compatible']],
  ],
  [
    'output: property added to closed object',
    'output',
    obj({ a: S }, [], { additionalProperties: false }),
    obj({ a: S, b: N }, [], { additionalProperties: false }),
    [['output.property.added', 'breaking']],
  ],
  [
    'input: property added to closed object',
    'input',
    obj({ a: S }, [], { additionalProperties: false }),
    obj({ a: S, b: N }, [], { additionalProperties: false }),
    [['input.property.added', 'compatible']],
  ],
  [
    'output: optional property removed',
    'output',
    obj({ a: S, b: N }),
    obj({ a: S }),
    [['output.property.removed', 'breaking']],
  ],
  [
    'output: required property removed',
    'output',
    obj({ a: S, b: N }, ['a', 'b']),
    obj({ a: S }, ['a']),
    [['output.property.removed', 'breaking']],
  ],
  [
    'input: optional property removed (open object)',
    'input',
    obj({ a: S, b: N }),
    obj({ a: S }),
    [['input.property.removed', 'compatible']],
  ],
  [
    'input: required property removed (open object)',
    'input',
    obj({ a: S, b: N }, ['b']),
    obj({ a: S }),
    [['input.property.removed', 'compatible']],
  ],
  [
    'input: property removed from closed object',
    'input',
    obj({ a: S, b: N }, [], { additionalProperties: false }),
    obj({ a: S }, [], { additionalProperties: false }),
    [['input.property.removed', 'breaking']],
  ],
  // --- type
  ['input: type narrowed number → integer', 'input', N, I, [['input.type.narrowed', 'breaking']]],
  ['input: type widened integer → number', 'input', I, N, [['input.type.widened', 'compatible']]],
  ['output: type widened integer → number', 'output', I, N, [['output.type.widened', 'breaking']]],
  ['output: type narrowed number → integer', 'output', N, I, [['output.type.narrowed', 'compatible']]],
  ['input: type changed string → number', 'input', S, N, [['input.type.changed', 'breaking']]],
  ['output: type changed string → number', 'output', S, N, [['output.type.changed', 'breaking']]],
  [
    'input: null dropped from type union',
    'input',
    { type: ['string', 'null'] },
    S,
    [['input.type.narrowed', 'breaking']],
  ],
  [
    'output: null added to type union',
    'output',
    S,
    { type: ['string', 'null'] },
    [['output.type.widened', 'breaking']],
  ],
  [
    'output: null dropped from type union',
    'output',
    { type: ['string', 'null'] },
    S,
    [['output.type.narrowed', 'compatible']],
  ],
  ['input: type added where any was accepted', 'input', {}, S, [['input.type.narrowed', 'breaking']]],
  ['input: type removed (any accepted now)', 'input', S, {}, [['input.type.widened', 'compatible']]],
  // --- enum / const
  [
    'input: enum value removed',
    'input',
    { type: 'string', enum: ['a', 'b'] },
    { type: 'string', enum: ['a'] },
    [['input.enum.value-removed', 'breaking']],
  ],
  [
    'input: enum value added',
    'input',
    { type: 'string', enum: ['a'] },
    { type: 'string', enum: ['a', 'b'] },
    [['input.enum.value-added', 'compatible']],
  ],
  [
    'output: enum value added',
    'output',
    { type: 'string', enum: ['a'] },
    { type: 'string', enum: ['a', 'b'] },
    [['output.enum.value-added', 'breaking']],
  ],
  [
    'output: enum value removed',
    'output',
    { type: 'string', enum: ['a', 'b'] },
    { type: 'string', enum: ['a'] },
    [['output.enum.value-removed', 'compatible']],
  ],
  ['input: enum added', 'input', S, { ...S, enum: ['a'] }, [['input.enum.added', 'breaking']]],
  ['output: enum removed', 'output', { ...S, enum: ['a'] }, S, [['output.enum.removed', 'breaking']]],
  [
    'input: enum value swapped',
    'input',
    { enum: ['a', 'b'] },
    { enum: ['a', 'c'] },
    [
      ['input.enum.value-removed', 'breaking'],
      ['input.enum.value-added', 'compatible'],
    ],
  ],
  ['input: const changed', 'input', { const: 1 }, { const: 2 }, [['input.const.changed', 'breaking']]],
  ['output: const removed', 'output', { const: 1 }, {}, [['output.const.removed', 'breaking']]],
  ['output: const added', 'output', N, { ...N, const: 3 }, [['output.const.added', 'compatible']]],
  // --- bounds
  [
    'input: minimum increased',
    'input',
    { ...N, minimum: 0 },
    { ...N, minimum: 1 },
    [['input.minimum.increased', 'breaking']],
  ],
  [
    'input: minimum decreased',
    'input',
    { ...N, minimum: 1 },
    { ...N, minimum: 0 },
    [['input.minimum.decreased', 'compatible']],
  ],
  [
    'output: minimum decreased',
    'output',
    { ...N, minimum: 1 },
    { ...N, minimum: 0 },
    [['output.minimum.decreased', 'breaking']],
  ],
  [
    'input: maximum decreased',
    'input',
    { ...N, maximum: 10 },
    { ...N, maximum: 5 },
    [['input.maximum.decreased', 'breaking']],
  ],
  [
    'output: maximum increased',
    'output',
    { ...N, maximum: 5 },
    { ...N, maximum: 10 },
    [['output.maximum.increased', 'breaking']],
  ],
  [
    'output: maximum decreased',
    'output',
    { ...N, maximum: 10 },
    { ...N, maximum: 5 },
    [['output.maximum.decreased', 'compatible']],
  ],
  ['input: maximum added', 'input', N, { ...N, maximum: 5 }, [['input.maximum.added', 'breaking']]],
  ['output: maximum removed', 'output', { ...N, maximum: 5 }, N, [['output.maximum.removed', 'breaking']]],
  ['input: maximum removed', 'input', { ...N, maximum: 5 }, N, [['input.maximum.removed', 'compatible']]],
  [
    'input: exclusiveMinimum increased',
    'input',
    { ...N, exclusiveMinimum: 0 },
    { ...N, exclusiveMinimum: 2 },
    [['input.exclusive-minimum.increased', 'breaking']],
  ],
  [
    'input: exclusiveMaximum decreased',
    'input',
    { ...N, exclusiveMaximum: 9 },
    { ...N, exclusiveMaximum: 3 },
    [['input.exclusive-maximum.decreased', 'breaking']],
  ],
  [
    'input: draft-4 boolean exclusiveMinimum flipped',
    'input',
    { ...N, minimum: 1, exclusiveMinimum: false },
    { ...N, minimum: 1, exclusiveMinimum: true },
    [['input.exclusive-minimum.changed', 'unknown']],
  ],
  [
    'input: minLength increased',
    'input',
    { ...S, minLength: 1 },
    { ...S, minLength: 3 },
    [['input.min-length.increased', 'breaking']],
  ],
  [
    'input: maxLength decreased',
    'input',
    { ...S, maxLength: 10 },
    { ...S, maxLength: 5 },
    [['input.max-length.decreased', 'breaking']],
  ],
  [
    'input: maxLength increased',
    'input',
    { ...S, maxLength: 5 },
    { ...S, maxLength: 10 },
    [['input.max-length.increased', 'compatible']],
  ],
  [
    'output: maxLength increased',
    'output',
    { ...S, maxLength: 5 },
    { ...S, maxLength: 10 },
    [['output.max-length.increased', 'breaking']],
  ],
  [
    'input: minItems added',
    'input',
    { type: 'array' },
    { type: 'array', minItems: 1 },
    [['input.min-items.added', 'breaking']],
  ],
  [
    'input: maxItems decreased',
    'input',
    { type: 'array', maxItems: 5 },
    { type: 'array', maxItems: 2 },
    [['input.max-items.decreased', 'breaking']],
  ],
  [
    'output: maxItems removed',
    'output',
    { type: 'array', maxItems: 5 },
    { type: 'array' },
    [['output.max-items.removed', 'breaking']],
  ],
  [
    'input: maxProperties decreased',
    'input',
    { type: 'object', maxProperties: 5 },
    { type: 'object', maxProperties: 2 },
    [['input.max-properties.decreased', 'breaking']],
  ],
  [
    'input: multipleOf made stricter',
    'input',
    { ...N, multipleOf: 2 },
    { ...N, multipleOf: 4 },
    [['input.multiple-of.changed', 'breaking']],
  ],
  [
    'input: multipleOf loosened',
    'input',
    { ...N, multipleOf: 4 },
    { ...N, multipleOf: 2 },
    [['input.multiple-of.changed', 'compatible']],
  ],
  [
    'output: multipleOf unrelated',
    'output',
    { ...N, multipleOf: 2 },
    { ...N, multipleOf: 3 },
    [['output.multiple-of.changed', 'breaking']],
  ],
  // --- pattern / format / uniqueItems / additionalProperties
  [
    'input: pattern changed',
    'input',
    { ...S, pattern: '^a' },
    { ...S, pattern: '^b' },
    [['input.pattern.changed', 'breaking']],
  ],
  ['input: pattern added', 'input', S, { ...S, pattern: '^a' }, [['input.pattern.added', 'breaking']]],
  ['input: pattern removed', 'input', { ...S, pattern: '^a' }, S, [['input.pattern.removed', 'compatible']]],
  ['output: pattern removed', 'output', { ...S, pattern: '^a' }, S, [['output.pattern.removed', 'breaking']]],
  ['input: format added', 'input', S, { ...S, format: 'email' }, [['input.format.added', 'breaking']]],
  [
    'output: format changed',
    'output',
    { ...S, format: 'uri' },
    { ...S, format: 'email' },
    [['output.format.changed', 'breaking']],
  ],
  [
    'input: uniqueItems added',
    'input',
    { type: 'array' },
    { type: 'array', uniqueItems: true },
    [['input.unique-items.added', 'breaking']],
  ],
  [
    'input: additionalProperties:false added',
    'input',
    obj({ a: S }),
    obj({ a: S }, [], { additionalProperties: false }),
    [['input.additional-properties.closed', 'breaking']],
  ],
  [
    'output: additionalProperties:false added',
    'output',
    obj({ a: S }),
    obj({ a: S }, [], { additionalProperties: false }),
    [['output.additional-properties.closed', 'compatible']],
  ],
  [
    'output: additionalProperties:false removed',
    'output',
    obj({ a: S }, [], { additionalProperties: false }),
    obj({ a: S }),
    [['output.additional-properties.opened', 'breaking']],
  ],
  [
    'input: additionalProperties schema narrowed',
    'input',
    { type: 'object', additionalProperties: N },
    { type: 'object', additionalProperties: I },
    [['input.type.narrowed', 'breaking']],
  ],
  // --- nesting: properties, items
  [
    'input: nested property type narrowed',
    'input',
    obj({ a: obj({ b: N }) }),
    obj({ a: obj({ b: I }) }),
    [['input.type.narrowed', 'breaking']],
  ],
  [
    'output: nested required removed',
    'output',
    obj({ a: obj({ b: N }, ['b']) }),
    obj({ a: obj({ b: N }) }),
    [['output.property.required-removed', 'breaking']],
  ],
  [
    'input: items type narrowed',
    'input',
    { type: 'array', items: N },
    { type: 'array', items: I },
    [['input.type.narrowed', 'breaking']],
  ],
  [
    'output: items enum value added',
    'output',
    { type: 'array', items: { enum: [1] } },
    { type: 'array', items: { enum: [1, 2] } },
    [['output.enum.value-added', 'breaking']],
  ],
  [
    'input: items in array of objects gain a required field',
    'input',
    { type: 'array', items: obj({ id: S }) },
    { type: 'array', items: obj({ id: S, n: N }, ['n']) },
    [['input.property.required-added', 'breaking']],
  ],
  [
    'input: tuple items changed',
    'input',
    { type: 'array', items: [S, N] },
    { type: 'array', items: [S, S] },
    [['input.items.tuple-changed', 'unknown']],
  ],
  // --- boolean schemas
  ['input: schema became false', 'input', S, false, [['input.schema.false-added', 'breaking']]],
  ['output: schema was false, now a type', 'output', false, S, [['output.schema.false-removed', 'breaking']]],
  ['input: schema true → string', 'input', true, S, [['input.type.narrowed', 'breaking']]],
  // --- combinators, refs, unknown keywords
  [
    'input: anyOf branch added',
    'input',
    { anyOf: [S] },
    { anyOf: [S, N] },
    [['input.any-of.branch-added', 'compatible']],
  ],
  [
    'output: anyOf branch added',
    'output',
    { anyOf: [S] },
    { anyOf: [S, N] },
    [['output.any-of.branch-added', 'breaking']],
  ],
  [
    'input: anyOf branch removed',
    'input',
    { anyOf: [S, N] },
    { anyOf: [S] },
    [['input.any-of.branch-removed', 'breaking']],
  ],
  [
    'input: anyOf rewritten',
    'input',
    { anyOf: [S, N] },
    { anyOf: [{ ...S, maxLength: 3 }, I, { type: 'boolean' }] },
    [['input.any-of.changed', 'unknown']],
  ],
  [
    'input: an anyOf branch number → integer narrows',
    'input',
    { anyOf: [S, N] },
    { anyOf: [S, I] },
    [['input.any-of.branch-removed', 'breaking']],
  ],
  [
    'input: oneOf rewritten',
    'input',
    { oneOf: [S, N] },
    { oneOf: [S, I] },
    [['input.one-of.changed', 'unknown']],
  ],
  [
    'output: an allOf branch added narrows',
    'output',
    { allOf: [S] },
    { allOf: [S, { minLength: 1 }] },
    [['output.all-of.branch-added', 'compatible']],
  ],
  [
    'output: allOf rewritten',
    'output',
    { allOf: [S, { maxLength: 3 }] },
    { allOf: [S, { minLength: 1 }] },
    [['output.all-of.changed', 'unknown']],
  ],
  ['input: not changed', 'input', { not: S }, { not: N }, [['input.not.changed', 'unknown']]],
  [
    'input: unknown keyword changed',
    'input',
    { ...S, nullable: true },
    { ...S, nullable: false },
    [['input.keyword.unknown', 'unknown']],
  ],
  [
    'input: patternProperties changed',
    'input',
    { type: 'object', patternProperties: { '^a': S } },
    { type: 'object', patternProperties: { '^a': N } },
    [['input.keyword.unknown', 'unknown']],
  ],
  [
    'input: $ref target narrowed',
    'input',
    { $defs: { n: N }, type: 'object', properties: { a: { $ref: '#/$defs/n' } } },
    { $defs: { n: I }, type: 'object', properties: { a: { $ref: '#/$defs/n' } } },
    [['input.type.narrowed', 'breaking']],
  ],
  [
    'input: $ref renamed, same target',
    'input',
    { definitions: { n: N }, properties: { a: { $ref: '#/definitions/n' } } },
    { definitions: { m: N }, properties: { a: { $ref: '#/definitions/m' } } },
    [],
  ],
  [
    'input: shared $ref used twice, narrowed → reported at both uses',
    'input',
    { $defs: { n: N }, properties: { a: { $ref: '#/$defs/n' }, b: { $ref: '#/$defs/n' } } },
    { $defs: { n: I }, properties: { a: { $ref: '#/$defs/n' }, b: { $ref: '#/$defs/n' } } },
    [
      ['input.type.narrowed', 'breaking'],
      ['input.type.narrowed', 'breaking'],
    ],
  ],
  [
    'input: recursive $ref unchanged',
    'input',
    { $defs: { node: obj({ next: { $ref: '#/$defs/node' } }) }, $ref: '#/$defs/node' },
    { $defs: { node: obj({ next: { $ref: '#/$defs/node' } }) }, $ref: '#/$defs/node' },
    [],
  ],
  [
    'input: recursive $ref changed → narrowing plus an unknown cycle',
    'input',
    { $defs: { node: obj({ v: N, next: { $ref: '#/$defs/node' } }) }, $ref: '#/$defs/node' },
    { $defs: { node: obj({ v: I, next: { $ref: '#/$defs/node' } }) }, $ref: '#/$defs/node' },
    [
      ['input.ref.cycle', 'unknown'],
      ['input.type.narrowed', 'breaking'],
    ], // properties in name order: next, v
  ],
  [
    'input: remote $ref changed',
    'input',
    { $ref: 'http://x/a.json' },
    { $ref: 'http://x/b.json' },
    [['input.ref.unresolved', 'unknown']],
  ],
  [
    'input: several changes at once',
    'input',
    obj({ a: { ...S, maxLength: 9 } }),
    obj({ a: { ...S, maxLength: 5 }, b: N }, ['b']),
    [
      ['input.max-length.decreased', 'breaking'],
      ['input.property.required-added', 'breaking'],
    ],
  ],
];

describe('schema diff rules (table)', () => {
  it(`has at least 60 rows (${rows.length})`, () => assert.ok(rows.length >= 60));
  for (const [name, side, before, after, expected] of rows) {
    it(name, () => {
      const got = diffSchemas(before, after, side, 'f').map((c) => [c.rule, c.verdict]);
      assert.deepEqual(got, expected);
    });
  }
});

describe('schema diff details', () => {
  it('paths are JSON pointers inside the schema, fields are dotted', () => {
    const [c] = diffSchemas(
      { type: 'array', items: obj({ size: obj({ w: N }) }) },
      { type: 'array', items: obj({ size: obj({ w: I }) }) },
      'input',
      'resize',
    );
    assert.equal(c?.path, '/items/properties/size/properties/w/type');
    assert.equal(c?.field, '[].size.w');
    assert.equal(c?.function, 'resize');
    assert.equal(fieldOf('/properties/a~1b/items/properties/c'), 'a/b[].c');
  });

  it('functions removed are breaking, added compatible; unknown counts as breaking unless allowed', () => {
    const before = {
      name: 'p',
      version: '1.0.0',
      functions: { a: { input: S, output: S }, b: { input: { oneOf: [N] }, output: S } },
    };
    const after = {
      name: 'p',
      version: '1.0.0',
      functions: { b: { input: { oneOf: [N, S] }, output: S }, c: { input: S, output: S } },
    };
    const result = diffSnapshots(before, after);
    assert.deepEqual(
      result.changes.map((c) => [c.function, c.rule, c.verdict]),
      [
        ['a', 'function.removed', 'breaking'],
        ['b', 'input.one-of.changed', 'unknown'],
        ['c', 'function.added', 'compatible'],
      ],
    );
    assert.deepEqual(result.counts, { breaking: 1, compatible: 1, unknown: 1 });
    const onlyUnknown = diffSnapshots(
      { ...before, functions: { b: before.functions.b } },
      { ...after, functions: { b: after.functions.b } },
    );
    assert.equal(onlyUnknown.breaking, true);
    assert.equal(
      diffSnapshots(
        { ...before, functions: { b: before.functions.b } },
        { ...after, functions: { b: after.functions.b } },
        { allowUnknown: true },
      ).breaking,
      false,
    );
  });

  // No timing assertion (shared machines): a hang is caught by the timeout.
  it('absurd nesting and huge fan-out end as unknown, not as a crash or a hang', { timeout: 120_000 }, () => {
    let deepA: JsonSchema = N;
    let deepB: JsonSchema = I;
    for (let i = 0; i < 5000; i++) {
      deepA = { type: 'array', items: deepA };
      deepB = { type: 'array', items: deepB };
    }
    assert.deepEqual(
      diffSchemas(deepA, deepB, 'input', 'f').map((c) => c.rule),
      ['input.schema.too-deep'],
    );
    // 2^30 paths through shared refs: capped.
    const defs: Record<string, JsonSchema> = { d0: N };
    const defsB: Record<string, JsonSchema> = { d0: I };
    for (let i = 1; i <= 30; i++) {
      defs[`d${i}`] = { properties: { l: { $ref: `#/$defs/d${i - 1}` }, r: { $ref: `#/$defs/d${i - 1}` } } };
      defsB[`d${i}`] = defs[`d${i}`]!;
    }
    const changes = diffSchemas(
      { $defs: defs, $ref: '#/$defs/d30' },
      { $defs: defsB, $ref: '#/$defs/d30' },
      'input',
      'f',
    );
    assert.ok(changes.some((c) => c.rule === 'input.schema.too-large' && c.verdict === 'unknown'));
  });
});

describe('hostile names', () => {
  it('a function or property called __proto__ is compared like any other', async () => {
    const { snapshotOf } = await import('./snapshot.js');
    const fns = JSON.parse(
      '{"__proto__": {"input": {"type": "object", "properties": {"__proto__": {"type": "number"}}}, "output": true}}',
    );
    const fnsB = JSON.parse(
      '{"__proto__": {"input": {"type": "object", "properties": {"__proto__": {"type": "integer"}}}, "output": true}}',
    );
    const a = snapshotOf({ name: 'p', version: '1.0.0', functions: fns });
    const b = snapshotOf({ name: 'p', version: '1.0.0', functions: fnsB });
    assert.deepEqual(Object.keys(a.functions), ['__proto__']);
    assert.deepEqual(
      diffSnapshots(a, b).changes.map((c) => [c.function, c.rule, c.field]),
      [['__proto__', 'input.type.narrowed', '__proto__']],
    );
    assert.deepEqual(
      diffSchemas({ $ref: '#/%zz' }, { $ref: '#/%zz/x' }, 'input', 'f').map((c) => c.rule),
      ['input.ref.unresolved'],
    );
  });
});
