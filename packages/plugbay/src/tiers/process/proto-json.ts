/**
 * Strict proto3 JSON mapping for go-plugin services, both ways, on protobufjs reflection (nothing generated):
 * JSON → the plain object protobufjs encodes, and a decoded message → JSON. Unlike protobufjs' own fromObject,
 * nothing is coerced: an int32 that overflows, a string that is not a decimal integer, a fraction for an integer
 * field, an unknown enum name, an unknown field, bad base64 are refused with the field's path. It is the last line
 * of defence behind the schemas derived from the same types (proto-schema.ts), and the only one when a plugin's
 * schemas are looser. Well-known types have their JSON forms (proto-wkt.ts).
 */
import protobuf from 'protobufjs';
import { escapePointer } from '../../core/schema.js';
import { isNullValue, wellKnownFromJson, wellKnownName, wellKnownToJson } from './proto-wkt.js';

/** protobufjs' Long (the `long` package), typed by what is used here. */
export interface LongValue extends protobuf.Long {
  isZero(): boolean;
  toNumber(): number;
  toString(): string;
}
export const Long = protobuf.util.Long as unknown as {
  fromString(text: string, unsigned?: boolean): LongValue;
  fromNumber(n: number, unsigned?: boolean): LongValue;
  isLong(v: unknown): v is LongValue;
};

/** A value that cannot be mapped: `path` names the field (`items[2].qty`), `pointer` the JSON value. */
export class ProtoJsonError extends Error {
  constructor(
    readonly path: string,
    readonly pointer: string,
    readonly rule: string,
    readonly reason: string,
  ) {
    super(path === '' ? reason : `${path}: ${reason}`);
  }
}

/**
 * Where a value is, as a field path and a JSON pointer (the two ways plugbay names a place in a value). A link to
 * its parent: the strings are only built when a value is refused, never on the call path of a valid one.
 */
export class Where {
  private constructor(
    readonly parent: Where | undefined,
    readonly segment: string | number,
  ) {}
  static readonly root = new Where(undefined, '');
  field(name: string): Where {
    return new Where(this, name);
  }
  index(i: number): Where {
    return new Where(this, i);
  }
  get path(): string {
    if (this.parent === undefined) return '';
    const up = this.parent.path;
    if (typeof this.segment === 'number') return `${up}[${this.segment}]`;
    return up === '' ? this.segment : `${up}.${this.segment}`;
  }
  get pointer(): string {
    if (this.parent === undefined) return '';
    return `${this.parent.pointer}/${typeof this.segment === 'number' ? this.segment : escapePointer(this.segment)}`;
  }
  fail(rule: string, message: string): never {
    throw this.error(rule, message);
  }
  error(rule: string, message: string): ProtoJsonError {
    return new ProtoJsonError(this.path, this.pointer, rule, message);
  }
}

/** The field's JSON name: `json_name` when the .proto sets it, else protoc's lowerCamel of the field name. */
export function jsonNameOf(field: protobuf.Field): string {
  const explicit = (field.options as { json_name?: unknown } | undefined)?.json_name;
  return typeof explicit === 'string' ? explicit : lowerCamel(field.name);
}

