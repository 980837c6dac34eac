import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAjv } from '../core/schema.js';
import type { JsonSchema } from './snapshot.js';
import { findWitness, formatWitness } from './witness.js';

type Side = 'input' | 'output';
type Row = [name: string, side: Side, before: JsonSchema, after: JsonSchema];

/** The value count is the bound in these tests, never the clock: a busy machine must not change a verdict. */
const roomy = { timeMs: 60_000 };
const S = { type: 'string' };
const N = { type: 'number' };
const I = { type: 'integer' };
const withDefs = (root: Record<string, unknown>, defs: Record<string, JsonSchema>) => ({
  ...root,
  $defs: defs,
});

/** Ajv of the host, fresh for each schema (two documents may share an `$id`). */
function valid(schema: JsonSchema, value: unknown): boolean {
  return createAjv().compile(schema)(value) as boolean;
}

// Issue #15's false negatives: each pair is breaking, and a value proves it.
const breaking: Row[] = [
  [
    '1. items $ref, a field of the referenced object number → integer',
    'input',
    withDefs(
      { type: 'array', items: { $ref: '#/$defs/Item' } },
      { Item: { type: 'object', properties: { n: N } } },
    ),
    withDefs(
      { type: 'array', items: { $ref: '#/$defs/Item' } },
      { Item: { type: 'object', properties: { n: I } } },
    ),
  ],
  [
    '2. Optional anyOf [$ref Foo, null] with Foo narrowed',
    'input',
    withDefs(
      { anyOf: [{ $ref: '#/$defs/Foo' }, { type: 'null' }] },
      { Foo: { type: 'string', maxLength: 20 } },
    ),
    withDefs(
      { anyOf: [{ $ref: '#/$defs/Foo' }, { type: 'null' }] },
      { Foo: { type: 'string', maxLength: 8 } },
    ),
  ],
  [
    '3. additionalProperties $ref V, V integer → number',
    'output',
    withDefs({ type: 'object', additionalProperties: { $ref: '#/$defs/V' } }, { V: I }),
    withDefs({ type: 'object', additionalProperties: { $ref: '#/$defs/V' } }, { V: N }),
  ],
  [
    '4. oneOf [$ref Ok, $ref Err], Err gains an enum value',
    'output',
    withDefs(
      { oneOf: [{ $ref: '#/$defs/Ok' }, { $ref: '#/$defs/Err' }] },
      {
        Ok: { type: 'object', properties: { ok: { const: true } }, required: ['ok'] },
        Err: { type: 'object', properties: { code: { enum: ['E1', 'E2'] } }, required: ['code'] },
      },
    ),
    withDefs(
      { oneOf: [{ $ref: '#/$defs/Ok' }, { $ref: '#/$defs/Err' }] },
      {
        Ok: { type: 'object', properties: { ok: { const: true } }, required: ['ok'] },
        Err: { type: 'object', properties: { code: { enum: ['E1', 'E2', 'E3'] } }, required: ['code'] },
      },
    ),
  ],
  [
    '5. $ref with a maxLength sibling, the target maxLength 10 → 5',
    'input',
    withDefs({ $ref: '#/$defs/Name', maxLength: 100 }, { Name: { type: 'string', maxLength: 10 } }),
    withDefs({ $ref: '#/$defs/Name', maxLength: 100 }, { Name: { type: 'string', maxLength: 5 } }),
  ],
  [
    '6. root $ref Base with sibling properties, Base.a narrowed',
    'input',
    withDefs(
      { $ref: '#/$defs/Base', properties: { extra: S } },
      { Base: { type: 'object', properties: { a: { type: 'integer', maximum: 100 } }, required: ['a'] } },
    ),
    withDefs(
      { $ref: '#/$defs/Base', properties: { extra: S } },
      { Base: { type: 'object', properties: { a: { type: 'integer', maximum: 10 } }, required: ['a'] } },
    ),
  ],
  [
    '7. a $ref resolved against a nested $id',
    'input',
    nestedId({ type: 'string', maxLength: 10 }),
    nestedId({ type: 'string', maxLength: 3 }),
  ],
  [
    '8. input property removed under a schema-valued additionalProperties',
    'input',
    { type: 'object', properties: { a: S }, additionalProperties: I },
    { type: 'object', additionalProperties: I },
  ],
  [
    '9. output property added under a schema-valued additionalProperties',
    'output',
    { type: 'object', additionalProperties: I },
    { type: 'object', properties: { a: S }, additionalProperties: I },
  ],
  [
    "the greeter experiment: tags items $ref Tag, Tag's maxLength 50 → 5",
    'input',
    withDefs(obj({ tags: { type: 'array', items: { $ref: '#/$defs/Tag' } } }), {
      Tag: { ...S, maxLength: 50 },
    }),
    withDefs(obj({ tags: { type: 'array', items: { $ref: '#/$defs/Tag' } } }), {
      Tag: { ...S, maxLength: 5 },
    }),
  ],
  [
    'a $ref to an $anchor, its target narrowed',
    'input',
    withDefs(obj({ a: { $ref: '#leaf' } }), { L: { $anchor: 'leaf', ...S, maxLength: 30 } }),
    withDefs(obj({ a: { $ref: '#leaf' } }), { L: { $anchor: 'leaf', ...S, maxLength: 29 } }),
  ],
  // edges and other keywords the search must reach
  ['string maxLength narrowed by one', 'input', { ...S, maxLength: 50 }, { ...S, maxLength: 49 }],
  ['exclusiveMinimum tightened', 'input', { ...N, exclusiveMinimum: 0 }, { ...N, exclusiveMinimum: 1 }],
  ['multipleOf 2 → 4', 'input', { ...I, multipleOf: 2 }, { ...I, multipleOf: 4 }],
  ['enum member removed', 'input', { enum: ['a', 'b', 'c'] }, { enum: ['a', 'b'] }],
  ['pattern added', 'input', S, { ...S, pattern: '^[a-z]+$' }],
  ['format date-time → date', 'input', { ...S, format: 'date-time' }, { ...S, format: 'date' }],
  ['uniqueItems added', 'input', { type: 'array', items: I }, { type: 'array', items: I, uniqueItems: true }],
  [
    'tuple position narrowed (draft-07 items array)',
    'input',
    { type: 'array', items: [S, N] },
    { type: 'array', items: [S, I] },
  ],
  ['output made nullable', 'output', S, { type: ['string', 'null'] }],
  ['output made nullable (OpenAPI nullable)', 'output', S, { ...S, nullable: true }],
  [
    'a definitions (draft-07) target narrowed',
    'input',
    { $ref: '#/definitions/A', definitions: { A: { ...I, maximum: 1000 } } },
    { $ref: '#/definitions/A', definitions: { A: { ...I, maximum: 999 } } },
  ],
  [
    'allOf branch narrowed',
    'input',
    { allOf: [obj({ a: S }), { required: ['a'] }] },
    { allOf: [obj({ a: { ...S, minLength: 2 } }), { required: ['a'] }] },
  ],
  ['output anyOf gains a branch', 'output', { anyOf: [S] }, { anyOf: [S, I] }],
  [
    'recursive tree, the label narrowed',
    'input',
    tree({ type: 'string', maxLength: 10 }),
    tree({ type: 'string', maxLength: 2 }),
  ],
];

