// The adversarial corpus of contract changes (issue #15). Built from the JSON Schema spec (draft-07 plus `$defs`,
// as the host's Ajv reads it), never from the differ's rules: each verdict follows from which values each schema
// accepts, and corpus.test.ts checks every witness and sample with the host's own Ajv.
//
// Most entries are a relation `wide ⊋ narrow` with a witness (accepted by wide, refused by narrow). One relation
// gives four pairs: wide → narrow breaks an input (callers' old values are refused) and is safe on an output;
// narrow → wide is safe on an input and breaks an output (callers get values they were never promised).

import {
  arr,
  type CorpusPair,
  I,
  N,
  obj,
  type Relation,
  ref,
  refRelations,
  S,
  withDefs,
} from './corpus-refs.test.shared.js';
import type { JsonSchema } from './snapshot.js';

export type { CorpusPair, CorpusSide } from './corpus-refs.test.shared.js';

const relations: Relation[] = [
  ...refRelations,
  // --- combinators
  {
    name: 'anyOf [string, integer] ↔ anyOf [string]',
    wide: { anyOf: [S, I] },
    narrow: { anyOf: [S] },
    witness: 1,
    samples: ['a', 1, null],
  },
  {
    name: 'oneOf [string, integer]: the string branch maxLength none ↔ 2',
    wide: { oneOf: [S, I] },
    narrow: { oneOf: [{ type: 'string', maxLength: 2 }, I] },
    witness: 'abc',
    samples: ['ab', 1, 'abc'],
  },
  {
    name: 'allOf [string] ↔ allOf [string, minLength 2]',
    wide: { allOf: [S] },
    narrow: { allOf: [S, { minLength: 2 }] },
    witness: 'a',
    samples: ['ab', 'a', 1],
  },
  {
    name: 'not string ↔ not [string, null]',
    wide: { not: S },
    narrow: { not: { type: ['string', 'null'] } },
    witness: null,
    samples: [1, null, 'a'],
  },
  {
    name: 'no if ↔ if kind = a then x required',
    wide: obj({ kind: S }),
    narrow: obj(
      { kind: S },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited
      { if: obj({ kind: { const: 'a' } }, { required: ['kind'] }), then: { required: ['x'] } },
    ),
    witness: { kind: 'a' },
    samples: [{ kind: 'a', x: 1 }, { kind: 'b' }, { kind: 'a' }],
  },
  {
    name: 'anyOf of two objects ↔ the first object only',
    wide: { anyOf: [obj({ a: S }, { required: ['a'] }), obj({ b: S }, { required: ['b'] })] },
    narrow: { anyOf: [obj({ a: S }, { required: ['a'] })] },
    witness: { b: 'x' },
    samples: [{ a: 'x' }, { b: 'x' }, {}],
  },

  // --- closed and open objects
  {
    name: 'open object ↔ additionalProperties false',
    wide: obj({ a: S }),
    narrow: obj({ a: S }, { additionalProperties: false }),
    witness: { b: 1 },
    samples: [{ a: 'x' }, {}, { b: 1 }],
  },
  {
    name: 'closed object: property b ↔ removed',
    wide: obj({ a: S, b: S }, { additionalProperties: false }),
    narrow: obj({ a: S }, { additionalProperties: false }),
    witness: { b: 'x' },
    samples: [{ a: 'x' }, { b: 'x' }, {}],
  },
  {
    name: 'patternProperties ^n_ number: none ↔ added on an open object',
    wide: obj({}),
    narrow: obj({}, { patternProperties: { '^n_': N } }),
    witness: { n_a: 'x' },
    samples: [{ n_a: 1 }, { n_a: 'x' }, { m: 'x' }],
  },
  {
    name: 'required [] ↔ [a]',
    wide: obj({ a: S }),
    narrow: obj({ a: S }, { required: ['a'] }),
    witness: {},
    samples: [{ a: 'x' }, {}],
  },
  {
    name: 'property a string | number ↔ string',
    wide: obj({ a: { type: ['string', 'number'] } }),
    narrow: obj({ a: S }),
    witness: { a: 1 },
    samples: [{ a: 'x' }, { a: 1 }, {}],
  },
  {
    name: 'maxProperties 3 ↔ 1',
    wide: obj({}, { maxProperties: 3 }),
    narrow: obj({}, { maxProperties: 1 }),
    witness: { a: 1, b: 2 },
    samples: [{ a: 1 }, { a: 1, b: 2 }, {}],
  },
  {
    name: 'propertyNames: none ↔ pattern ^[a-z]+$',
    wide: obj({}),
    narrow: obj({}, { propertyNames: { pattern: '^[a-z]+$' } }),
    witness: { A: 1 },
    samples: [{ a: 1 }, { A: 1 }, {}],
  },
  {
    name: 'dependencies: none ↔ a requires b',
    wide: obj({ a: S, b: S }),
    narrow: obj({ a: S, b: S }, { dependencies: { a: ['b'] } }),
    witness: { a: 'x' },
    samples: [{ a: 'x', b: 'y' }, { b: 'y' }, { a: 'x' }],
  },
  {
    name: 'nested object: o.p string ↔ string maxLength 1',
    wide: obj({ o: obj({ p: S }) }),
    narrow: obj({ o: obj({ p: { type: 'string', maxLength: 1 } }) }),
    witness: { o: { p: 'ab' } },
    samples: [{ o: { p: 'a' } }, { o: { p: 'ab' } }, { o: {} }],
  },

  // --- tuples and arrays (draft-07 items array; prefixItems is 2020-12, which the host's Ajv ignores)
  {
    name: 'tuple [string, number] ↔ [string, integer]',
    wide: arr([S, N]),
    narrow: arr([S, I]),
    witness: ['a', 1.5],
    samples: [['a', 1], ['a', 1.5], ['a']],
  },
  {
    name: 'tuple additionalItems true ↔ false',
    wide: arr([S, I]),
    narrow: arr([S, I], { additionalItems: false }),
    witness: ['a', 1, 'extra'],
    samples: [['a', 1], ['a', 1, 'extra'], []],
  },
  {
    name: 'array maxItems 5 ↔ 2',
    wide: arr(I, { maxItems: 5 }),
    narrow: arr(I, { maxItems: 2 }),
    witness: [1, 2, 3],
    samples: [[1], [1, 2, 3], []],
  },
  {
    name: 'array minItems 0 ↔ 1',
    wide: arr(I),
    narrow: arr(I, { minItems: 1 }),
    witness: [],
    samples: [[1], []],
  },
  {
    name: 'array uniqueItems none ↔ true',
    wide: arr(I),
    narrow: arr(I, { uniqueItems: true }),
    witness: [1, 1],
    samples: [
      [1, 2],
      [1, 1],
    ],
  },
  {
    name: 'array contains none ↔ contains const 1',
    wide: arr(I),
    narrow: arr(I, { contains: { const: 1 } }),
    witness: [2],
    samples: [[1, 2], [2]],
  },

  // --- formats
  {
    name: 'string ↔ format email',
    wide: S,
    narrow: { type: 'string', format: 'email' },
    witness: 'not an email',
    samples: ['a@example.com', 'not an email'],
  },
  {
    name: 'format uri-reference ↔ uri',
    wide: { type: 'string', format: 'uri-reference' },
    narrow: { type: 'string', format: 'uri' },
    witness: '/relative/path',
    samples: ['https://example.com/x', '/relative/path'],
  },
  {
    name: 'string ↔ format uuid',
    wide: S,
    narrow: { type: 'string', format: 'uuid' },
    witness: 'not-a-uuid',
    samples: ['123e4567-e89b-12d3-a456-426614174000', 'not-a-uuid'],
  },

  // --- const and enum
  {
    name: 'enum [a, b, c] ↔ [a, b]',
    wide: { enum: ['a', 'b', 'c'] },
    narrow: { enum: ['a', 'b'] },
    witness: 'c',
    samples: ['a', 'c', 'd'],
  },
  {
    name: 'enum [a, b] ↔ const a',
    wide: { enum: ['a', 'b'] },
    narrow: { const: 'a' },
    witness: 'b',
    samples: ['a', 'b'],
  },
  {
    name: 'string enum [a, b] ↔ string enum [a] (in a property)',
    wide: obj({ k: { type: 'string', enum: ['a', 'b'] } }),
    narrow: obj({ k: { type: 'string', enum: ['a'] } }),
    witness: { k: 'b' },
    samples: [{ k: 'a' }, { k: 'b' }, {}],
  },
  {
    name: 'enum [1, "1"] ↔ [1] (types matter)',
    wide: { enum: [1, '1'] },
    narrow: { enum: [1] },
    witness: '1',
    samples: [1, '1'],
  },
  {
    name: 'string ↔ const a',
    wide: S,
    narrow: { const: 'a' },
    witness: 'b',
    samples: ['a', 'b'],
  },

  // --- numeric bounds
  {
    name: 'minimum 0 ↔ 1',
    wide: { type: 'number', minimum: 0 },
    narrow: { type: 'number', minimum: 1 },
    witness: 0.5,
    samples: [1, 0.5, -1],
  },
  {
    name: 'maximum 10 ↔ 9',
    wide: { type: 'integer', maximum: 10 },
    narrow: { type: 'integer', maximum: 9 },
    witness: 10,
    samples: [9, 10, 11],
  },
  {
    name: 'minimum 0 ↔ exclusiveMinimum 0',
    wide: { type: 'number', minimum: 0 },
    narrow: { type: 'number', exclusiveMinimum: 0 },
    witness: 0,
    samples: [0.1, 0, -1],
  },
  {
    name: 'exclusiveMaximum 10 ↔ 5',
    wide: { type: 'number', exclusiveMaximum: 10 },
    narrow: { type: 'number', exclusiveMaximum: 5 },
    witness: 7,
    samples: [4.9, 7, 10],
  },
  {
    name: 'number exclusiveMinimum -1 ↔ minimum 0',
    wide: { type: 'number', exclusiveMinimum: -1 },
    narrow: { type: 'number', minimum: 0 },
    witness: -0.5,
    samples: [0, -0.5, -1],
  },
  {
    name: 'multipleOf 2 ↔ 4',
    wide: { type: 'integer', multipleOf: 2 },
    narrow: { type: 'integer', multipleOf: 4 },
    witness: 2,
    samples: [8, 2, 3],
  },
  {
    name: 'multipleOf 0.5 ↔ 1',
    wide: { type: 'number', multipleOf: 0.5 },
    narrow: { type: 'number', multipleOf: 1 },
    witness: 0.5,
    samples: [2, 0.5, 0.3],
  },
  {
    name: 'number ↔ integer',
    wide: N,
    narrow: I,
    witness: 1.5,
    samples: [1, 1.5, 'a'],
  },
  {
    name: 'minLength 0 ↔ 2, maxLength 10 ↔ 5',
    wide: { type: 'string', maxLength: 10 },
    narrow: { type: 'string', minLength: 2, maxLength: 5 },
    witness: 'a',
    samples: ['abc', 'a', 'abcdefg'],
  },
  {
    name: 'type [string, number] ↔ string',
    wide: { type: ['string', 'number'] },
    narrow: S,
    witness: 1,
    samples: ['a', 1],
  },

  // --- patterns
  {
    name: 'string ↔ pattern ^[a-z]+$',
    wide: S,
    narrow: { type: 'string', pattern: '^[a-z]+$' },
    witness: 'ABC',
    samples: ['abc', 'ABC'],
  },
  {
    name: 'pattern ^[a-z0-9]+$ ↔ ^[a-z]+$',
    wide: { type: 'string', pattern: '^[a-z0-9]+$' },
    narrow: { type: 'string', pattern: '^[a-z]+$' },
    witness: 'a1',
    samples: ['abc', 'a1', '-'],
  },
  {
    name: 'pattern ^[a-z]+$ ↔ ^[a-z]{1,3}$',
    wide: { type: 'string', pattern: '^[a-z]+$' },
    narrow: { type: 'string', pattern: '^[a-z]{1,3}$' },
    witness: 'abcd',
    samples: ['ab', 'abcd'],
  },

  // --- nullable forms
  {
    name: 'type [string, null] ↔ string',
    wide: { type: ['string', 'null'] },
    narrow: S,
    witness: null,
    samples: ['a', null],
  },
  {
    name: 'anyOf [string, null] ↔ string',
    wide: { anyOf: [S, { type: 'null' }] },
    narrow: S,
    witness: null,
    samples: ['a', null, 1],
  },
  {
    name: 'oneOf [object, null] ↔ object (a property)',
    wide: obj({ p: { oneOf: [obj({ a: S }), { type: 'null' }] } }),
    narrow: obj({ p: obj({ a: S }) }),
    witness: { p: null },
    samples: [{ p: { a: 'x' } }, { p: null }, {}],
  },
  {
    name: 'OpenAPI nullable: true ↔ absent (Ajv honours nullable)',
    wide: { type: 'string', nullable: true },
    narrow: S,
    witness: null,
    samples: ['a', null, 1],
  },
  {
    name: 'enum [a, null] ↔ [a]',
    wide: { enum: ['a', null] },
    narrow: { enum: ['a'] },
    witness: null,
    samples: ['a', null],
  },
];

