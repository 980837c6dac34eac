/**
 * The well-known types' JSON forms (proto3 JSON mapping): Timestamp as RFC 3339, Duration as "1.5s", wrappers as
 * their plain value, Struct/Value/ListValue as any JSON, FieldMask as "a,b.c", Any with "@type". Fields are found
 * by number: protobufjs' bundled definitions name them in lowerCamel, a .proto on disk in snake_case.
 */
import type protobuf from 'protobufjs';
import {
  enumToJson,
  kindOf,
  Long,
  lowerCamel,
  messageFromJson,
  messageToJson,
  scalarFromJson,
  scalarToJson,
  type ToJsonOptions,
  type Where,
} from './proto-json.js';

/** Timestamps from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, as protojson. */
const TIMESTAMP_MIN = -62135596800;
const TIMESTAMP_MAX = 253402300799;
/** ±10,000 years, as protojson. */
const DURATION_MAX = 315576000000;

const wrappers: Record<string, string> = {
  DoubleValue: 'double',
  FloatValue: 'float',
  Int64Value: 'int64',
  UInt64Value: 'uint64',
  Int32Value: 'int32',
  UInt32Value: 'uint32',
  BoolValue: 'bool',
  StringValue: 'string',
  BytesValue: 'bytes',
};

/** The short name of a well-known type with a JSON form of its own, or undefined. */
export function wellKnownName(type: protobuf.Type): string | undefined {
  let name = wellKnownNames.get(type);
  if (name === undefined) {
    name = wellKnownNameOf(type) ?? '';
    wellKnownNames.set(type, name);
  }
  return name === '' ? undefined : name;
}

const wellKnownNames = new WeakMap<protobuf.Type, string>();
const nullValues = new WeakMap<protobuf.ReflectionObject, boolean>();

/** google.protobuf.NullValue (JSON null). Cached: protobufjs computes fullName by walking up the parents. */
export function isNullValue(e: protobuf.ReflectionObject): boolean {
  let is = nullValues.get(e);
  if (is === undefined) {
    is = e.fullName === '.google.protobuf.NullValue';
    nullValues.set(e, is);
  }
  return is;
}

function wellKnownNameOf(type: protobuf.Type): string | undefined {
  const m = /^\.google\.protobuf\.(\w+)$/.exec(type.fullName);
  const name = m?.[1];
  if (name === undefined) return undefined;
  return ['Timestamp', 'Duration', 'Struct', 'Value', 'ListValue', 'FieldMask', 'Any'].includes(name) ||
    name in wrappers
    ? name
    : undefined;
}

/** The scalar type a wrapper holds (`Int64Value` → `int64`). */
export function wrapperScalar(name: string): string | undefined {
  return wrappers[name];
}

function nameOf(type: protobuf.Type, id: number): string {
  const f = type.fieldsById[id];
  if (f === undefined) throw new Error(`${type.fullName} has no field ${id}`);
  return f.name;
}

function fieldOf(type: protobuf.Type, id: number): protobuf.Field {
  const f = type.fieldsById[id];
  if (f === undefined) throw new Error(`${type.fullName} has no field ${id}`);
  return f.resolve();
}