function nestedId(leaf: JsonSchema): JsonSchema {
  // `#/$defs/Leaf` inside the `$id: inner.json` resource means inner.json's Leaf, not the root's.
  return {
    $id: 'https://example.com/root.json',
    type: 'object',
    properties: { v: { $ref: 'inner.json' } },
    $defs: {
      Leaf: { type: 'string' },
      Inner: {
        $id: 'inner.json',
        type: 'object',
        properties: { name: { $ref: '#/$defs/Leaf' } },
        $defs: { Leaf: leaf },
      },
    },
  };
}

function tree(label: JsonSchema): JsonSchema {
  return withDefs(
    { $ref: '#/$defs/Node' },
    {
      Node: {
        type: 'object',
        properties: { label, children: { type: 'array', items: { $ref: '#/$defs/Node' } } },
        required: ['label'],
      },
    },
  );
}

// Compatible changes: nothing the old input took is refused, nothing the new output makes was ruled out.
const compatible: Row[] = [
  [
    'identical schemas',
    'input',
    withDefs({ $ref: '#/$defs/A' }, { A: S }),
    withDefs({ $ref: '#/$defs/A' }, { A: S }),
  ],
  ['input widened: maxLength 5 → 10', 'input', { ...S, maxLength: 5 }, { ...S, maxLength: 10 }],
  ['input widened: integer → number', 'input', I, N],
  ['input widened: enum member added', 'input', { enum: ['a'] }, { enum: ['a', 'b'] }],
  ['input widened: required dropped', 'input', { ...obj({ a: S }), required: ['a'] }, obj({ a: S })],
  [
    'input widened through a $ref',
    'input',
    withDefs({ type: 'array', items: { $ref: '#/$defs/T' } }, { T: { type: 'string', maxLength: 5 } }),
    withDefs({ type: 'array', items: { $ref: '#/$defs/T' } }, { T: { type: 'string', maxLength: 50 } }),
  ],
  ['output narrowed: number → integer', 'output', N, I],
  ['output narrowed: minimum added', 'output', N, { ...N, minimum: 0 }],
  [
    'output narrowed: closed object',
    'output',
    obj({ a: S }),
    { ...obj({ a: S }), additionalProperties: false },
  ],
  [
    'reordered properties',
    'input',
    { ...obj({ a: S, b: N, c: { enum: [1, 2] } }), required: ['a', 'c'] },
    { ...obj({ c: { enum: [1, 2] }, b: N, a: S }), required: ['c', 'a'] },
  ],
  // the issue's false positives: equivalent or widening
  ['enum ↔ const', 'input', { enum: ['a'] }, { const: 'a' }],
  ['number multipleOf 1 → integer', 'input', { ...N, multipleOf: 1 }, I],
  ['minimum 0 → exclusiveMinimum -1', 'input', { ...N, minimum: 0 }, { ...N, exclusiveMinimum: -1 }],
  ['pattern widened', 'input', { ...S, pattern: '^[a-c]+$' }, { ...S, pattern: '^[a-z]+$' }],
  ['anyOf branch already covered', 'input', { anyOf: [S, { ...S, maxLength: 3 }] }, { anyOf: [S] }],
  ['output {string, enum} → {enum}', 'output', { ...S, enum: ['a', 'b'] }, { enum: ['a', 'b'] }],
  ['minimum added to a string field', 'input', obj({ a: S }), obj({ a: { ...S, minimum: 3 } })],
  ['output narrowed: enum member removed', 'output', { enum: ['a', 'b'] }, { enum: ['a'] }],
  ['input widened: pattern removed', 'input', { ...S, pattern: '^[a-z]+$' }, S],
  ['input widened: anyOf gains a branch', 'input', { anyOf: [S] }, { anyOf: [S, I] }],
  ['input widened: nullable added', 'input', S, { ...S, nullable: true }],
  [
    'identical recursive schemas with a nested $id',
    'input',
    nestedId({ type: 'string', maxLength: 3 }),
    nestedId({ type: 'string', maxLength: 3 }),
  ],
];