/** Changes that neither narrow nor widen: compatible both ways, on both sides. */
const equivalences: { name: string; a: JsonSchema; b: JsonSchema; samples: unknown[] }[] = [
  { name: 'enum [a] ≡ const a', a: { enum: ['a'] }, b: { const: 'a' }, samples: ['a', 'b', 1] },
  {
    name: 'number multipleOf 1 ≡ integer',
    a: { type: 'number', multipleOf: 1 },
    b: I,
    samples: [1, 1.5, 0, 'a'],
  },
  {
    name: 'integer minimum 0 ≡ integer exclusiveMinimum -1',
    a: { type: 'integer', minimum: 0 },
    b: { type: 'integer', exclusiveMinimum: -1 },
    samples: [0, -1, 5],
  },
  {
    name: 'pattern ^[a-z]+$ ≡ ^[a-z][a-z]*$',
    a: { type: 'string', pattern: '^[a-z]+$' },
    b: { type: 'string', pattern: '^[a-z][a-z]*$' },
    samples: ['a', 'abc', '', 'A'],
  },
  {
    name: 'anyOf [string, string maxLength 3] (a covered branch) ≡ string',
    a: { anyOf: [S, { type: 'string', maxLength: 3 }] },
    b: S,
    samples: ['a', 'abcdef', 1],
  },
  {
    name: 'string enum [a, b] ≡ enum [a, b]',
    a: { type: 'string', enum: ['a', 'b'] },
    b: { enum: ['a', 'b'] },
    samples: ['a', 'b', 'c'],
  },
  {
    name: 'string ≡ string with a minimum (numbers only)',
    a: S,
    b: { type: 'string', minimum: 5 },
    samples: ['a', '1', 1],
  },
  {
    name: 'integer ≡ integer with a maxLength (strings only)',
    a: I,
    b: { type: 'integer', maxLength: 1 },
    samples: [1, 12345, 'abc'],
  },
  { name: '$ref to a string ≡ inline string', a: withDefs(ref('A'), { A: S }), b: S, samples: ['a', 1] },
  {
    name: 'required [a, b] ≡ [b, a]',
    a: obj({ a: S, b: S }, { required: ['a', 'b'] }),
    b: obj({ a: S, b: S }, { required: ['b', 'a'] }),
    samples: [{ a: 'x', b: 'y' }, { a: 'x' }],
  },
  { name: 'allOf [string] ≡ string', a: { allOf: [S] }, b: S, samples: ['a', 1] },
  { name: 'type [string] ≡ type string', a: { type: ['string'] }, b: S, samples: ['a', 1] },
  {
    name: 'title, description and examples changed (annotations)',
    a: { type: 'string', title: 'Name', description: 'old', examples: ['x'] },
    b: { type: 'string', title: 'Full name', description: 'new', examples: ['y'] },
    samples: ['a', 1],
  },
  {
    name: 'an unused $defs entry narrowed',
    a: withDefs(S, { Unused: N }),
    b: withDefs(S, { Unused: I }),
    samples: ['a', 1.5],
  },
  {
    name: 'additionalProperties true ≡ absent',
    a: obj({ a: S }, { additionalProperties: true }),
    b: obj({ a: S }),
    samples: [{ a: 'x', b: 1 }, { a: 1 }],
  },
  { name: 'items {} ≡ no items', a: arr({}), b: { type: 'array' }, samples: [[1, 'a'], 'a'] },
  {
    name: 'the same $ref target under another $defs name',
    a: withDefs(obj({ a: ref('A') }), { A: { type: 'string', maxLength: 4 } }),
    b: withDefs(obj({ a: ref('B') }), { B: { type: 'string', maxLength: 4 } }),
    samples: [{ a: 'abc' }, { a: 'abcde' }, {}],
  },
  {
    name: 'true ≡ {}',
    a: true,
    b: {},
    samples: [1, 'a', null, {}],
  },
];

