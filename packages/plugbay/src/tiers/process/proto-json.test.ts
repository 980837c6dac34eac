// The strict proto3 JSON mapping and the schemas derived from the same types, checked against each other: every
// value the converter accepts, the derived input schema accepts (with the host's own Ajv), and the refusals name
// the field. A property test round-trips generated values through protobuf bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type protobuf from 'protobufjs';
import { PlugbayError } from '../../core/errors.js';
import { createAjv } from '../../core/schema.js';
import { messageArb } from './proto-json.test.shared.js';
import { messageSchema } from './proto-schema.js';
import { codecOf, type ProtoService, readService } from './proto-service.js';

const proto = `
syntax = "proto3";
package t;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }

message Scalars {
  int32 i32 = 1; sint32 s32 = 2; sfixed32 sf32 = 3;
  uint32 u32 = 4; fixed32 f32 = 5;
  int64 i64 = 6; sint64 s64 = 7; sfixed64 sf64 = 8;
  uint64 u64 = 9; fixed64 f64 = 10;
  float fl = 11; double db = 12; bool b = 13; string s = 14; bytes by = 15;
  Color color = 16;
  optional int32 maybe = 17;
  string snake_name = 18;
}

message Node {
  string name = 1;
  repeated Node children = 2;
  map<int32, string> by_id = 3;
  map<uint64, Color> colors = 4;
  map<bool, Node> flags = 5;
  map<string, Scalars> scalars = 6;
  oneof choice { string text = 7; int64 number = 8; Scalars nested = 9; }
  repeated int64 big = 10;
  repeated Color palette = 11;
}

message Wkt {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Int64Value i64 = 3;
  google.protobuf.UInt32Value u32 = 4;
  google.protobuf.BoolValue flag = 5;
  google.protobuf.StringValue text = 6;
  google.protobuf.BytesValue raw = 7;
  google.protobuf.DoubleValue ratio = 8;
  google.protobuf.Struct meta = 9;
  google.protobuf.Value any_json = 10;
  google.protobuf.ListValue list = 11;
  google.protobuf.FieldMask mask = 12;
  google.protobuf.Empty nothing = 13;
  google.protobuf.Any packed = 14;
}

service T {
  rpc Scalar(Scalars) returns (Scalars);
  rpc Tree(Node) returns (Node);
  rpc Known(Wkt) returns (Wkt);
  rpc Stream(stream Node) returns (Node);
}
`;

const service: ProtoService = readService('protos/t.proto', 't.T', (f) =>
  f === 'protos/t.proto' ? proto : undefined,
);
const source = { plugin: 'p', version: '1.0.0' };
const ajv = createAjv({ allErrors: true });

function rpc(name: string, emitDefaults = false) {
  const method = service.methods.get(name);
  assert.ok(method);
  const codec = codecOf(method, { emitDefaults, source });
  const inputSchema = ajv.compile(messageSchema(method.requestType, 'input'));
  const outputSchema = ajv.compile(messageSchema(method.responseType, 'output', emitDefaults));
  return {
    /** JSON in, JSON out through protobuf bytes; both schemas must agree with the converter. */
    roundTrip(input: unknown): unknown {
      assert.ok(
        inputSchema(input),
        `input schema accepts ${JSON.stringify(input)}: ${ajv.errorsText(inputSchema.errors)}`,
      );
      const output = codec.deserialize(codec.serialize(input));
      assert.ok(
        outputSchema(output),
        `output schema accepts ${JSON.stringify(output)}: ${ajv.errorsText(outputSchema.errors)}`,
      );
      return output;
    },
    /** The converter refuses with PLUGBAY_INVALID_INPUT at `field`; the schema refuses too unless `schemaToo` is false. */
    refused(input: unknown, field: string, schemaToo = true): PlugbayError {
      let err: unknown;
      try {
        codec.serialize(input);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof PlugbayError, `${JSON.stringify(input)} is refused`);
      assert.equal(err.code, 'PLUGBAY_INVALID_INPUT');
      assert.equal(err.details?.field, field, err.message);
      if (schemaToo)
        assert.equal(inputSchema(input), false, `the schema refuses ${JSON.stringify(input)} too`);
      return err;
    },
    codec,
  };
}