/** JSON → what type.encode takes, for well-known types; undefined for any other type. */
export function wellKnownFromJson(
  type: protobuf.Type,
  json: unknown,
  at: Where,
  depth: number,
): object | undefined {
  const name = wellKnownName(type);
  if (name === undefined) return undefined;
  const scalar = wrappers[name];
  if (scalar !== undefined) return { [nameOf(type, 1)]: scalarFromJson(scalar, json, at) };
  switch (name) {
    case 'Timestamp': {
      if (typeof json !== 'string')
        at.fail('type', `must be an RFC 3339 timestamp string, got ${kindOf(json)}`);
      const { seconds, nanos } = parseTimestamp(json, at);
      return { [nameOf(type, 1)]: Long.fromNumber(seconds), [nameOf(type, 2)]: nanos };
    }
    case 'Duration': {
      if (typeof json !== 'string')
        at.fail('type', `must be a duration string like "1.5s", got ${kindOf(json)}`);
      const { seconds, nanos } = parseDuration(json, at);
      return { [nameOf(type, 1)]: Long.fromNumber(seconds), [nameOf(type, 2)]: nanos };
    }
    case 'FieldMask': {
      if (typeof json !== 'string')
        at.fail('type', `must be a string of paths like "a,b.c", got ${kindOf(json)}`);
      const paths = json === '' ? [] : json.split(',');
      return {
        [nameOf(type, 1)]: paths.map((p, i) => {
          if (!/^[A-Za-z0-9.]+$/.test(p) || p.split('.').includes('')) {
            throw at
              .index(i)
              .error(
                'pattern',
                `field mask path ${JSON.stringify(p)} must be lowerCamel names joined by "."`,
              );
          }
          return p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        }),
      };
    }
    case 'Struct':
      if (json === null || typeof json !== 'object' || Array.isArray(json)) {
        at.fail('type', `must be an object, got ${kindOf(json)}`);
      }
      return structFromJson(type, json as Record<string, unknown>, at, depth);
    case 'ListValue': {
      if (!Array.isArray(json)) at.fail('type', `must be an array, got ${kindOf(json)}`);
      const value = fieldOf(type, 1).resolvedType as protobuf.Type;
      return { [nameOf(type, 1)]: json.map((v, i) => valueFromJson(value, v, at.index(i), depth + 1)) };
    }
    case 'Value':
      return valueFromJson(type, json, at, depth);
    case 'Any':
      return anyFromJson(type, json, at, depth);
  }
  return undefined;
}

function structFromJson(
  type: protobuf.Type,
  json: Record<string, unknown>,
  at: Where,
  depth: number,
): object {
  const value = fieldOf(type, 1).resolvedType as protobuf.Type;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) fields[k] = valueFromJson(value, v, at.field(k), depth + 1);
  return { [nameOf(type, 1)]: fields };
}

function valueFromJson(type: protobuf.Type, json: unknown, at: Where, depth: number): object {
  if (depth > 100) at.fail('depth', 'nests deeper than 100 values');
  if (json === null) return { [nameOf(type, 1)]: 0 };
  if (typeof json === 'number') return { [nameOf(type, 2)]: json };
  if (typeof json === 'string') return { [nameOf(type, 3)]: json };
  if (typeof json === 'boolean') return { [nameOf(type, 4)]: json };
  if (Array.isArray(json)) {
    const list = fieldOf(type, 6).resolvedType as protobuf.Type;
    return {
      [nameOf(type, 6)]: {
        [nameOf(list, 1)]: json.map((v, i) => valueFromJson(type, v, at.index(i), depth + 1)),
      },
    };
  }
  if (typeof json === 'object') {
    const struct = fieldOf(type, 5).resolvedType as protobuf.Type;
    return { [nameOf(type, 5)]: structFromJson(struct, json as Record<string, unknown>, at, depth) };
  }
  return at.fail('type', `must be JSON, got ${kindOf(json)}`);
}

function anyFromJson(type: protobuf.Type, json: unknown, at: Where, depth: number): object {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    at.fail('type', `must be an object with "@type", got ${kindOf(json)}`);
  }
  const { '@type': url, ...rest } = json as Record<string, unknown>;
  if (typeof url !== 'string')
    throw at.field('@type').error('required', 'must be the type URL of the packed message');
  const inner = lookupAny(type, url);
  if (inner === undefined)
    throw at.field('@type').error('enum', `${url} is not a message type of this .proto`);
  let packed: object;
  if (wellKnownName(inner) !== undefined) {
    const keys = Object.keys(rest);
    const extra = keys.find((k) => k !== 'value');
    if (extra !== undefined)
      throw at.field(extra).error('additionalProperties', `is not allowed next to "@type" of ${inner.name}`);
    packed = messageFromJson(inner, rest.value, at.field('value'), depth + 1);
  } else {
    packed = messageFromJson(inner, rest, at, depth + 1);
  }
  return { [nameOf(type, 1)]: url, [nameOf(type, 2)]: inner.encode(packed).finish() };
}