/** Changes where each side accepts a value the other refuses: breaking on both sides. */
const crossings: { name: string; a: JsonSchema; b: JsonSchema; onlyA: unknown; onlyB: unknown }[] = [
  {
    name: 'pattern ^a ↔ ^b',
    a: { type: 'string', pattern: '^a' },
    b: { type: 'string', pattern: '^b' },
    onlyA: 'ax',
    onlyB: 'bx',
  },
  { name: 'const a ↔ const b', a: { const: 'a' }, b: { const: 'b' }, onlyA: 'a', onlyB: 'b' },
  {
    name: 'format date-time ↔ date',
    a: { type: 'string', format: 'date-time' },
    b: { type: 'string', format: 'date' },
    onlyA: '2020-01-01T00:00:00Z',
    onlyB: '2020-01-01',
  },
  { name: 'string ↔ number', a: S, b: N, onlyA: 'a', onlyB: 1 },
  {
    name: '$ref target string ↔ integer',
    a: withDefs(obj({ v: ref('V') }), { V: S }),
    b: withDefs(obj({ v: ref('V') }), { V: I }),
    onlyA: { v: 'x' },
    onlyB: { v: 1 },
  },
  {
    // Not a subset either way: without `a`, a value for `a` must be an integer instead of a string.
    name: 'schema-valued additionalProperties integer: property a string removed',
    a: obj({ a: S }, { additionalProperties: I }),
    b: obj({}, { additionalProperties: I }),
    onlyA: { a: 'x' },
    onlyB: { a: 1 },
  },
  {
    name: 'schema-valued additionalProperties integer: property a string added',
    a: obj({}, { additionalProperties: I }),
    b: obj({ a: S }, { additionalProperties: I }),
    onlyA: { a: 1 },
    onlyB: { a: 'x' },
  },
  {
    name: 'minimum 0 maximum 10 ↔ minimum 5 maximum 15',
    a: { type: 'integer', minimum: 0, maximum: 10 },
    b: { type: 'integer', minimum: 5, maximum: 15 },
    onlyA: 1,
    onlyB: 12,
  },
];