describe('proto3 JSON mapping: scalars', () => {
  const scalar = rpc('Scalar');
  const bounds: [
    fields: string[],
    min: number | string,
    max: number | string,
    below: unknown,
    above: unknown,
  ][] = [
    [['i32', 's32', 'sf32'], -(2 ** 31), 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 31],
    [['u32', 'f32'], 0, 2 ** 32 - 1, -1, 2 ** 32],
    [
      ['i64', 's64', 'sf64'],
      '-9223372036854775808',
      '9223372036854775807',
      '-9223372036854775809',
      '9223372036854775808',
    ],
    [['u64', 'f64'], '0', '18446744073709551615', '-1', '18446744073709551616'],
  ];
  for (const [fields, min, max, below, above] of bounds) {
    for (const f of fields) {
      it(`${f}: min and max pass, one past is refused`, () => {
        assert.deepEqual(scalar.roundTrip({ [f]: max }), { [f]: max });
        const minOut = scalar.roundTrip({ [f]: min });
        assert.deepEqual(
          minOut,
          min === 0 || min === '0' ? {} : { [f]: min },
          'zero is the default: omitted',
        );
        // The 64-bit patterns bound the digits, not the value: one past the range is the converter's to refuse.
        const exact = typeof min === 'number';
        scalar.refused({ [f]: below }, f, exact);
        scalar.refused({ [f]: above }, f, exact);
        scalar.refused({ [f]: 1.5 }, f);
        scalar.refused({ [f]: 'abc' }, f);
        scalar.refused({ [f]: true }, f);
      });
    }
  }
  it('64-bit integers: decimal strings, safe numbers in, strings out; unsafe numbers refused', () => {
    assert.deepEqual(scalar.roundTrip({ i64: 9007199254740991, u64: 42 }), {
      i64: '9007199254740991',
      u64: '42',
    });
    assert.deepEqual(scalar.roundTrip({ i64: -9007199254740991 }), { i64: '-9007199254740991' });
    scalar.refused({ i64: 9007199254740992 }, 'i64');
    scalar.refused({ u64: 2 ** 64 }, 'u64');
    scalar.refused({ i64: '1e3' }, 'i64');
    scalar.refused({ i64: '01' }, 'i64');
    scalar.refused({ i64: ' 1' }, 'i64');
    // a 32-bit integer is a JSON number: a decimal string is refused (stricter than protojson, and by the schema)
    scalar.refused({ i32: '5' }, 'i32');
  });
  it('float and double: numbers and the three non-finite names; a float beyond float32 refused', () => {
    assert.deepEqual(scalar.roundTrip({ fl: 3.4028234663852886e38, db: -1e308 }), {
      fl: 3.4028235e38,
      db: -1e308,
    });
    assert.deepEqual(
      scalar.roundTrip({ fl: -3.402823567797336e38 }),
      { fl: -3.4028235e38 },
      'rounds to float32',
    );
    assert.deepEqual(scalar.roundTrip({ fl: 'NaN', db: '-Infinity' }), { fl: 'NaN', db: '-Infinity' });
    // a float is written as the shortest decimal of its float32 value, as protojson does
    assert.deepEqual(scalar.roundTrip({ fl: 0.1, db: 0.1 }), { fl: 0.1, db: 0.1 });
    assert.deepEqual(scalar.roundTrip({ fl: 16777217 }), { fl: 16777216 });
    scalar.refused({ fl: 3.5e38 }, 'fl');
    scalar.refused({ fl: -3.4028235677973366e38 }, 'fl');
    scalar.refused({ db: 'nan' }, 'db');
    scalar.refused({ db: '1.5' }, 'db');
  });
  it('bool, string, bytes', () => {
    assert.deepEqual(scalar.roundTrip({ b: true, s: 'é✓', by: 'AAEC/w==' }), {
      b: true,
      s: 'é✓',
      by: 'AAEC/w==',
    });
    assert.deepEqual(scalar.roundTrip({ by: '_-8' }), { by: '/+8=' }, 'URL-safe base64 in, standard out');
    scalar.refused({ b: 'true' }, 'b');
    scalar.refused({ b: 1 }, 'b');
    scalar.refused({ s: 42 }, 's');
    scalar.refused({ by: '!!!!' }, 'by');
    scalar.refused({ by: 'A' }, 'by', false);
    scalar.refused({ by: 3 }, 'by');
  });
  it('enums by name and number in, by name out; unknown names and numbers refused', () => {
    assert.deepEqual(scalar.roundTrip({ color: 'GREEN' }), { color: 'GREEN' });
    assert.deepEqual(scalar.roundTrip({ color: 1 }), { color: 'RED' });
    assert.deepEqual(scalar.roundTrip({ color: 'COLOR_UNSPECIFIED' }), {});
    scalar.refused({ color: 'BLUE' }, 'color');
    scalar.refused({ color: 7 }, 'color');
    scalar.refused({ color: 'green' }, 'color');
  });
  it('field names: lowerCamel or the original in, lowerCamel out; both at once or an unknown field refused', () => {
    assert.deepEqual(scalar.roundTrip({ snake_name: 'a' }), { snakeName: 'a' });
    assert.deepEqual(scalar.roundTrip({ snakeName: 'a' }), { snakeName: 'a' });
    scalar.refused({ snake_name: 'a', snakeName: 'b' }, 'snakeName');
    scalar.refused({ nope: 1 }, 'nope');
    scalar.refused({ SnakeName: 'a' }, 'SnakeName');
  });
  it('null is the default value; proto3 optional is written when set, even at zero', () => {
    assert.deepEqual(scalar.roundTrip({ i32: null, s: null, color: null }), {});
    assert.deepEqual(scalar.roundTrip({ maybe: 0 }), { maybe: 0 });
    assert.deepEqual(scalar.roundTrip({}), {});
  });
  it('the root must be an object', () => {
    for (const bad of [[], 'x', 3]) scalar.refused(bad, '');
  });
});

