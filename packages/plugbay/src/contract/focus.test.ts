import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileSchema, createAjv } from '../core/schema.js';
import { searchWitness, WHOLE_SEARCH_LIMIT } from './focus.js';
import type { JsonSchema } from './snapshot.js';

type Schema = Record<string, unknown>;

/** The host's own verdict on the whole schema: what a witness must satisfy, whatever the search did. */
function valid(schema: JsonSchema, value: unknown): boolean {
  const compiled = compileSchema(createAjv({ validateSchema: false, allErrors: true }), schema);
  assert.ok('validate' in compiled);
  return compiled.validate(value) as boolean;
}

/** A contract as TypeBox writes one: every field required, a shared definition behind `$ref`. */
function generated(
  fields: number,
  change: (props: Record<string, Schema>, defs: Schema) => void = () => {},
): Schema {
  const kinds: Schema[] = [
    { type: 'string', maxLength: 64 },
    { type: 'integer', minimum: 0 },
    { type: 'array', items: { $ref: '#/$defs/Tag' } },
    { enum: ['draft', 'live'] },
  ];
  const properties: Record<string, Schema> = {};
  for (let i = 0; i < fields; i++) properties[`f${i}`] = structuredClone(kinds[i % kinds.length] as Schema);
  const $defs: Schema = { Tag: { type: 'string', maxLength: 50 } };
  change(properties, $defs);
  return {
    type: 'object',
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
    $defs,
  };
}

describe('the witness search, focused on what changed', () => {
  it('finds a field narrowed among 2,000 and builds a whole value both whole schemas judge as claimed', () => {
    const before = generated(2000);
    const after = generated(2000, (props) => {
      props.f1236 = { type: 'string', maxLength: 8 };
    });
    assert.ok(JSON.stringify(before).length > WHOLE_SEARCH_LIMIT, 'too large for the whole search');
    const witness = searchWitness(before, after, 'input');
    assert.ok(witness, 'found');
    assert.equal(witness.field?.pointer, '/f1236');
    assert.match(witness.refusedBy, /^maxLength at \/f1236:/);
    assert.equal(valid(before, witness.value), true, 'the old input accepts it');
    assert.equal(valid(after, witness.value), false, 'the new input refuses it');
  });

  it('follows a shared definition: every field using it is a place to look', () => {
    const before = generated(2000);
    const after = generated(2000, (_, defs) => {
      defs.Tag = { type: 'string', maxLength: 5 };
    });
    const witness = searchWitness(before, after, 'input');
    assert.ok(witness);
    assert.match(witness.refusedBy, /^maxLength at \/f2\/\d+:/);
    assert.equal(valid(before, witness.value), true);
    assert.equal(valid(after, witness.value), false);
  });

  it('an output widened: a value the new version may return that the old promised never to', () => {
    const before = generated(2000, (props) => {
      props.f8 = { type: 'string', maxLength: 4 };
    });
    const after = generated(2000);
    const witness = searchWitness(before, after, 'output');
    assert.ok(witness);
    assert.equal(witness.accepted, 'after');
    assert.equal(valid(after, witness.value), true);
    assert.equal(valid(before, witness.value), false);
  });

  it('the object keywords around the field are checked on the built value (an if/then that ties two fields)', () => {
    // Sizes over 50 need kind "b": a value built around `size` with the first kind found ("a") is refused by
    // the old schema itself, so it must not be offered as a witness.
    const schema = (max: number): Schema => ({
      type: 'object',
      properties: { kind: { enum: ['a', 'b'] }, size: { type: 'integer', maximum: max } },
      required: ['kind', 'size'],
      if: { properties: { size: { minimum: 51 } } },
      // biome-ignore lint/suspicious/noThenProperty: a JSON Schema keyword
      then: { properties: { kind: { const: 'b' } } },
    });
    const witness = searchWitness(schema(100), schema(60), 'input');
    assert.ok(witness);
    assert.equal(valid(schema(100), witness.value), true);
    assert.equal(valid(schema(60), witness.value), false);
    assert.equal((witness.value as Schema).kind, 'b');
  });

  it('a field whose $ref points elsewhere than $defs is left to the whole search, and large ones to the rules', () => {
    const schema = (max: number, fields: number): Schema => {
      const properties: Schema = {
        model: { type: 'string', maxLength: max },
        copy: { $ref: '#/properties/model' },
      };
      for (let i = 0; i < fields; i++) properties[`pad${i}`] = { type: 'string' };
      return { type: 'object', properties };
    };
    const small = searchWitness(schema(50, 0), schema(5, 0), 'input');
    assert.ok(small);
    assert.equal(valid(schema(50, 0), small.value), true);
    assert.equal(valid(schema(5, 0), small.value), false);
    // `model` alone stands alone and is found; `copy` cannot (its $ref reads the root), so it is skipped.
    const large = searchWitness(schema(50, 3000), schema(5, 3000), 'input');
    assert.ok(large);
    assert.equal(large.field?.pointer, '/model');
  });

  it('no witness under a property called __proto__: the host Ajv never looks at one', () => {
    const schema = (type: string) =>
      JSON.parse(`{"type":"object","properties":{"__proto__":{"type":"${type}"}},"required":["__proto__"]}`);
    const value = JSON.parse('{"__proto__": 1.5}');
    assert.equal(
      valid(schema('integer'), value),
      true,
      'Ajv ignores the property (and fastify refuses the key)',
    );
    assert.equal(searchWitness(schema('number'), schema('integer'), 'input'), undefined);
  });
});
