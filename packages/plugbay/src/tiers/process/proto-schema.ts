/**
 * JSON Schemas of a go-plugin service's functions, derived from the request and response messages by the proto3
 * JSON mapping that proto-json.ts converts by: the input schema admits what the converter accepts (both field
 * names, enum numbers, 64-bit integers as safe numbers, null as the default value), the output schema describes
 * what it writes (lowerCamel names, enum names, 64-bit integers as strings; with `emitDefaults` every field not in
 * a oneof is required). A message that contains itself is a `$ref` into `$defs`.
 */
import type protobuf from 'protobufjs';
import {
  FLOAT_LIMIT,
  hasPresence,
  int32Types,
  int64Types,
  isSyntheticOneof,
  jsonNameOf,
  uint32Types,
  uint64Types,
} from './proto-json.js';
import type { ProtoService } from './proto-service.js';
import { wellKnownName, wrapperScalar } from './proto-wkt.js';

type Schema = Record<string, unknown>;
export type Side = 'input' | 'output';

export interface DerivedFunction {
  description: string;
  input: Schema;
  output: Schema;
}

/** One function per unary rpc, with the schemas of its messages. */
export function deriveFunctions(
  service: ProtoService,
  options: { emitDefaults: boolean },
): Record<string, DerivedFunction> {
  const out: Record<string, DerivedFunction> = {};
  for (const m of service.methods.values()) {
    out[m.name] = {
      description: `rpc ${m.name}(${m.requestType.name}) returns (${m.responseType.name}) of ${service.name}`,
      input: messageSchema(m.requestType, 'input', options.emitDefaults),
      output: messageSchema(m.responseType, 'output', options.emitDefaults),
    };
  }
  return out;
}

/** The schema of a message as a whole JSON document (with `$defs` when it is recursive). */
export function messageSchema(type: protobuf.Type, side: Side, emitDefaults = false): Schema {
  const d = new Deriver(side, emitDefaults);
  const schema = d.message(type, []);
  return d.defs.size === 0 ? schema : { ...schema, $defs: Object.fromEntries(d.defs) };
}

const int64Pattern = '^-?(0|[1-9][0-9]{0,18})$';
const uint64Pattern = '^(0|[1-9][0-9]{0,19})$';
const base64Pattern = '^([A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2})$';
const nonFinite = ['NaN', 'Infinity', '-Infinity'];

class Deriver {
  readonly defs = new Map<string, Schema>();
  constructor(
    readonly side: Side,
    readonly emitDefaults: boolean,
  ) {}

