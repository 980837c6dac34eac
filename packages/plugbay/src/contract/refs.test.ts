import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Change, diffSchemas, type Side } from './diff.js';
import type { JsonSchema } from './snapshot.js';

const S = { type: 'string' };
const N = { type: 'number' };
const I = { type: 'integer' };

/** The changes that block a release: breaking, or unknown (unknown blocks by default). */
function blocking(before: JsonSchema, after: JsonSchema, side: Side): Change[] {
  return diffSchemas(before, after, side, 'f').filter((c) => c.verdict !== 'compatible');
}

function assertBlocks(before: JsonSchema, after: JsonSchema, side: Side, path: string, verdict = 'breaking') {
  const got = blocking(before, after, side);
  assert.ok(
    got.some((c) => c.path === path && c.verdict === verdict),
    `expected a ${verdict} change at ${path}, got ${JSON.stringify(got.map((c) => [c.path, c.rule, c.verdict]))}`,
  );
}

// Issue #15, false negatives 1–9: each pair passed as compatible before $ref resolution.
describe('contract diff through $ref (issue #15 findings)', () => {
  it('1: items {$ref} whose object field narrows number → integer (input)', () => {
    const schema = (n: JsonSchema) => ({
      $defs: { P: { type: 'object', properties: { n } } },
      type: 'array',
      items: { $ref: '#/$defs/P' },
    });
    assertBlocks(schema(N), schema(I), 'input', '/items/properties/n/type');
  });

  it('2: the Optional pattern anyOf [{$ref}, null] with the target narrowed (input)', () => {
    const schema = (max: number) => ({
      $defs: { Foo: { type: 'string', maxLength: max } },
      type: 'object',
      properties: { foo: { anyOf: [{ $ref: '#/$defs/Foo' }, { type: 'null' }] } },
    });
    assertBlocks(schema(50), schema(5), 'input', '/properties/foo/anyOf/0/maxLength');
  });

  it('3: additionalProperties {$ref} integer → number (output)', () => {
    const schema = (v: JsonSchema) => ({
      $defs: { V: v },
      type: 'object',
      additionalProperties: { $ref: '#/$defs/V' },
    });
    assertBlocks(schema(I), schema(N), 'output', '/additionalProperties/type');
  });

  it('4: oneOf [{$ref Ok}, {$ref Err}] with Err gaining an enum value (output)', () => {
    const schema = (codes: string[]) => ({
      $defs: {
        Ok: { type: 'object', properties: { ok: { const: true } }, required: ['ok'] },
        Err: { type: 'object', properties: { code: { enum: codes } }, required: ['code'] },
      },
      oneOf: [{ $ref: '#/$defs/Ok' }, { $ref: '#/$defs/Err' }],
    });
    assertBlocks(schema(['a']), schema(['a', 'b']), 'output', '/oneOf/1/properties/code/enum');
  });

  it('5: {$ref: Name, maxLength: 100} applies both: Name maxLength 10 → 5 (input)', () => {
    const schema = (max: number) => ({
      $defs: { Name: { type: 'string', maxLength: max } },
      type: 'object',
      properties: { name: { $ref: '#/$defs/Name', maxLength: 100 } },
    });
    assertBlocks(schema(10), schema(5), 'input', '/properties/name/maxLength');
  });

  it('6: root {$ref: Base, properties: {extra}} with Base.a narrowed (input)', () => {
    const schema = (a: JsonSchema) => ({
      $defs: { Base: { type: 'object', properties: { a } } },
      $ref: '#/$defs/Base',
      properties: { extra: S },
    });
    assertBlocks(schema(N), schema(I), 'input', '/properties/a/type');
  });

  it('7: a $ref inside a nested $id resolves against that $id, not the document root', () => {
    const schema = (inner: JsonSchema) => ({
      $id: 'https://example.com/root.json',
      $defs: {
        T: S, // the root's T: unchanged, and the wrong target
        Sub: {
          $id: 'https://example.com/sub/item.json',
          $defs: { T: inner },
          type: 'object',
          properties: { t: { $ref: '#/$defs/T' } },
        },
      },
      type: 'object',
      properties: { sub: { $ref: 'sub/item.json' } },
    });
    assertBlocks(schema(N), schema(I), 'input', '/properties/sub/properties/t/type');
  });

  it('8: input property removed under a schema-valued additionalProperties (now refused)', () => {
    assertBlocks(
      { type: 'object', properties: { a: S }, additionalProperties: I },
      { type: 'object', properties: {}, additionalProperties: I },
      'input',
      '/properties/a',
    );
  });

  it('9: output property added under a schema-valued additionalProperties', () => {
    assertBlocks(
      { type: 'object', properties: {}, additionalProperties: I },
      { type: 'object', properties: { a: S }, additionalProperties: I },
      'output',
      '/properties/a',
    );
  });

  it('the greeter experiment: tags.items {$ref: Tag}, Tag maxLength 50 → 5 names maxLength', () => {
    const schema = (max: number) => ({
      $defs: { Tag: { type: 'string', maxLength: max } },
      type: 'object',
      properties: { name: S, tags: { type: 'array', items: { $ref: '#/$defs/Tag' } } },
      required: ['name'],
    });
    const got = blocking(schema(50), schema(5), 'input');
    assert.deepEqual(
      got.map((c) => [c.rule, c.verdict, c.path, c.field]),
      [['input.max-length.decreased', 'breaking', '/properties/tags/items/maxLength', 'tags[]']],
    );
    assert.match(got[0]?.message ?? '', /maxLength decreased from 50 to 5 \(in \$ref #\/\$defs\/Tag\)/);
  });
});

type Row = [
  name: string,
  side: Side,
  before: JsonSchema,
  after: JsonSchema,
  expected: [string, string, string][],
];
/** One test per row: the diff reports exactly the row's changes. */
function tableTests(table: Row[]): void {
  for (const [name, side, before, after, expected] of table) {
    it(name, () => {
      const got = diffSchemas(before, after, side, 'f').map((c) => [c.rule, c.verdict, c.path]);
      assert.deepEqual(got, expected);
    });
  }
}

const T = (t: JsonSchema) => ({ $defs: { T: t } });
const oneOfT = { oneOf: [{ $ref: '#/$defs/T' }, S] };
// Built from entries: a literal `then` key reads as a thenable to the linter.
const ifThen = Object.fromEntries([
  ['if', { $ref: '#/$defs/T' }],
  ['then', { minimum: 0 }],
]);

// What resolution reports beyond the findings: [rule, verdict, path] for each change, nothing more.
const rows: Row[] = [
  [
    'a $ref to itself is unknown, not a stack overflow',
    'input',
    { $ref: '#', title: 'a' },
    { $ref: '#', title: 'b' },
    [['input.ref.unresolved', 'unknown', '/$ref']],
  ],
  [
    'a missing $ref is unknown even with its text unchanged',
    'input',
    { items: { $ref: '#/$defs/nope' }, title: 'a' },
    { items: { $ref: '#/$defs/nope' }, title: 'b' },
    [['input.ref.unresolved', 'unknown', '/items/$ref']],
  ],
  [
    'a $ref by $anchor is followed',
    'input',
    { $defs: { T: { $anchor: 't', ...N } }, items: { $ref: '#t' } },
    { $defs: { T: { $anchor: 't', ...I } }, items: { $ref: '#t' } },
    [['input.type.narrowed', 'breaking', '/items/type']],
  ],
  [
    'a $ref on one side, the same schema inline on the other',
    'input',
    { ...T(N), items: { $ref: '#/$defs/T' } },
    { items: N },
    [],
  ],
  [
    '$ref siblings that cannot merge keyword by keyword stay an allOf: unknown when the target changed',
    'input',
    { ...T({ ...S, maxLength: 5 }), $ref: '#/$defs/T', type: ['string', 'null'] },
    { ...T({ ...S, maxLength: 3 }), $ref: '#/$defs/T', type: ['string', 'null'] },
    [['input.all-of.changed', 'unknown', '/allOf']],
  ],
  [
    "allOf branches resolve on each side against that side's own $id",
    'input',
    {
      $id: 'https://a.example/root.json',
      $defs: { Item: { $id: 'item.json', ...N } },
      allOf: [{ $ref: 'item.json' }],
    },
    {
      $id: 'https://b.example/root.json',
      $defs: { Item: { $id: 'item.json', ...I } },
      allOf: [{ $ref: 'item.json' }],
    },
    [['input.type.narrowed', 'breaking', '/allOf/0/type']],
  ],
  [
    'allOf [$ref] with the target narrowed',
    'input',
    { ...T(N), allOf: [{ $ref: '#/$defs/T' }] },
    { ...T(I), allOf: [{ $ref: '#/$defs/T' }] },
    [['input.type.narrowed', 'breaking', '/allOf/0/type']],
  ],
  [
    'not {$ref} with the target widened narrows the whole (input)',
    'input',
    { ...T(I), not: { $ref: '#/$defs/T' } },
    { ...T(N), not: { $ref: '#/$defs/T' } },
    [['input.type.widened', 'breaking', '/not/type']],
  ],
  [
    'not {$ref} with the target widened is compatible on output',
    'output',
    { ...T(I), not: { $ref: '#/$defs/T' } },
    { ...T(N), not: { $ref: '#/$defs/T' } },
    [['output.type.widened', 'compatible', '/not/type']],
  ],
  [
    'a oneOf branch widened on input is unknown (branches may now overlap)',
    'input',
    { ...T(I), oneOf: [{ $ref: '#/$defs/T' }, S] },
    { ...T(N), oneOf: [{ $ref: '#/$defs/T' }, S] },
    [['input.type.widened', 'unknown', '/oneOf/0/type']],
  ],
  [
    'a property removed onto an additionalProperties oneOf that widens on input is unknown, not compatible',
    'input',
    { ...T(I), type: 'object', properties: { a: oneOfT }, additionalProperties: oneOfT },
    { ...T(N), type: 'object', properties: {}, additionalProperties: oneOfT },
    [
      ['input.property.removed', 'unknown', '/properties/a'],
      ['input.type.widened', 'unknown', '/additionalProperties/oneOf/0/type'],
    ],
  ],
  [
    'patternProperties with a changed $ref target is unknown',
    'input',
    { ...T(N), patternProperties: { x: { $ref: '#/$defs/T' } } },
    { ...T(I), patternProperties: { x: { $ref: '#/$defs/T' } } },
    [['input.keyword.unknown', 'unknown', '/patternProperties']],
  ],
  [
    'a changed $ref target is not hidden by an earlier use whose siblings mask the change',
    'input',
    {
      ...T({ ...S, maxLength: 5 }),
      patternProperties: { x: { $ref: '#/$defs/T', maxLength: 3 }, y: { $ref: '#/$defs/T' } },
    },
    {
      ...T({ ...S, maxLength: 4 }),
      patternProperties: { x: { $ref: '#/$defs/T', maxLength: 3 }, y: { $ref: '#/$defs/T' } },
    },
    [['input.keyword.unknown', 'unknown', '/patternProperties']],
  ],
  [
    'if {$ref} with a changed target is unknown',
    'input',
    { ...T(N), ...ifThen },
    { ...T(I), ...ifThen },
    [['input.if.changed', 'unknown', '/if']],
  ],
  [
    'a $dynamicRef is never proven unchanged',
    'input',
    { properties: { x: { $dynamicRef: '#n' } }, $defs: { n: { $dynamicAnchor: 'n', ...N } } },
    { properties: { x: { $dynamicRef: '#n' } }, $defs: { n: { $dynamicAnchor: 'n', ...I } } },
    [['input.keyword.unknown', 'unknown', '/properties/x/$dynamicRef']],
  ],
  [
    'a property removed where additionalProperties applies the same schema is compatible',
    'input',
    { ...T(I), type: 'object', properties: { a: I }, additionalProperties: { $ref: '#/$defs/T' } },
    { ...T(I), type: 'object', properties: {}, additionalProperties: { $ref: '#/$defs/T' } },
    [['input.property.removed', 'compatible', '/properties/a']],
  ],
  [
    'a property removed where a wider patternProperties applies is compatible on input',
    'input',
    { type: 'object', properties: { ab: I }, patternProperties: { '^a': N } },
    { type: 'object', properties: {}, patternProperties: { '^a': N } },
    [['input.property.removed', 'compatible', '/properties/ab']],
  ],
  [
    'an output property added narrower than the additionalProperties it leaves is compatible',
    'output',
    { type: 'object', additionalProperties: N },
    { type: 'object', properties: { a: I }, additionalProperties: N },
    [['output.property.added', 'compatible', '/properties/a']],
  ],
];

describe('contract diff through $ref (rules)', () => {
  tableTests(rows);

  it('a recursive schema through the root is compared without a stack overflow', () => {
    const tree = (v: JsonSchema) => ({
      type: 'object',
      properties: { v, kids: { type: 'array', items: { $ref: '#' } } },
    });
    const wrapped = (v: JsonSchema, title: string) => ({
      title,
      $defs: { tree: tree(v) },
      $ref: '#/$defs/tree',
    });
    assert.deepEqual(diffSchemas(wrapped(N, 'a'), wrapped(N, 'b'), 'input', 'f'), []);
    const got = diffSchemas(tree(N), tree(I), 'input', 'f');
    assert.ok(got.some((c) => c.verdict === 'breaking' && c.path === '/properties/v/type'));
    assert.ok(got.every((c) => c.verdict !== 'compatible'));
  });
});

// Issue #15's false positives: equivalent or widening rewrites, blocked before.
const equivalents: Row[] = [
  ['enum [a] → const a', 'output', { enum: ['a'] }, { const: 'a' }, []],
  ['const a → enum [a]', 'input', { const: 'a' }, { enum: ['a'] }, []],
  [
    'const a → enum [a, b] still widens',
    'output',
    { const: 'a' },
    { enum: ['a', 'b'] },
    [['output.enum.value-added', 'breaking', '/enum']],
  ],
  ['{type: number, multipleOf: 1} → {type: integer}', 'input', { ...N, multipleOf: 1 }, I, []],
  ['{type: integer} → {type: number, multipleOf: 1}', 'output', I, { ...N, multipleOf: 1 }, []],
  [
    'minimum 0 → exclusiveMinimum -1 widens (input)',
    'input',
    { ...N, minimum: 0 },
    { ...N, exclusiveMinimum: -1 },
    [['input.minimum.traded', 'compatible', '/minimum']],
  ],
  [
    'minimum 0 → exclusiveMinimum 0 narrows (input)',
    'input',
    { ...N, minimum: 0 },
    { ...N, exclusiveMinimum: 0 },
    [['input.minimum.traded', 'breaking', '/minimum']],
  ],
  [
    'exclusiveMaximum 10 → maximum 10 widens (output)',
    'output',
    { ...N, exclusiveMaximum: 10 },
    { ...N, maximum: 10 },
    [['output.maximum.traded', 'breaking', '/maximum']],
  ],
  [
    '{type: string, enum: [a, b]} → {enum: [a, b]}',
    'output',
    { ...S, enum: ['a', 'b'] },
    { enum: ['a', 'b'] },
    [],
  ],
  [
    '{type: string, enum: [a]} → {enum: [a, 1]} still widens the type',
    'output',
    { ...S, enum: ['a'] },
    { enum: ['a', 1] },
    [
      ['output.type.widened', 'breaking', '/type'],
      ['output.enum.value-added', 'breaking', '/enum'],
    ],
  ],
  ['a minimum added to a string field', 'input', S, { ...S, minimum: 3 }, []],
  [
    'a pattern rewritten equivalently: [0-9] → \\d',
    'input',
    { ...S, pattern: '^[0-9]{5}$' },
    { ...S, pattern: '^\\d{5}$' },
    [['input.pattern.changed', 'compatible', '/pattern']],
  ],
  [
    'a pattern that only widens (input): zip → zip+4 optional',
    'input',
    { ...S, pattern: '^[0-9]{5}$' },
    { ...S, pattern: '^[0-9]{5}(-[0-9]{4})?$' },
    [['input.pattern.changed', 'compatible', '/pattern']],
  ],
  [
    'a pattern that only widens is breaking on output',
    'output',
    { ...S, pattern: '^[a-z]+$' },
    { ...S, pattern: '^[a-z0-9]+$' },
    [['output.pattern.changed', 'breaking', '/pattern']],
  ],
  [
    'an unanchored pattern anchored narrows (input)',
    'input',
    { ...S, pattern: 'id-' },
    { ...S, pattern: '^id-' },
    [['input.pattern.changed', 'breaking', '/pattern']],
  ],
  [
    'a pattern with a lookahead is undecided: unknown',
    'input',
    { ...S, pattern: '^(?=a)\\w+$' },
    { ...S, pattern: '^\\w+$' },
    [['input.pattern.changed', 'unknown', '/pattern']],
  ],
  [
    'an anyOf branch covered by another removed (input)',
    'input',
    { anyOf: [S, { ...S, maxLength: 5 }] },
    { anyOf: [S] },
    [['input.any-of.rewritten', 'compatible', '/anyOf']],
  ],
  [
    'an anyOf branch added inside an old one (output)',
    'output',
    { anyOf: [S, I] },
    { anyOf: [S, I, { ...S, maxLength: 3 }] },
    [['output.any-of.rewritten', 'compatible', '/anyOf']],
  ],
  [
    'an anyOf branch rewritten wider (input)',
    'input',
    { anyOf: [{ ...S, maxLength: 5 }, I] },
    { anyOf: [S, I] },
    [['input.any-of.branch-added', 'compatible', '/anyOf']],
  ],
  [
    'integer → number inside anyOf: a rewrite that widens',
    'input',
    { anyOf: [S, I] },
    { anyOf: [S, N] },
    [['input.any-of.branch-added', 'compatible', '/anyOf']],
  ],
  [
    'an anyOf branch removed that no other covers: breaking',
    'input',
    { anyOf: [S, N] },
    { anyOf: [S, { ...N, maximum: 3 }] },
    [['input.any-of.branch-removed', 'breaking', '/anyOf']],
  ],
  ['a maxLength added to a number field', 'input', N, { ...N, maxLength: 3 }, []],
  [
    'a minimum added to a string-or-number field still narrows',
    'input',
    { type: ['string', 'number'] },
    { type: ['string', 'number'], minimum: 3 },
    [['input.minimum.added', 'breaking', '/minimum']],
  ],
];

describe('contract diff: equivalent rewrites are not breaking (issue #15 false positives)', () => {
  tableTests(equivalents);
});