function lookupAny(type: protobuf.Type, url: string): protobuf.Type | undefined {
  const name = url.slice(url.lastIndexOf('/') + 1);
  try {
    return type.root.lookupType(`.${name}`);
  } catch {
    return undefined;
  }
}

const timestampForm =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export function parseTimestamp(text: string, at: Where): { seconds: number; nanos: number } {
  const m = timestampForm.exec(text);
  if (m === null)
    at.fail(
      'format',
      `must be an RFC 3339 timestamp like "1972-01-01T10:00:20.021Z", got ${JSON.stringify(text)}`,
    );
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const days = new Date(0);
  days.setUTCFullYear(y, mo - 1, d);
  if (
    days.getUTCFullYear() !== y ||
    days.getUTCMonth() !== mo - 1 ||
    days.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  ) {
    at.fail('format', `${JSON.stringify(text)} is not a valid date and time`);
  }
  let seconds = Math.floor(days.getTime() / 1000) + h * 3600 + mi * 60 + s;
  if (m[8] === undefined) {
    const sign = m[9] === '-' ? -1 : 1;
    seconds -= sign * (Number(m[10]) * 3600 + Number(m[11]) * 60);
  }
  if (seconds < TIMESTAMP_MIN || seconds > TIMESTAMP_MAX) {
    at.fail('format', `${text} is outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z`);
  }
  return { seconds, nanos: Number((m[7] ?? '').padEnd(9, '0')) };
}

export function parseDuration(text: string, at: Where): { seconds: number; nanos: number } {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (m === null) at.fail('pattern', `must be a duration like "1.5s", got ${JSON.stringify(text)}`);
  const sign = m[1] === '-' ? -1 : 1;
  const seconds = Number(m[2]);
  if (seconds > DURATION_MAX) at.fail('maximum', `${text} is beyond ±${DURATION_MAX}s`);
  const nanos = Number((m[3] ?? '').padEnd(9, '0'));
  return { seconds: sign * seconds || 0, nanos: sign * nanos || 0 };
}

/** A decoded well-known message as JSON; undefined for any other type. */
export function wellKnownToJson(
  type: protobuf.Type,
  message: Record<string, unknown>,
  at: Where,
  depth: number,
  options: ToJsonOptions,
): { json: unknown } | undefined {
  const name = wellKnownName(type);
  if (name === undefined) return undefined;
  const get = (id: number) => message[nameOf(type, id)];
  const scalar = wrappers[name];
  if (scalar !== undefined) return { json: scalarToJson(scalar, get(1)) };
  switch (name) {
    case 'Timestamp': {
      const seconds = toNumber(get(1));
      const nanos = toNumber(get(2));
      if (seconds < TIMESTAMP_MIN || seconds > TIMESTAMP_MAX || nanos < 0 || nanos > 999_999_999) {
        at.fail('format', `timestamp ${seconds}s ${nanos}ns is out of range`);
      }
      const iso = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
      return { json: `${iso}${fraction(nanos)}Z` };
    }
    case 'Duration': {
      const seconds = toNumber(get(1));
      const nanos = toNumber(get(2));
      if (
        Math.abs(seconds) > DURATION_MAX ||
        Math.abs(nanos) > 999_999_999 ||
        (seconds > 0 && nanos < 0) ||
        (seconds < 0 && nanos > 0)
      ) {
        at.fail('format', `duration ${seconds}s ${nanos}ns is out of range`);
      }
      const sign = seconds < 0 || nanos < 0 ? '-' : '';
      return { json: `${sign}${Math.abs(seconds)}${fraction(Math.abs(nanos))}s` };
    }
    case 'FieldMask': {
      const paths = (get(1) ?? []) as string[];
      return {
        json: paths
          .map((p, i) => {
            const camel = p.split('.').map(lowerCamel).join('.');
            if (/[A-Z]/.test(p) || camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) !== p) {
              throw at
                .index(i)
                .error('pattern', `field mask path ${JSON.stringify(p)} has no lowerCamel form`);
            }
            return camel;
          })
          .join(','),
      };
    }
    case 'Struct':
      return { json: structToJson(type, message, at, depth) };
    case 'ListValue': {
      const value = fieldOf(type, 1).resolvedType as protobuf.Type;
      const list = (get(1) ?? []) as Record<string, unknown>[];
      return { json: list.map((v, i) => valueToJson(value, v, at.index(i), depth + 1)) };
    }
    case 'Value':
      return { json: valueToJson(type, message, at, depth) };
    case 'Any':
      return { json: anyToJson(type, message, at, depth, options) };
  }
  return undefined;
}

