// The `$ref` part of the adversarial corpus (corpus.test.shared.ts): a `$ref` in every position a generator puts
// one, resolved as the host's Ajv resolves it (siblings apply too; a nested `$id` sets the base).
import type { JsonSchema } from './snapshot.js';

export type CorpusSide = 'input' | 'output';

export interface CorpusPair {
  /** What the pair tests, unique. */
  name: string;
  side: CorpusSide;
  before: JsonSchema;
  after: JsonSchema;
  verdict: 'breaking' | 'compatible';
  /** Breaking pairs: input — accepted by before, refused by after; output — accepted by after, refused by before. */
  witness?: unknown;
  /**
   * Compatible pairs: values that keep their validity in the safe direction (input: valid before ⇒ valid after;
   * output: valid after ⇒ valid before). At least one is valid on the side it starts from.
   */
  samples?: unknown[];
  /** The differ passes this break today: run as a todo until the fix lands. */
  knownFalseNegative?: string;
}

export interface Relation {
  name: string;
  wide: JsonSchema;
  narrow: JsonSchema;
  /** Accepted by wide, refused by narrow. */
  witness: unknown;
  /** Values, some valid under narrow (so under wide too). */
  samples: unknown[];
}

export type Schema = Record<string, unknown>;
export const S: Schema = { type: 'string' };
export const N: Schema = { type: 'number' };
export const I: Schema = { type: 'integer' };
export const obj = (properties: Record<string, JsonSchema>, extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...extra,
});
export const arr = (items: JsonSchema | JsonSchema[], extra: Schema = {}): Schema => ({
  type: 'array',
  items,
  ...extra,
});
/** A root schema with `$defs`. */
export const withDefs = (root: Schema, defs: Record<string, JsonSchema>): Schema => ({
  ...root,
  $defs: defs,
});
export const ref = (name: string): Schema => ({ $ref: `#/$defs/${name}` });