/** protoc's ToJsonName: underscores dropped, the letter after one upper-cased. */
export function lowerCamel(name: string): string {
  let out = '';
  let upper = false;
  for (const c of name) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

/** The oneof a field is part of, real or proto3 `optional`'s synthetic one (both give the field presence). */
export function hasPresence(field: protobuf.Field): boolean {
  return (
    field.partOf !== null || (field.resolvedType instanceof protobuf.Type && !field.repeated && !field.map)
  );
}

const int32Range = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const uint32Range = { min: 0, max: 2 ** 32 - 1 };
/**
 * Where float32 ends: numbers from here on (in magnitude) round to Infinity as a `float` (2^128 - 2^103, halfway
 * between the largest float32 and 2^128). Below it they round to a float32, as protojson parses them.
 */
export const FLOAT_LIMIT = 2 ** 128 - 2 ** 103;
export const INT64_MIN = '-9223372036854775808';
export const INT64_MAX = '9223372036854775807';
export const UINT64_MAX = '18446744073709551615';

export const int32Types = new Set(['int32', 'sint32', 'sfixed32']);
export const uint32Types = new Set(['uint32', 'fixed32']);
export const int64Types = new Set(['int64', 'sint64', 'sfixed64']);
export const uint64Types = new Set(['uint64', 'fixed64']);

const decimal = /^-?(0|[1-9][0-9]*)$/;
const base64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

export interface ToJsonOptions {
  /** Include fields at their default value (protojson's EmitUnpopulated); default false, as protojson. */
  emitDefaults?: boolean;
}

const depthLimit = 100;

// ---------------------------------------------------------------------------------------------------------------
// JSON → message

/** Converts a JSON value to what `type.encode` takes, refusing what the message cannot hold. */
export function messageFromJson(
  type: protobuf.Type,
  json: unknown,
  at: Where = Where.root,
  depth = 0,
): object {
  if (depth > depthLimit) at.fail('depth', `nests deeper than ${depthLimit} messages`);
  const wkt = wellKnownFromJson(type, json, at, depth);
  if (wkt !== undefined) return wkt;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    at.fail('type', `must be an object (message ${type.name}), got ${kindOf(json)}`);
  }
  const out: Record<string, unknown> = {};
  // Field name → the key that set it, and oneof name → the key that set it (made when first needed).
  let seen: Map<string, string> | undefined;
  let oneofs: Map<string, string> | undefined;
  for (const key in json) {
    if (!Object.hasOwn(json, key)) continue;
    const value = (json as Record<string, unknown>)[key];
    const field = fieldByKey(type, key);
    if (field === undefined)
      throw at.field(key).error('additionalProperties', `is not a field of ${type.name}`);
    seen ??= new Map();
    const other = seen.get(field.name);
    if (other !== undefined) throw at.field(key).error('duplicate', `sets the same field as ${other}`);
    seen.set(field.name, key);
    if (value === null && !acceptsNull(field)) continue; // protojson: null is the default value
    const oneof = field.partOf;
    if (oneof !== null && !isSyntheticOneof(oneof)) {
      oneofs ??= new Map();
      const first = oneofs.get(oneof.name);
      if (first !== undefined) {
        throw at
          .field(key)
          .error('oneof', `cannot be set with ${first}: both are members of oneof ${oneof.name}`);
      }
      oneofs.set(oneof.name, key);
    }
    out[field.name] = fieldFromJson(field, value, at.field(key), depth);
  }
  return out;
}

/** Each message type's fields by both names, and in order with their JSON names: built once per type. */
interface FieldIndex {
  byKey: Map<string, protobuf.Field>;
  ordered: [field: protobuf.Field, json: string][];
}
const indexes = new WeakMap<protobuf.Type, FieldIndex>();

function indexOf(type: protobuf.Type): FieldIndex {
  let index = indexes.get(type);
  if (index === undefined) {
    index = { byKey: new Map(), ordered: [] };
    for (const f of type.fieldsArray) {
      f.resolve();
      const json = jsonNameOf(f);
      index.byKey.set(f.name, f);
      index.byKey.set(json, f);
      index.ordered.push([f, json]);
    }
    indexes.set(type, index);
  }
  return index;
}

function fieldByKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return indexOf(type).byKey.get(key);
}

export function isSyntheticOneof(oneof: protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && oneof.fieldsArray[0]?.options?.proto3_optional === true;
}

/** google.protobuf.Value takes JSON null as a value, and a NullValue enum field is null itself. */
function acceptsNull(field: protobuf.Field): boolean {
  const t = field.resolvedType;
  return (
    !field.repeated &&
    !field.map &&
    t !== null &&
    (isNullValue(t) || wellKnownName(t as protobuf.Type) === 'Value')
  );
}

function fieldFromJson(field: protobuf.Field, value: unknown, at: Where, depth: number): unknown {
  if (field.map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      at.fail('type', `must be an object (a map), got ${kindOf(value)}`);
    }
    const keyType = (field as unknown as protobuf.MapField).keyType;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const here = at.field(k);
      out[mapKeyFromJson(keyType, k, here)] = singleFromJson(field, v, here, depth);
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) at.fail('type', `must be an array, got ${kindOf(value)}`);
    return value.map((v, i) => singleFromJson(field, v, at.index(i), depth));
  }
  return singleFromJson(field, value, at, depth);
}

function mapKeyFromJson(keyType: string, key: string, at: Where): string {
  if (keyType === 'string') return key;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false')
      at.fail('propertyNames', 'must be "true" or "false" (a bool map key)');
    // protobufjs writes a bool key as the truthiness of the object key, a string: "false" would be written true.
    return key === 'true' ? 'true' : '';
  }
  // JSON keys are strings: a decimal one is checked as the integer it stands for; protobufjs encodes it from text.
  if (!decimal.test(key)) at.fail('propertyNames', `must be a decimal integer (a ${keyType} map key)`);
  const is64 = int64Types.has(keyType) || uint64Types.has(keyType);
  const n = integerFromJson(keyType, is64 ? key : Number(key), at);
  return typeof n === 'number' ? String(n) : n.toString();
}