describe('proto3 JSON mapping: messages, repeated, maps, oneof', () => {
  const tree = rpc('Tree');
  it('nested and repeated messages, maps with integer and bool keys as strings', () => {
    const node = {
      name: 'root',
      children: [{ name: 'a', children: [{ name: 'a1' }] }, { name: 'b' }],
      byId: { '-5': 'minus five', '2147483647': 'max' },
      colors: { '18446744073709551615': 'RED' },
      flags: { true: { name: 'yes' }, false: {} },
      scalars: { x: { i64: '5' } },
      big: ['1', '-9223372036854775808'],
      palette: ['RED', 'COLOR_UNSPECIFIED'],
    };
    assert.deepEqual(tree.roundTrip(node), node);
    assert.deepEqual(tree.roundTrip({ by_id: { 1: 'one' }, palette: [2] }), {
      byId: { 1: 'one' },
      palette: ['GREEN'],
    });
  });
  it('paths name the field inside nested, repeated and map values', () => {
    tree.refused({ children: [{}, { children: [{ byId: { 1: 2 } }] }] }, 'children[1].children[0].byId.1');
    tree.refused({ byId: { x: 'a' } }, 'byId.x');
    tree.refused({ byId: { 2147483648: 'a' } }, 'byId.2147483648', false);
    tree.refused({ flags: { yes: {} } }, 'flags.yes');
    tree.refused({ scalars: { k: { i32: 1.5 } } }, 'scalars.k.i32');
    tree.refused({ big: [1, 2 ** 60] }, 'big[1]');
    tree.refused({ children: {} }, 'children');
    tree.refused({ children: [null] }, 'children[0]');
    tree.refused({ palette: ['RED', 'PINK'] }, 'palette[1]');
  });
  it('oneof: one member set (even at its default), two refused', () => {
    assert.deepEqual(tree.roundTrip({ text: '' }), { text: '' });
    assert.deepEqual(tree.roundTrip({ number: 0 }), { number: '0' });
    assert.deepEqual(tree.roundTrip({ nested: {} }), { nested: {} });
    tree.refused({ text: 'a', number: 1 }, 'number');
    tree.refused({ nested: {}, text: 'b' }, 'text');
  });
  it('emitDefaults: every field outside a oneof is written; unset messages as null', () => {
    const out = rpc('Tree', true).roundTrip({ name: '' });
    assert.deepEqual(out, {
      name: '',
      children: [],
      byId: {},
      colors: {},
      flags: {},
      scalars: {},
      big: [],
      palette: [],
    });
    const scalars = rpc('Scalar', true).roundTrip({});
    assert.equal((scalars as Record<string, unknown>).i64, '0');
    assert.equal((scalars as Record<string, unknown>).color, 'COLOR_UNSPECIFIED');
    assert.equal(Object.hasOwn(scalars as object, 'maybe'), false, 'proto3 optional unset stays out');
  });
  it('a recursive message is a $ref in its schema', () => {
    const schema = messageSchema(service.methods.get('Tree')?.requestType as protobuf.Type, 'input');
    assert.ok(JSON.stringify(schema).includes('"$ref":"#/$defs/t.Node"'));
  });
  it('streaming rpcs are not functions', () => {
    assert.deepEqual([...service.methods.keys()], ['Scalar', 'Tree', 'Known']);
  });
});