function structToJson(
  type: protobuf.Type,
  message: Record<string, unknown>,
  at: Where,
  depth: number,
): unknown {
  const value = fieldOf(type, 1).resolvedType as protobuf.Type;
  const out: Record<string, unknown> = {};
  const fields = (message[nameOf(type, 1)] ?? {}) as Record<string, Record<string, unknown>>;
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(value, v, at.field(k), depth + 1);
  return out;
}

function valueToJson(
  type: protobuf.Type,
  message: Record<string, unknown>,
  at: Where,
  depth: number,
): unknown {
  if (depth > 100) at.fail('depth', 'nests deeper than 100 values');
  const kind = type.oneofsArray[0];
  const set = kind?.fieldsArray.find((f) => Object.hasOwn(message, f.name) && message[f.name] != null);
  if (set === undefined) at.fail('required', 'a google.protobuf.Value must have its kind set');
  const v = message[set.name];
  switch (set.id) {
    case 1:
      return enumToJson(set.resolve().resolvedType as protobuf.Enum, v);
    case 2:
      if (!Number.isFinite(v)) at.fail('type', `${v} is not a JSON number`);
      return v;
    case 3:
    case 4:
      return v;
    case 5:
      return structToJson(
        set.resolve().resolvedType as protobuf.Type,
        v as Record<string, unknown>,
        at,
        depth + 1,
      );
    default: {
      const list = set.resolve().resolvedType as protobuf.Type;
      const values = ((v as Record<string, unknown>)[nameOf(list, 1)] ?? []) as Record<string, unknown>[];
      return values.map((x, i) => valueToJson(type, x, at.index(i), depth + 1));
    }
  }
}

function anyToJson(
  type: protobuf.Type,
  message: Record<string, unknown>,
  at: Where,
  depth: number,
  options: ToJsonOptions,
): unknown {
  const url = String(message[nameOf(type, 1)] ?? '');
  if (url === '') return {};
  const inner = lookupAny(type, url);
  if (inner === undefined)
    throw at.field('@type').error('enum', `${url} is not a message type of this .proto`);
  let decoded: Record<string, unknown>;
  try {
    decoded = inner.decode((message[nameOf(type, 2)] ?? new Uint8Array()) as Uint8Array) as unknown as Record<
      string,
      unknown
    >;
  } catch (err) {
    throw at.field('value').error('wire', `does not decode as ${inner.name}: ${(err as Error).message}`);
  }
  const json = messageToJson(inner, decoded, options, at, depth + 1);
  return wellKnownName(inner) !== undefined
    ? { '@type': url, value: json }
    : { '@type': url, ...(json as Record<string, unknown>) };
}

function toNumber(v: unknown): number {
  if (Long.isLong(v)) return v.toNumber();
  return typeof v === 'number' ? v : 0;
}

/** protojson writes 0, 3, 6 or 9 fractional digits. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  if (nanos % 1_000_000 === 0) return `.${String(nanos / 1_000_000).padStart(3, '0')}`;
  if (nanos % 1000 === 0) return `.${String(nanos / 1000).padStart(6, '0')}`;
  return `.${String(nanos).padStart(9, '0')}`;
}