/** One value of the field's type (an element, for repeated and map fields). */
function singleFromJson(field: protobuf.Field, value: unknown, at: Where, depth: number): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    if (value === null && wellKnownName(t) !== 'Value') {
      at.fail('type', `must be an object (message ${t.name}), got null`);
    }
    return messageFromJson(t, value, at, depth + 1);
  }
  if (t instanceof protobuf.Enum) return enumFromJson(t, value, at);
  return scalarFromJson(field.type, value, at);
}

export function enumFromJson(e: protobuf.Enum, value: unknown, at: Where): number {
  if (isNullValue(e)) {
    if (value === null || value === 'NULL_VALUE' || value === 0) return 0;
    at.fail('type', 'must be null');
  }
  if (typeof value === 'string') {
    const n = e.values[value];
    if (n === undefined)
      at.fail('enum', `must be one of ${Object.keys(e.values).join(', ')} (enum ${e.name})`);
    return n;
  }
  if (typeof value === 'number') {
    if (!Object.values(e.values).includes(value)) {
      at.fail('enum', `${value} is not a number of enum ${e.name} (${Object.values(e.values).join(', ')})`);
    }
    return value;
  }
  return at.fail('type', `must be an enum name of ${e.name} (a string), got ${kindOf(value)}`);
}

/** A scalar (or a wrapper's value) in JSON form → what protobufjs encodes. */
export function scalarFromJson(type: string, value: unknown, at: Where): unknown {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') at.fail('type', `must be a string, got ${kindOf(value)}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') at.fail('type', `must be a boolean, got ${kindOf(value)}`);
      return value;
    case 'bytes':
      if (typeof value !== 'string') at.fail('type', `must be a base64 string, got ${kindOf(value)}`);
      if (value.length % 4 === 1 || !base64.test(value)) at.fail('contentEncoding', 'must be base64');
      return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
    case 'double':
    case 'float':
      return floatFromJson(type, value, at);
    default:
      return integerFromJson(type, value, at);
  }
}

function floatFromJson(type: 'double' | 'float', value: unknown, at: Where): number {
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof value !== 'number') at.fail('type', `must be a number, got ${kindOf(value)}`);
  if (type === 'float' && Math.abs(value) >= FLOAT_LIMIT) at.fail('maximum', `${value} does not fit a float`);
  return value;
}

/** 32-bit kinds come back as numbers, 64-bit ones as Long (exact beyond 2^53). */
function integerFromJson(type: string, value: unknown, at: Where): number | LongValue {
  const is64 = int64Types.has(type) || uint64Types.has(type);
  const unsigned = uint32Types.has(type) || uint64Types.has(type);
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) at.fail('type', `must be an integer (${type}), got ${value}`);
    if (is64 && !Number.isSafeInteger(value)) {
      at.fail('type', `${value} is not exact as a JSON number: send ${type} beyond 2^53 as a decimal string`);
    }
    if (!is64) {
      const r = unsigned ? uint32Range : int32Range;
      if (value < r.min || value > r.max)
        at.fail(value < r.min ? 'minimum' : 'maximum', `${value} overflows ${type}`);
      return value;
    }
    text = String(value);
  } else if (typeof value === 'string' && is64) {
    if (!decimal.test(value))
      at.fail('pattern', `must be a decimal integer (${type}), got ${JSON.stringify(value)}`);
    text = value;
  } else {
    return at.fail(
      'type',
      `must be ${is64 ? 'a decimal string or a safe integer' : 'an integer'} (${type}), got ${kindOf(value)}`,
    );
  }
  const [min, max] = unsigned ? ['0', UINT64_MAX] : [INT64_MIN, INT64_MAX];
  if (compareDecimal(text, min) < 0) at.fail('minimum', `${text} overflows ${type}`);
  if (compareDecimal(text, max) > 0) at.fail('maximum', `${text} overflows ${type}`);
  return Long.fromString(text, unsigned);
}

/** Compares two canonical decimal integer strings. */
function compareDecimal(a: string, b: string): number {
  const na = a.startsWith('-');
  const nb = b.startsWith('-');
  if (na !== nb) return na ? -1 : 1;
  const x = na ? a.slice(1) : a;
  const y = nb ? b.slice(1) : b;
  const c = x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
  return na ? -c : c;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  if (typeof v === 'number') return `a number (${v})`;
  return `a ${typeof v}`;
}