  message(type: protobuf.Type, stack: protobuf.Type[]): Schema {
    const wkt = wellKnownName(type);
    if (wkt !== undefined) return this.wellKnown(wkt);
    if (stack.includes(type)) return this.ref(type, stack);
    const inner = [...stack, type];
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const field of type.fieldsArray) {
      field.resolve();
      const json = jsonNameOf(field);
      const schema = this.field(field, inner);
      properties[json] = schema;
      if (this.side === 'input' && field.name !== json) properties[field.name] = schema;
      if (this.side === 'output' && this.emitDefaults && field.partOf === null) required.push(json);
    }
    const schema: Schema = {
      type: 'object',
      title: type.fullName.slice(1),
      properties,
      additionalProperties: false,
    };
    if (required.length > 0) schema.required = required;
    const exclusive = this.exclusions(type);
    if (exclusive.length > 0) schema.not = { anyOf: exclusive };
    return schema;
  }

  /** A recursive message: defined once under $defs, referred to by name. */
  ref(type: protobuf.Type, stack: protobuf.Type[]): Schema {
    const key = type.fullName.slice(1);
    if (!this.defs.has(key)) {
      this.defs.set(key, {}); // placeholder: the type refers to itself while it is derived
      const start = stack.indexOf(type);
      this.defs.set(key, this.message(type, stack.slice(0, start)));
    }
    return { $ref: `#/$defs/${key}` };
  }

  /** Pairs of names that may not appear together: two members of one oneof, or one field under both names. */
  exclusions(type: protobuf.Type): Schema[] {
    const out: Schema[] = [];
    const namesOf = (f: protobuf.Field) =>
      this.side === 'input' && f.name !== jsonNameOf(f) ? [jsonNameOf(f), f.name] : [jsonNameOf(f)];
    for (const f of type.fieldsArray) {
      const names = namesOf(f);
      if (names.length === 2) out.push({ type: 'object', required: names });
    }
    for (const oneof of type.oneofsArray) {
      if (isSyntheticOneof(oneof)) continue;
      const members = oneof.fieldsArray;
      for (let i = 0; i < members.length; i++) {
        for (let j = i + 1; j < members.length; j++) {
          for (const a of namesOf(members[i] as protobuf.Field)) {
            for (const b of namesOf(members[j] as protobuf.Field))
              out.push({ type: 'object', required: [a, b] });
          }
        }
      }
    }
    return out;
  }

  field(field: protobuf.Field, stack: protobuf.Type[]): Schema {
    if (field.map) {
      const keyType = (field as unknown as protobuf.MapField).keyType;
      return this.nullable({
        type: 'object',
        propertyNames: mapKeySchema(keyType),
        additionalProperties: this.single(field, stack),
      });
    }
    if (field.repeated) return this.nullable({ type: 'array', items: this.single(field, stack) });
    const schema = this.single(field, stack);
    // A message field left unset is null in output with emitDefaults (protojson's EmitUnpopulated).
    if (this.side === 'output' && this.emitDefaults && hasPresence(field) && field.partOf === null) {
      return orNull(schema);
    }
    return this.nullable(schema);
  }

  /** protojson reads null as a field's default value: input schemas admit it. */
  nullable(schema: Schema): Schema {
    return this.side === 'input' ? orNull(schema) : schema;
  }

  single(field: protobuf.Field, stack: protobuf.Type[]): Schema {
    const t = field.resolvedType;
    if (t !== null && 'fieldsArray' in t) return this.message(t as protobuf.Type, stack);
    if (t !== null) return this.enumeration(t as protobuf.Enum);
    return this.scalar(field.type);
  }

  enumeration(e: protobuf.Enum): Schema {
    if (e.fullName === '.google.protobuf.NullValue') return { type: 'null' };
    const names = Object.keys(e.values);
    const numbers = [...new Set(Object.values(e.values))];
    return { title: e.fullName.slice(1), enum: this.side === 'input' ? [...names, ...numbers] : names };
  }

  scalar(type: string): Schema {
    if (int32Types.has(type)) return { type: 'integer', minimum: -(2 ** 31), maximum: 2 ** 31 - 1 };
    if (uint32Types.has(type)) return { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 };
    if (int64Types.has(type) || uint64Types.has(type)) {
      const unsigned = uint64Types.has(type);
      const text = { type: 'string', pattern: unsigned ? uint64Pattern : int64Pattern };
      if (this.side === 'output') return text;
      const exact = {
        type: 'integer',
        minimum: unsigned ? 0 : Number.MIN_SAFE_INTEGER,
        maximum: Number.MAX_SAFE_INTEGER,
      };
      return { anyOf: [text, exact] };
    }
    switch (type) {
      case 'double':
        return { anyOf: [{ type: 'number' }, { enum: nonFinite }] };
      case 'float':
        return {
          anyOf: [
            { type: 'number', exclusiveMinimum: -FLOAT_LIMIT, exclusiveMaximum: FLOAT_LIMIT },
            { enum: nonFinite },
          ],
        };
      case 'bool':
        return { type: 'boolean' };
      case 'bytes':
        return { type: 'string', contentEncoding: 'base64', pattern: base64Pattern };
      default:
        return { type: 'string' };
    }
  }

  wellKnown(name: string): Schema {
    const scalar = wrapperScalar(name);
    if (scalar !== undefined) return this.scalar(scalar);
    switch (name) {
      case 'Timestamp':
        return {
          type: 'string',
          format: 'date-time',
          pattern:
            '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$',
        };
      case 'Duration':
        return { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$' };
      case 'FieldMask':
        return {
          type: 'string',
          pattern: '^([A-Za-z0-9]+(\\.[A-Za-z0-9]+)*(,[A-Za-z0-9]+(\\.[A-Za-z0-9]+)*)*)?$',
        };
      case 'Struct':
        return { type: 'object' };
      case 'ListValue':
        return { type: 'array' };
      case 'Any':
        return { type: 'object', properties: { '@type': { type: 'string' } }, required: ['@type'] };
      default:
        return {}; // google.protobuf.Value: any JSON
    }
  }
}

function orNull(schema: Schema): Schema {
  if (Object.keys(schema).length === 0) return schema;
  if (typeof schema.type === 'string' && schema.anyOf === undefined)
    return { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum)) return { ...schema, enum: [...schema.enum, null] };
  if (Array.isArray(schema.anyOf) && Object.keys(schema).length === 1)
    return { anyOf: [...schema.anyOf, { type: 'null' }] };
  return { anyOf: [schema, { type: 'null' }] };
}

function mapKeySchema(keyType: string): Schema {
  if (keyType === 'bool') return { enum: ['true', 'false'] };
  if (int32Types.has(keyType) || int64Types.has(keyType)) return { pattern: int64Pattern };
  if (uint32Types.has(keyType) || uint64Types.has(keyType)) return { pattern: uint64Pattern };
  return {};
}