function obj(properties: Record<string, JsonSchema>) {
  return { type: 'object', properties };
}

describe('findWitness', () => {
  for (const [name, side, before, after] of breaking) {
    it(`finds a witness: ${name}`, () => {
      const witness = findWitness(before, after, side, roomy);
      assert.ok(witness, 'no witness found');
      const [accepts, refuses] = side === 'input' ? [before, after] : [after, before];
      assert.equal(witness.accepted, side === 'input' ? 'before' : 'after');
      assert.equal(valid(accepts, witness.value), true, `accepted by the ${witness.accepted} schema`);
      assert.equal(valid(refuses, witness.value), false, 'refused by the other schema');
      assert.match(witness.refusedBy, /^\w+ at \//);
    });
  }

  for (const [name, side, before, after] of compatible) {
    it(`finds none for a compatible change: ${name}`, () => {
      assert.equal(findWitness(before, after, side, roomy), undefined);
    });
  }

  it('names the keyword and the pointer of the refusal', () => {
    const witness = findWitness(
      obj({ tags: { type: 'array', items: S } }),
      obj({ tags: { type: 'array', items: I } }),
      'input',
    );
    assert.ok(witness);
    assert.match(witness.refusedBy, /^type at \/tags\/0: /);
  });

  // a number in (0.25, 0.75) that is not one of the edge values: only a fast-check sample finds it
  const middle: [JsonSchema, JsonSchema] = [
    { ...N, minimum: 0, maximum: 1 },
    { anyOf: [{ ...N, maximum: 0.25 }, { ...N, minimum: 0.75 }, { enum: [0.5] }] },
  ];

  it('finds a witness only a fast-check sample reaches', () => {
    const witness = findWitness(...middle, 'input', { timeMs: 10_000, maxValues: 2_000 });
    assert.ok(witness);
    assert.equal(valid(middle[1], witness.value), false);
  });

  it('is deterministic: the same seed gives the same witness, another seed another one', () => {
    const run = (seed: number) => findWitness(...middle, 'input', { seed, timeMs: 10_000, maxValues: 2_000 });
    const first = run(7);
    assert.ok(first);
    assert.deepEqual(run(7), first);
    assert.notDeepEqual(run(8), first);
  });

  it('prints the witness with the side and the refusal', () => {
    const witness = findWitness({ ...S, maxLength: 9 }, { ...S, maxLength: 3 }, 'input');
    assert.ok(witness);
    const text = formatWitness(witness, 'input');
    assert.match(
      text,
      /^witness: "[^"]{4,9}" \(the old input accepts it; the new refuses: maxLength at \/: /,
    );
  });

  it('checks its options at once', () => {
    assert.throws(
      () => findWitness(S, S, 'input', { timeMs: 0, maxValues: 1.5 }),
      (err: { code?: string; details?: { options?: string[] } }) =>
        err.code === 'PLUGBAY_INVALID_ARGUMENT' && err.details?.options?.join() === 'timeMs,maxValues',
    );
  });

  it('stops at maxValues', () => {
    // 'b' is neither a probe nor a value of the first 3 edges: only a later candidate could find it
    assert.equal(
      findWitness({ enum: [1, 2, 3, 'b'] }, { enum: [1, 2, 3] }, 'input', { maxValues: 3 }),
      undefined,
    );
    assert.ok(findWitness({ enum: [1, 2, 3, 'b'] }, { enum: [1, 2, 3] }, 'input', { maxValues: 40 }));
  });

  it('gives up within its budget on a 2,000-property object', { timeout: 20_000 }, () => {
    const properties: Record<string, JsonSchema> = {};
    for (let i = 0; i < 2000; i++) properties[`p${i}`] = i % 2 === 0 ? S : { ...I, minimum: 0 };
    const schema = { type: 'object', properties, required: Object.keys(properties).slice(0, 500) };
    assert.equal(findWitness(schema, structuredClone(schema), 'input'), undefined);
    assert.equal(findWitness(schema, structuredClone(schema), 'output', { maxValues: 50 }), undefined);
  });

  it('returns undefined when a schema does not compile', () => {
    assert.equal(findWitness({ $ref: '#/$defs/missing' }, S, 'input'), undefined);
  });
});