// ---------------------------------------------------------------------------------------------------------------
// message → JSON

/** A decoded message as proto3 JSON: lowerCamel names, defaults omitted unless `emitDefaults`. */
export function messageToJson(
  type: protobuf.Type,
  message: Record<string, unknown>,
  options: ToJsonOptions,
  at: Where = Where.root,
  depth = 0,
): unknown {
  if (depth > depthLimit) at.fail('depth', `nests deeper than ${depthLimit} messages`);
  const wkt = wellKnownToJson(type, message, at, depth, options);
  if (wkt !== undefined) return wkt.json;
  const out: Record<string, unknown> = {};
  for (const [field, name] of indexOf(type).ordered) {
    const value = Object.hasOwn(message, field.name) ? message[field.name] : undefined;
    const here = at.field(name);
    if (field.map) {
      const entries = Object.entries((value ?? {}) as Record<string, unknown>);
      if (entries.length === 0 && !options.emitDefaults) continue;
      const keyType = (field as unknown as protobuf.MapField).keyType;
      const map: Record<string, unknown> = {};
      for (const [k, v] of entries) {
        const key = int64Types.has(keyType) || uint64Types.has(keyType) ? longKey(k, keyType) : k;
        map[key] = singleToJson(field, v, here.field(key), options, depth);
      }
      out[name] = map;
    } else if (field.repeated) {
      const list = (value ?? []) as unknown[];
      if (list.length === 0 && !options.emitDefaults) continue;
      out[name] = list.map((v, i) => singleToJson(field, v, here.index(i), options, depth));
    } else if (hasPresence(field)) {
      // Set or not is known: oneof members and messages are written when set, even at their default value.
      if (value !== undefined && value !== null) out[name] = singleToJson(field, value, here, options, depth);
      else if (options.emitDefaults && field.partOf === null) out[name] = null;
    } else {
      const v = value ?? field.typeDefault;
      if (!options.emitDefaults && isDefault(v)) continue;
      out[name] = singleToJson(field, v, here, options, depth);
    }
  }
  return out;
}

function longKey(hashOrDecimal: string, keyType: string): string {
  // protobufjs decodes 64-bit map keys as 8-byte hashes.
  if (hashOrDecimal.length === 8 && !decimal.test(hashOrDecimal)) {
    return protobuf.util.longFromHash(hashOrDecimal, uint64Types.has(keyType)).toString();
  }
  return hashOrDecimal;
}

function isDefault(v: unknown): boolean {
  if (v === 0 || v === false || v === '' || v === undefined || v === null) return true;
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length === 0; // protobufjs' bytes default is []
  if (Long.isLong(v)) return v.isZero();
  return false;
}

function singleToJson(
  field: protobuf.Field,
  v: unknown,
  at: Where,
  options: ToJsonOptions,
  depth: number,
): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type)
    return messageToJson(t, v as Record<string, unknown>, options, at, depth + 1);
  if (t instanceof protobuf.Enum) return enumToJson(t, v);
  return scalarToJson(field.type, v);
}

export function enumToJson(e: protobuf.Enum, v: unknown): unknown {
  if (isNullValue(e)) return null;
  // An open proto3 enum may carry a number this .proto does not name: protojson writes the number.
  return typeof v === 'number' ? (e.valuesById[v] ?? v) : v;
}

export function scalarToJson(type: string, v: unknown): unknown {
  if (type === 'bytes') return Buffer.from((v ?? new Uint8Array()) as Uint8Array).toString('base64');
  if (int64Types.has(type) || uint64Types.has(type)) {
    if (Long.isLong(v)) return v.toString();
    return typeof v === 'number' ? String(v) : '0';
  }
  if (type === 'double' || type === 'float') {
    const n = v as number;
    if (Number.isNaN(n)) return 'NaN';
    if (n === Number.POSITIVE_INFINITY) return 'Infinity';
    if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
    return type === 'float' ? shortestFloat32(n) : n;
  }
  return v;
}

/** The shortest decimal that is the same float32, as protojson writes a float (0.1, not 0.10000000149011612). */
export function shortestFloat32(n: number): number {
  for (let digits = 1; digits < 17; digits++) {
    const candidate = Number(n.toPrecision(digits));
    if (Math.fround(candidate) === n) return candidate;
  }
  return n;
}