/**
 * Breaking pairs the gate misses today, by name, with why: the test runs them as todo and names those that pass.
 * Empty since the differ resolves `$ref` and models schema-valued additionalProperties (issue #15).
 */
export const knownFalseNegatives: Record<string, string> = {};

function build(): CorpusPair[] {
  const pairs: CorpusPair[] = [];
  for (const r of relations) {
    pairs.push(
      {
        name: `[input] ${r.name}: narrowed`,
        side: 'input',
        before: r.wide,
        after: r.narrow,
        verdict: 'breaking',
        witness: r.witness,
      },
      {
        name: `[output] ${r.name}: narrowed`,
        side: 'output',
        before: r.wide,
        after: r.narrow,
        verdict: 'compatible',
        samples: r.samples,
      },
      {
        name: `[input] ${r.name}: widened`,
        side: 'input',
        before: r.narrow,
        after: r.wide,
        verdict: 'compatible',
        samples: r.samples,
      },
      {
        name: `[output] ${r.name}: widened`,
        side: 'output',
        before: r.narrow,
        after: r.wide,
        verdict: 'breaking',
        witness: r.witness,
      },
    );
  }
  for (const e of equivalences) {
    for (const side of ['input', 'output'] as const) {
      pairs.push({
        name: `[${side}] ${e.name}`,
        side,
        before: e.a,
        after: e.b,
        verdict: 'compatible',
        samples: e.samples,
      });
    }
  }
  for (const c of crossings) {
    // Input: a value the old schema took is refused now; output: a value never promised comes back.
    pairs.push(
      {
        name: `[input] ${c.name}`,
        side: 'input',
        before: c.a,
        after: c.b,
        verdict: 'breaking',
        witness: c.onlyA,
      },
      {
        name: `[output] ${c.name}`,
        side: 'output',
        before: c.a,
        after: c.b,
        verdict: 'breaking',
        witness: c.onlyB,
      },
    );
  }
  return pairs.map((p) =>
    Object.hasOwn(knownFalseNegatives, p.name)
      ? { ...p, knownFalseNegative: knownFalseNegatives[p.name] }
      : p,
  );
}

export const corpus: CorpusPair[] = build();
