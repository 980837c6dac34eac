// fast-check arbitraries of proto3 JSON in its canonical form (what the converter writes), from protobufjs
// reflection: shared by the converter's property test and the round trip through the Go stock plugin.
import fc from 'fast-check';
import type protobuf from 'protobufjs';
import { shortestFloat32 } from './proto-json.js';
import { wellKnownName } from './proto-wkt.js';

/** Canonical JSON values for one field's type (what the converter writes), never the default. */
function valueArb(field: protobuf.Field, depth: number): fc.Arbitrary<unknown> {
  const t = field.resolvedType;
  if (t !== null && 'values' in t) {
    const names = Object.keys((t as protobuf.Enum).values).filter(
      (n) => (t as protobuf.Enum).values[n] !== 0,
    );
    return fc.constantFrom(...names);
  }
  if (t !== null) {
    const wkt = wellKnownArb(t as protobuf.Type);
    return wkt ?? messageArb(t as protobuf.Type, depth + 1);
  }
  const nonZero = <T>(a: fc.Arbitrary<T>) => a.filter((v) => v !== 0 && v !== '0' && v !== '' && v !== false);
  switch (field.type) {
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return nonZero(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
    case 'uint32':
    case 'fixed32':
      return nonZero(fc.integer({ min: 0, max: 2 ** 32 - 1 }));
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return nonZero(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String));
    case 'uint64':
    case 'fixed64':
      return nonZero(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String));
    case 'float':
      return nonZero(fc.float({ noDefaultInfinity: true, noNaN: true }).filter((v) => !Object.is(v, -0))).map(
        shortestFloat32,
      );
    case 'double':
      return nonZero(fc.double({ noDefaultInfinity: true, noNaN: true }).filter((v) => !Object.is(v, -0)));
    case 'bool':
      return fc.constant(true);
    case 'bytes':
      return fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.from(b).toString('base64'));
    default:
      return nonZero(fc.string({ maxLength: 8 }));
  }
}

export function messageArb(type: protobuf.Type, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const plain = type.fieldsArray.filter(
    (f) =>
      f.partOf === null && (depth < 2 || f.resolvedType === null || 'values' in (f.resolvedType as object)),
  );
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of plain) {
    const name = f.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (f.map) {
      const keyType = (f as unknown as protobuf.MapField).keyType;
      const key =
        keyType === 'string'
          ? fc.string({ maxLength: 4 })
          : keyType === 'bool'
            ? fc.constantFrom('true', 'false')
            : keyType.startsWith('u') || keyType.startsWith('fixed')
              ? fc.nat().map(String)
              : fc.integer().map(String);
      record[name] = fc.dictionary(key, valueArb(f, depth), {
        minKeys: 1,
        maxKeys: 3,
        noNullPrototype: true,
      });
    } else if (f.repeated) {
      record[name] = fc.array(valueArb(f, depth), { minLength: 1, maxLength: 3 });
    } else {
      record[name] = valueArb(f, depth);
    }
  }
  return fc.record(record, { requiredKeys: [], noNullPrototype: true });
}

const scalarJson = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null));

/** The JSON forms of the well-known types stock.proto uses (canonical: as the converter writes them). */
function wellKnownArb(type: protobuf.Type): fc.Arbitrary<unknown> | undefined {
  switch (wellKnownName(type)) {
    case 'Timestamp':
      return fc
        .date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString().replace('.000Z', 'Z'));
    case 'Duration':
      return fc
        .tuple(fc.integer({ min: -315576000000, max: 315576000000 }), fc.integer({ min: 0, max: 999 }))
        .map(([s, ms]) => {
          const sign = s < 0 || (s === 0 && ms > 0 && ms % 2 === 1) ? '-' : '';
          return `${sign}${Math.abs(s)}${ms === 0 ? '' : `.${String(ms).padStart(3, '0')}`}s`;
        });
    case 'Int32Value':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'Struct':
      return fc.dictionary(
        fc.string({ maxLength: 4 }),
        fc.oneof(scalarJson, fc.array(scalarJson, { maxLength: 3 })),
        {
          maxKeys: 3,
          noNullPrototype: true,
        },
      );
    default:
      return undefined;
  }
}