export const refRelations: Relation[] = [
  // --- $ref in every position
  {
    name: 'items $ref: Tag maxLength 50 ↔ 5 (the greeter experiment)',
    wide: withDefs(arr(ref('Tag')), { Tag: { type: 'string', maxLength: 50 } }),
    narrow: withDefs(arr(ref('Tag')), { Tag: { type: 'string', maxLength: 5 } }),
    witness: ['abcdefgh'],
    samples: [[], ['abc'], ['abcdefgh'], [1]],
  },
  {
    name: "items $ref: the item's field number ↔ integer",
    wide: withDefs(arr(ref('Item')), { Item: obj({ n: N }) }),
    narrow: withDefs(arr(ref('Item')), { Item: obj({ n: I }) }),
    witness: [{ n: 1.5 }],
    samples: [[{ n: 1 }], [{}], [{ n: 1.5 }]],
  },
  {
    name: 'properties $ref: minimum 0 ↔ 10',
    wide: withDefs(obj({ a: ref('A') }), { A: { type: 'integer', minimum: 0 } }),
    narrow: withDefs(obj({ a: ref('A') }), { A: { type: 'integer', minimum: 10 } }),
    witness: { a: 5 },
    samples: [{ a: 10 }, {}, { a: 5 }, { a: -1 }],
  },
  {
    name: 'additionalProperties $ref: V number ↔ integer',
    wide: withDefs(obj({}, { additionalProperties: ref('V') }), { V: N }),
    narrow: withDefs(obj({}, { additionalProperties: ref('V') }), { V: I }),
    witness: { x: 1.5 },
    samples: [{ x: 1 }, {}, { x: 1.5 }, { x: 'a' }],
  },
  {
    name: 'anyOf [$ref Foo, null] (the Optional pattern): Foo maxLength none ↔ 3',
    wide: withDefs({ anyOf: [ref('Foo'), { type: 'null' }] }, { Foo: S }),
    narrow: withDefs({ anyOf: [ref('Foo'), { type: 'null' }] }, { Foo: { type: 'string', maxLength: 3 } }),
    witness: 'abcdef',
    samples: [null, 'ab', 'abcdef', 1],
  },
  {
    name: 'oneOf [$ref Ok, $ref Err]: Err enum [a, b] ↔ [a]',
    wide: withDefs(
      { oneOf: [ref('Ok'), ref('Err')] },
      {
        Ok: obj({ ok: { const: true } }, { required: ['ok'] }),
        Err: obj({ error: { enum: ['a', 'b'] } }, { required: ['error'] }),
      },
    ),
    narrow: withDefs(
      { oneOf: [ref('Ok'), ref('Err')] },
      {
        Ok: obj({ ok: { const: true } }, { required: ['ok'] }),
        Err: obj({ error: { enum: ['a'] } }, { required: ['error'] }),
      },
    ),
    witness: { error: 'b' },
    samples: [{ ok: true }, { error: 'a' }, { error: 'b' }, {}],
  },
  {
    name: '$ref with a sibling maxLength 100: the target maxLength 10 ↔ 5 (both apply)',
    wide: withDefs({ $ref: '#/$defs/Name', maxLength: 100 }, { Name: { type: 'string', maxLength: 10 } }),
    narrow: withDefs({ $ref: '#/$defs/Name', maxLength: 100 }, { Name: { type: 'string', maxLength: 5 } }),
    witness: 'abcdefg',
    samples: ['abc', 'abcdefg', 'x'.repeat(20)],
  },
  {
    name: "root $ref with sibling properties: Base.a number ↔ integer (Base's properties still apply)",
    wide: withDefs({ $ref: '#/$defs/Base', properties: { extra: S } }, { Base: obj({ a: N }) }),
    narrow: withDefs({ $ref: '#/$defs/Base', properties: { extra: S } }, { Base: obj({ a: I }) }),
    witness: { a: 1.5 },
    samples: [{ a: 1, extra: 'x' }, {}, { a: 1.5 }, { extra: 1 }],
  },
  {
    name: 'a $ref resolved against a nested $id: the inner B integer ↔ integer maximum 5 (the root B unchanged)',
    wide: nestedId({ type: 'integer' }),
    narrow: nestedId({ type: 'integer', maximum: 5 }),
    witness: { a: { v: 7 } },
    samples: [{ a: { v: 3 } }, { a: { v: 7 } }, { a: { v: 'x' } }, {}],
  },
  {
    name: 'a $ref chain A → B: B maxLength 8 ↔ 4',
    wide: withDefs(obj({ a: ref('A') }), { A: ref('B'), B: { type: 'string', maxLength: 8 } }),
    narrow: withDefs(obj({ a: ref('A') }), { A: ref('B'), B: { type: 'string', maxLength: 4 } }),
    witness: { a: 'abcdef' },
    samples: [{ a: 'ab' }, { a: 'abcdef' }, {}],
  },
  {
    name: 'draft-07 definitions: properties $ref A string ↔ string minLength 2',
    wide: { ...obj({ a: { $ref: '#/definitions/A' } }), definitions: { A: S } },
    narrow: {
      ...obj({ a: { $ref: '#/definitions/A' } }),
      definitions: { A: { type: 'string', minLength: 2 } },
    },
    witness: { a: 'x' },
    samples: [{ a: 'xy' }, { a: 'x' }, {}],
  },
  {
    name: 'not $ref Forbidden: Forbidden const x ↔ enum [x, y]',
    wide: withDefs({ type: 'string', not: ref('Forbidden') }, { Forbidden: { const: 'x' } }),
    narrow: withDefs({ type: 'string', not: ref('Forbidden') }, { Forbidden: { enum: ['x', 'y'] } }),
    witness: 'y',
    samples: ['z', 'x', 'y'],
  },
  {
    name: 'allOf [$ref A]: A minLength 1 ↔ 3',
    wide: withDefs({ allOf: [ref('A')] }, { A: { type: 'string', minLength: 1 } }),
    narrow: withDefs({ allOf: [ref('A')] }, { A: { type: 'string', minLength: 3 } }),
    witness: 'ab',
    samples: ['abc', 'ab', ''],
  },
  {
    name: 'recursive $ref Tree: a nested value number ↔ integer',
    wide: withDefs(ref('Tree'), { Tree: obj({ v: N, children: arr(ref('Tree')) }) }),
    narrow: withDefs(ref('Tree'), { Tree: obj({ v: I, children: arr(ref('Tree')) }) }),
    witness: { v: 1, children: [{ v: 1.5 }] },
    samples: [{ v: 1, children: [{ v: 2, children: [] }] }, { children: [{ v: 1.5 }] }, {}],
  },
  {
    name: 'tuple position $ref: items [$ref A]: A string ↔ string maxLength 1',
    wide: withDefs(arr([ref('A')]), { A: S }),
    narrow: withDefs(arr([ref('A')]), { A: { type: 'string', maxLength: 1 } }),
    witness: ['ab'],
    samples: [['a'], ['ab'], [], ['a', 2]],
  },
  {
    name: 'patternProperties $ref: V number ↔ integer',
    wide: withDefs(obj({}, { patternProperties: { '^n_': ref('V') } }), { V: N }),
    narrow: withDefs(obj({}, { patternProperties: { '^n_': ref('V') } }), { V: I }),
    witness: { n_a: 1.5 },
    samples: [{ n_a: 1 }, { n_a: 1.5 }, { x: 1.5 }],
  },
  {
    name: 'additionalItems $ref: V string ↔ string maxLength 2',
    wide: withDefs(arr([I], { additionalItems: ref('V') }), { V: S }),
    narrow: withDefs(arr([I], { additionalItems: ref('V') }), { V: { type: 'string', maxLength: 2 } }),
    witness: [1, 'abc'],
    samples: [[1, 'ab'], [1], [1, 'abc']],
  },
  {
    name: 'contains $ref: C minimum 0 ↔ 10',
    wide: withDefs(arr(I, { contains: ref('C') }), { C: { type: 'integer', minimum: 0 } }),
    narrow: withDefs(arr(I, { contains: ref('C') }), { C: { type: 'integer', minimum: 10 } }),
    witness: [5],
    samples: [[10], [5], [-1]],
  },
  {
    name: 'propertyNames $ref: K maxLength 8 ↔ 2',
    wide: withDefs(obj({}, { propertyNames: ref('K') }), { K: { maxLength: 8 } }),
    narrow: withDefs(obj({}, { propertyNames: ref('K') }), { K: { maxLength: 2 } }),
    witness: { abcd: 1 },
    samples: [{ ab: 1 }, { abcd: 1 }, {}],
  },
  {
    name: "dependencies a → $ref D: D's b string ↔ string maxLength 1",
    wide: withDefs(obj({ a: S }, { dependencies: { a: ref('D') } }), { D: obj({ b: S }) }),
    narrow: withDefs(obj({ a: S }, { dependencies: { a: ref('D') } }), {
      D: obj({ b: { type: 'string', maxLength: 1 } }),
    }),
    witness: { a: 'x', b: 'yy' },
    samples: [{ a: 'x', b: 'y' }, { b: 'yy' }, { a: 'x', b: 'yy' }],
  },
  {
    name: "a $ref to the root (#): a nested node's name string ↔ string maxLength 3",
    wide: obj({ name: S, next: { $ref: '#' } }),
    narrow: obj({ name: { type: 'string', maxLength: 3 }, next: { $ref: '#' } }),
    witness: { next: { name: 'abcdef' } },
    samples: [{ name: 'ab', next: { name: 'cd' } }, { next: { name: 'abcdef' } }, {}],
  },
  {
    name: 'a $ref by absolute URI to a definition with its own $id: number ↔ integer',
    wide: absoluteRef(N),
    narrow: absoluteRef(I),
    witness: { v: 1.5 },
    samples: [{ v: 1 }, { v: 1.5 }, {}],
  },
  {
    name: 'a JSON-pointer $ref into properties: #/properties/a string ↔ string maxLength 2 (reached via b)',
    wide: obj({ a: S, b: { $ref: '#/properties/a' } }),
    narrow: obj({ a: { type: 'string', maxLength: 2 }, b: { $ref: '#/properties/a' } }),
    witness: { b: 'abc' },
    samples: [{ a: 'ab', b: 'ab' }, { b: 'abc' }, {}],
  },
];

/** `{a: {v: $ref '#/definitions/B'}}` where the ref sits under `$id` .../sub/a.json, so B is A's own, not the root's. */
function nestedId(innerB: JsonSchema): Schema {
  return {
    $id: 'http://plugbay.test/root.json',
    type: 'object',
    properties: { a: { $ref: 'sub/a.json' } },
    definitions: {
      A: {
        $id: 'sub/a.json',
        type: 'object',
        properties: { v: { $ref: '#/definitions/B' } },
        definitions: { B: innerB },
      },
      B: { type: 'integer' },
    },
  };
}

/** `{v: $ref 'http://plugbay.test/v.json'}`: the target found by its `$id`, not by a JSON pointer. */
function absoluteRef(v: Schema): Schema {
  return {
    $id: 'http://plugbay.test/abs.json',
    type: 'object',
    properties: { v: { $ref: 'http://plugbay.test/v.json' } },
    definitions: { V: { $id: 'http://plugbay.test/v.json', ...v } },
  };
}