describe('proto3 JSON mapping: well-known types', () => {
  const known = rpc('Known');
  it('Timestamp as RFC 3339 (offsets in, Z out, 0/3/6/9 fraction digits)', () => {
    assert.deepEqual(known.roundTrip({ at: '1972-01-01T10:00:20.021Z' }), { at: '1972-01-01T10:00:20.021Z' });
    assert.deepEqual(known.roundTrip({ at: '2024-02-29T01:00:00.5+01:00' }), {
      at: '2024-02-29T00:00:00.500Z',
    });
    assert.deepEqual(known.roundTrip({ at: '0001-01-01T00:00:00Z' }), { at: '0001-01-01T00:00:00Z' });
    assert.deepEqual(known.roundTrip({ at: '9999-12-31T23:59:59.999999999Z' }), {
      at: '9999-12-31T23:59:59.999999999Z',
    });
    assert.deepEqual(known.roundTrip({ at: '1969-12-31T23:59:59.000001Z' }), {
      at: '1969-12-31T23:59:59.000001Z',
    });
    known.refused({ at: '2023-02-29T00:00:00Z' }, 'at', false);
    known.refused({ at: '2024-01-01 00:00:00Z' }, 'at');
    known.refused({ at: 1700000000 }, 'at');
  });
  it('Duration as "1.5s"', () => {
    assert.deepEqual(known.roundTrip({ took: '1.5s' }), { took: '1.500s' });
    assert.deepEqual(known.roundTrip({ took: '-0.000000001s' }), { took: '-0.000000001s' });
    assert.deepEqual(known.roundTrip({ took: '315576000000s' }), { took: '315576000000s' });
    assert.deepEqual(known.roundTrip({ took: '0s' }), { took: '0s' });
    known.refused({ took: '315576000001s' }, 'took', false);
    known.refused({ took: '1.5' }, 'took');
    known.refused({ took: '1m' }, 'took');
  });
  it('wrappers as their plain value; null leaves them unset', () => {
    const all = { i64: '-5', u32: 7, flag: false, text: '', raw: 'AQ==', ratio: 0.25 };
    assert.deepEqual(known.roundTrip(all), all);
    assert.deepEqual(known.roundTrip({ i64: 5 }), { i64: '5' });
    assert.deepEqual(known.roundTrip({ flag: null }), {});
    known.refused({ u32: -1 }, 'u32');
    known.refused({ flag: 'yes' }, 'flag');
  });
  it('Struct, Value and ListValue as any JSON', () => {
    const meta = { a: 1, b: [true, null, 'x', { c: [] }], d: {} };
    assert.deepEqual(known.roundTrip({ meta, anyJson: meta, list: [1, 'two', null] }), {
      meta,
      anyJson: meta,
      list: [1, 'two', null],
    });
    assert.deepEqual(known.roundTrip({ anyJson: null }), { anyJson: null });
    assert.deepEqual(known.roundTrip({ any_json: 'text' }), { anyJson: 'text' });
    known.refused({ meta: [1] }, 'meta');
    known.refused({ list: {} }, 'list');
  });
  it('FieldMask as "a,b.c" (lowerCamel in JSON, snake_case on the wire)', () => {
    assert.deepEqual(known.roundTrip({ mask: 'fooBar,a.bC' }), { mask: 'fooBar,a.bC' });
    const wire = service.methods
      .get('Known')
      ?.requestType.decode(known.codec.serialize({ mask: 'fooBar,a.bC' }));
    assert.deepEqual((wire as unknown as { mask: { paths: string[] } }).mask.paths, ['foo_bar', 'a.b_c']);
    known.refused({ mask: 'foo_bar' }, 'mask[0]');
    known.refused({ mask: 'a,,b' }, 'mask[1]');
  });
  it('Empty as {} and Any with "@type"', () => {
    assert.deepEqual(known.roundTrip({ nothing: {} }), { nothing: {} });
    known.refused({ nothing: { x: 1 } }, 'nothing.x');
    const packed = { '@type': 'type.googleapis.com/t.Scalars', i32: 5, color: 'RED' };
    assert.deepEqual(known.roundTrip({ packed }), { packed });
    const wkt = { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' };
    assert.deepEqual(known.roundTrip({ packed: wkt }), { packed: wkt });
    known.refused({ packed: { '@type': 'type.googleapis.com/t.Nope' } }, 'packed.@type', false);
    known.refused({ packed: { '@type': 'type.googleapis.com/t.Scalars', i32: 'x' } }, 'packed.i32', false);
  });
});

describe('proto3 JSON mapping: outputs', () => {
  it('a response that is not the message, or a well-known value out of range, is PLUGBAY_INVALID_OUTPUT', () => {
    const known = rpc('Known');
    const bad = (bytes: Buffer) => {
      try {
        known.codec.deserialize(bytes);
      } catch (err) {
        return err;
      }
      return assert.fail('refused');
    };
    const truncated = bad(Buffer.from([0x0a, 0x05, 0x08]));
    assert.ok(truncated instanceof PlugbayError);
    assert.equal(truncated.code, 'PLUGBAY_INVALID_OUTPUT');
    const Wkt = service.methods.get('Known')?.responseType as protobuf.Type;
    const outOfRange = bad(Buffer.from(Wkt.encode({ at: { seconds: 253402300800, nanos: 0 } }).finish()));
    assert.ok(outOfRange instanceof PlugbayError);
    assert.equal(outOfRange.code, 'PLUGBAY_INVALID_OUTPUT');
    assert.equal(outOfRange.details?.field, 'at');
  });
});

describe('service lookup', () => {
  it('an unqualified service name says which one was meant', () => {
    assert.throws(
      () => readService('protos/t.proto', 'T', (f) => (f === 'protos/t.proto' ? proto : undefined)),
      (err: Error & { field?: string }) => err.field === 'service' && /did you mean t\.T/.test(err.message),
    );
  });
  it('an import or a proto outside the plugin folder is refused before any read', () => {
    const reads: string[] = [];
    const read = (f: string) => {
      reads.push(f);
      return f === 'p/a.proto' ? 'syntax = "proto3"; import "../../etc/x.proto";' : undefined;
    };
    assert.throws(() => readService('p/a.proto', 'x.X', read), /outside the plugin folder/);
    assert.throws(() => readService('../a.proto', 'x.X', read), /outside the plugin folder/);
    assert.deepEqual(reads, ['p/a.proto']);
  });
  it('a missing import names the file that imports it', () => {
    const read = (f: string) => (f === 'p/a.proto' ? 'syntax = "proto3"; import "b.proto";' : undefined);
    assert.throws(
      () => readService('p/a.proto', 'x.X', read),
      /p\/b\.proto \(imported by p\/a\.proto\) does not exist/,
    );
  });
});

describe('property: generated messages round-trip through protobuf bytes to equal JSON', () => {
  for (const name of ['Scalar', 'Tree']) {
    it(name, () => {
      const r = rpc(name);
      const type = service.methods.get(name)?.requestType as protobuf.Type;
      fc.assert(
        fc.property(messageArb(type), (value) => {
          assert.deepEqual(r.roundTrip(value), value);
        }),
        { numRuns: 300, seed: 16 },
      );
    });
  }
});
