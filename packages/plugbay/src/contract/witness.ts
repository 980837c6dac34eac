import type { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { OptionChecker } from '../core/options.js';
import { compileSchema, createAjv, violationsOf } from '../core/schema.js';
import { isObject, type JsonSchema } from './snapshot.js';

/**
 * The second line of defence of `contract diff`: a search for a value that proves a change breaking.
 * Input: a value the old schema accepts and the new one refuses. Output: a value the new schema allows and the old
 * one promised never to produce. Values come from the schema that must accept them (edge values first, then
 * fast-check samples) and are judged by the host's own Ajv setup, so a witness is never a guess of the generator.
 */

export interface WitnessOptions {
  /**
   * Search budget in milliseconds, compiling both schemas aside. Default 500: `maxValues` is the bound that counts
   * on a small schema; this one stops a search whose values are large (a contract gate must stay quick).
   */
  timeMs?: number;
  /** At most this many candidate values. Default 500. */
  maxValues?: number;
  /** fast-check seed; fixed so that CI sees the same witness each run. Default 15. */
  seed?: number;
}

export interface Witness {
  value: unknown;
  /** The schema that accepts the value: `before` for an input, `after` for an output. */
  accepted: 'before' | 'after';
  /** Why the other schema refuses it: keyword, JSON pointer and Ajv's message. */
  refusedBy: string;
  /** When the search was narrowed to one field (contract/focus.ts): its pointer and the value found for it. */
  field?: { pointer: string; value: unknown };
}

/** A value that shows the change from `before` to `after` on `side` to be breaking, or undefined if none found. */
export function findWitness(
  before: JsonSchema,
  after: JsonSchema,
  side: 'input' | 'output',
  options: WitnessOptions = {},
): Witness | undefined {
  const check = new OptionChecker('findWitness');
  check.positiveInteger('timeMs', options.timeMs);
  check.positiveInteger('maxValues', options.maxValues);
  check.integer('seed', options.seed, -(2 ** 31), 2 ** 31 - 1);
  check.done();
  const source = side === 'input' ? before : after;
  const accept = compile(source);
  const refuse = compile(side === 'input' ? after : before);
  // A schema Ajv cannot compile is refused by the host anyway; nothing to prove with values.
  if (accept === undefined || refuse === undefined) return undefined;
  const deadline = performance.now() + (options.timeMs ?? 500);
  const maxValues = options.maxValues ?? 500;
  let tried = 0;
  for (const value of candidates(source, options.seed ?? 15)) {
    if (tried++ >= maxValues || performance.now() > deadline) return undefined;
    if (judge(accept, value) === true && judge(refuse, value) === false) {
      return { value, accepted: side === 'input' ? 'before' : 'after', refusedBy: reasonOf(refuse) };
    }
  }
  return undefined;
}

/** Ajv's verdict, or undefined when its generated code throws (a stack overflow on a deep value). */
export function judge(validate: ValidateFunction, value: unknown): boolean | undefined {
  try {
    return validate(value) as boolean;
  } catch {
    return undefined;
  }
}

/** `witness: {"a":"x"} (the old input accepts it; the new refuses: type at /a: must be integer)`, kept short. */
export function formatWitness(witness: Witness, side: 'input' | 'output'): string {
  const short = (v: unknown) => {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  };
  let text = short(witness.value);
  // A large value built around one field: the field is what the author needs to see.
  if (text.endsWith('…') && witness.field)
    text = `${witness.field.pointer} = ${short(witness.field.value)} in ${text}`;
  const [accepts, refuses] = witness.accepted === 'before' ? ['old', 'new'] : ['new', 'old'];
  return `witness: ${text} (the ${accepts} ${side} accepts it; the ${refuses} refuses: ${witness.refusedBy})`;
}

export function compile(schema: JsonSchema): ValidateFunction | undefined {
  // The host's setup (createAjv), with allErrors as core/manifest.ts uses it: the same verdicts as the loader's
  // first-error-only Ajv, whose code nests a block per property and overflows the stack past ~1,000 of them.
  const compiled = compileSchema(createAjv({ validateSchema: false, allErrors: true }), schema);
  return 'validate' in compiled ? compiled.validate : undefined;
}

/** Why `validate` refused its last value; `prefix` places the value inside a larger one. */
export function reasonOf(validate: ValidateFunction, prefix = ''): string {
  const first = violationsOf(validate.errors)[0];
  return first === undefined
    ? 'refused'
    : `${first.rule} at ${prefix + first.pointer || '/'}: ${first.message}`;
}

/** Values any schema may be probed with when the generator does not model it. */
const PROBES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  1.5,
  2 ** 31,
  -(2 ** 31),
  '',
  'a',
  'x'.repeat(1000),
  [],
  [null],
  {},
  { a: { b: [1, 'x', null] } },
];

/** Probes, then edge values and fast-check samples taken in turn, so that neither starves the other. */
export function* candidates(schema: JsonSchema, seed: number): Generator<unknown> {
  yield* PROBES;
  const gen = new SchemaValues(schema, seed);
  const edges = gen.edges(schema, 0, 0);
  let arb: fc.Arbitrary<unknown> | undefined;
  let pool: unknown[] = [];
  let batch = 0;
  let edgesDone = false;
  let samplesDone = false;
  while (!edgesDone || !samplesDone) {
    if (!edgesDone) {
      const next = edges.next();
      if (next.done) edgesDone = true;
      else yield next.value;
    }
    if (samplesDone) continue;
    if (pool.length === 0) {
      try {
        arb ??= gen.arb(schema, 0, 0);
        pool = fc.sample(arb, { seed: seed + batch++, numRuns: 20 });
      } catch {
        // a constraint fast-check refuses (say an empty range): edge values only
        samplesDone = true;
        continue;
      }
    }
    yield pool.shift();
  }
}

type Obj = Record<string, unknown>;

// Bounds that keep recursive schemas finite: $refs followed on one path, nesting, and nodes built in all.
const MAX_REFS = 4;
const MAX_DEPTH = 8;
const MAX_NODES = 20_000;
const EDGES_PER_CHILD = 12;
const ROOT_BASE = 'https://plugbay.invalid/root.json';

/** Builds arbitraries and edge values from one schema document, resolving its local `$ref`s. */
class SchemaValues {
  /** Base URI in effect inside each subschema object (nearest enclosing `$id`). */
  private readonly baseOf = new WeakMap<object, string>();
  /** Resources by URI: `$id`s without fragment, `$anchor`s and draft-07 `#name` ids with theirs. */
  private readonly resources = new Map<string, unknown>();
  private nodes = 0;

  constructor(
    root: JsonSchema,
    private readonly seed: number,
  ) {
    this.index(root, ROOT_BASE);
    this.resources.set(ROOT_BASE, root);
  }

  private index(node: unknown, base: string): void {
    if (Array.isArray(node)) {
      for (const item of node) this.index(item, base);
      return;
    }
    if (!isObject(node)) return;
    let here = base;
    if (typeof node.$id === 'string') {
      const url = safeUrl(node.$id, base);
      if (url !== undefined) {
        if (url.hash.length > 1) this.resources.set(url.href, node);
        url.hash = '';
        if (!node.$id.startsWith('#')) {
          here = url.href;
          this.resources.set(here, node);
        }
      }
    }
    if (typeof node.$anchor === 'string') this.resources.set(`${here}#${node.$anchor}`, node);
    this.baseOf.set(node, here);
    for (const [key, value] of Object.entries(node)) {
      // values, not schemas: a `$id` inside an enum member is data
      if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') continue;
      this.index(value, here);
    }
  }

  private lookup(ref: string, from: object): unknown {
    const url = safeUrl(ref, this.baseOf.get(from) ?? ROOT_BASE);
    if (url === undefined) return undefined;
    if (this.resources.has(url.href)) return this.resources.get(url.href);
    const pointer = decodeURIComponent(url.hash.slice(1));
    url.hash = '';
    let target = this.resources.get(url.href);
    if (pointer === '') return target;
    if (!pointer.startsWith('/')) return undefined; // an anchor nobody declared
    for (const raw of pointer.split('/').slice(1)) {
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      if (Array.isArray(target)) target = target[Number(key)];
      else if (isObject(target)) target = target[key];
      else return undefined;
    }
    return target;
  }

  /**
   * The schema with its `$ref` and `allOf` folded in (both apply, as in draft 2019+), or undefined past the bounds.
   * Folding is a generation heuristic: Ajv, not this, decides whether a value is valid.
   */
  private effective(schema: unknown, refs: number): { s: Obj | boolean; refs: number } | undefined {
    if (typeof schema === 'boolean') return { s: schema, refs };
    if (!isObject(schema)) return { s: true, refs };
    let s: Obj | boolean = schema;
    if (typeof schema.$ref === 'string') {
      if (refs >= MAX_REFS) return undefined;
      const target = this.effective(this.lookup(schema.$ref, schema), refs + 1);
      if (target === undefined) return undefined;
      refs = target.refs;
      const { $ref: _, ...siblings } = schema;
      s = merge(target.s, siblings);
    }
    if (isObject(s) && Array.isArray(s.allOf)) {
      const { allOf, ...rest } = s;
      let folded: Obj | boolean = rest;
      for (const branch of allOf) {
        const part = this.effective(branch, refs);
        if (part === undefined) return undefined;
        folded = merge(folded, part.s);
      }
      s = folded;
    }
    return { s, refs };
  }

  arb(schema: unknown, refs: number, depth: number): fc.Arbitrary<unknown> {
    if (depth > MAX_DEPTH || ++this.nodes > MAX_NODES) return anything;
    const e = this.effective(schema, refs);
    if (e === undefined || typeof e.s === 'boolean') return anything;
    try {
      return this.arbOf(e.s, e.refs, depth + 1);
    } catch {
      // fast-check refused a constraint (an unsupported regex, an empty range): probe values instead
      return anything;
    }
  }

  private arbOf(s: Obj, refs: number, depth: number): fc.Arbitrary<unknown> {
    if ('const' in s) return fc.constant(s.const);
    if (Array.isArray(s.enum) && s.enum.length > 0) return fc.constantFrom(...s.enum);
    const branches = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
    if (branches !== undefined && branches.length > 0) {
      const rest = without(s, Array.isArray(s.anyOf) ? 'anyOf' : 'oneOf');
      return fc.oneof(...branches.map((b) => this.arb({ allOf: [rest, b] }, refs, depth)));
    }
    const types = typesOf(s);
    if (types.length === 0) return anything;
    return fc.oneof(...types.map((t) => this.arbOfType(t, s, refs, depth)));
  }

  private arbOfType(type: string, s: Obj, refs: number, depth: number): fc.Arbitrary<unknown> {
    switch (type) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'string':
        return stringArb(s);
      case 'integer':
      case 'number':
        return numberArb(s, type === 'integer');
      case 'array':
        return this.arrayArb(s, refs, depth);
      case 'object':
        return this.objectArb(s, refs, depth);
      default:
        return anything;
    }
  }

  private arrayArb(s: Obj, refs: number, depth: number): fc.Arbitrary<unknown> {
    const { tuple, rest } = arrayParts(s);
    const min = count(s.minItems) ?? 0;
    const max = count(s.maxItems) ?? min + 5;
    if (tuple !== undefined) {
      const head = fc.tuple(...tuple.map((t) => this.arb(t, refs, depth)));
      const tail =
        rest === false ? fc.constant([]) : fc.array(this.arb(rest ?? true, refs, depth), { maxLength: 3 });
      // a tuple may also be cut short: prefixItems does not require every position
      return fc
        .tuple(head, tail, fc.nat(tuple.length))
        .map(([h, t, n]) => (n < h.length ? h.slice(0, n) : [...h, ...t]));
    }
    const item = this.arb(rest ?? true, refs, depth);
    if (s.uniqueItems === true) return fc.uniqueArray(item, { maxLength: max, selector: stableText });
    return fc.array(item, { minLength: min, maxLength: Math.max(min, max) });
  }

  private objectArb(s: Obj, refs: number, depth: number): fc.Arbitrary<unknown> {
    const props = isObject(s.properties) ? s.properties : {};
    const required = strings(s.required);
    const extra = s.additionalProperties ?? true;
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [key, sub] of Object.entries(props)) model[key] = this.arb(sub, refs, depth);
    for (const key of required) model[key] ??= this.arb(extra === false ? true : extra, refs, depth);
    const record = fc.record(model, { requiredKeys: required });
    const extras: fc.Arbitrary<Obj>[] = [];
    if (extra !== false) {
      extras.push(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), this.arb(extra, refs, depth), {
          maxKeys: 2,
        }),
      );
    }
    for (const [pattern, sub] of Object.entries(isObject(s.patternProperties) ? s.patternProperties : {})) {
      const key = regexArb(pattern);
      if (key !== undefined) extras.push(fc.dictionary(key, this.arb(sub, refs, depth), { maxKeys: 2 }));
    }
    if (extras.length === 0) return record;
    // declared properties win over an extra key of the same name
    return fc.tuple(fc.oneof(...extras), record).map(([e, r]) => ({ ...e, ...r }));
  }

  /** Values at and just across the schema's bounds, lazily, nested schemas included. */
  *edges(schema: unknown, refs: number, depth: number): Generator<unknown> {
    if (depth > MAX_DEPTH) return;
    const e = this.effective(schema, refs);
    if (e === undefined) return;
    if (typeof e.s === 'boolean') {
      if (e.s) yield* PROBES;
      return;
    }
    const s = e.s;
    if ('const' in s) yield s.const;
    if (Array.isArray(s.enum)) yield* s.enum;
    if ('const' in s || Array.isArray(s.enum)) return;
    const branches = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
    if (branches !== undefined) {
      const rest = without(s, Array.isArray(s.anyOf) ? 'anyOf' : 'oneOf');
      for (const b of branches) yield* this.edges({ allOf: [rest, b] }, e.refs, depth + 1);
      return;
    }
    const types = typesOf(s);
    if (types.length === 0) yield* PROBES;
    for (const type of types) {
      if (type === 'null') yield null;
      else if (type === 'boolean') yield* [true, false];
      else if (type === 'string') yield* this.stringEdges(s);
      else if (type === 'integer' || type === 'number') yield* numberEdges(s);
      else if (type === 'array') yield* this.arrayEdges(s, e.refs, depth + 1);
      else if (type === 'object') yield* this.objectEdges(s, e.refs, depth + 1);
    }
  }

  /** The first edge value of a schema: a simple valid-looking value for filling other positions. */
  private first(schema: unknown, refs: number, depth: number): unknown {
    const next = this.edges(schema, refs, depth).next();
    return next.done ? null : next.value;
  }

  private *childEdges(schema: unknown, refs: number, depth: number): Generator<unknown> {
    let n = 0;
    for (const value of this.edges(schema, refs, depth)) {
      if (n++ >= EDGES_PER_CHILD) return;
      yield value;
    }
  }

  private *stringEdges(s: Obj): Generator<unknown> {
    const format = typeof s.format === 'string' ? FORMAT_SAMPLES[s.format] : undefined;
    if (format !== undefined) yield* format;
    if (typeof s.pattern === 'string') {
      const arb = regexArb(s.pattern);
      if (arb !== undefined) yield* fc.sample(arb, { seed: this.seed, numRuns: 5 });
    }
    const min = count(s.minLength) ?? 0;
    const max = count(s.maxLength);
    const lengths = max === undefined ? [min, min + 1, 300] : [min, min + 1, max, max - 1, max + 1];
    for (const n of lengths) if (n >= 0) yield 'a'.repeat(n);
    // characters a new pattern or a code-point count may treat differently
    for (const c of ['A', '0', ' ', 'a-b', 'é', '😀', 'a\nb']) yield c.repeat(Math.max(1, min));
  }

  private *arrayEdges(s: Obj, refs: number, depth: number): Generator<unknown> {
    const { tuple, rest } = arrayParts(s);
    const min = count(s.minItems) ?? 0;
    const max = count(s.maxItems);
    if (tuple !== undefined) {
      const full = tuple.map((t) => this.first(t, refs, depth));
      yield full;
      for (let i = 0; i < tuple.length; i++) {
        for (const v of this.childEdges(tuple[i], refs, depth)) yield full.map((x, j) => (j === i ? v : x));
      }
      if (rest !== false) for (const v of this.childEdges(rest ?? true, refs, depth)) yield [...full, v];
      yield full.slice(0, -1);
      return;
    }
    const item = rest ?? true;
    const fill = this.first(item, refs, depth);
    yield [];
    for (const n of max === undefined ? [min, min + 1] : [min, max, max + 1]) yield Array(n).fill(fill);
    for (const v of this.childEdges(item, refs, depth))
      yield min <= 1 ? [v] : [v, ...Array(min - 1).fill(fill)];
    yield [fill, fill];
  }

  private *objectEdges(s: Obj, refs: number, depth: number): Generator<unknown> {
    const props = isObject(s.properties) ? s.properties : {};
    const extra = s.additionalProperties ?? true;
    const base: Obj = {};
    for (const key of strings(s.required)) base[key] = this.first(props[key] ?? extra, refs, depth);
    yield base;
    const full: Obj = { ...base };
    for (const [key, sub] of Object.entries(props))
      if (!(key in full)) full[key] = this.first(sub, refs, depth);
    yield full;
    for (const [key, sub] of Object.entries(props)) {
      for (const v of this.childEdges(sub, refs, depth)) yield { ...base, [key]: v };
    }
    if (extra !== false) {
      let key = 'extra';
      while (key in props) key += '_';
      for (const v of this.childEdges(extra, refs, depth)) yield { ...base, [key]: v };
    }
    for (const [pattern, sub] of Object.entries(isObject(s.patternProperties) ? s.patternProperties : {})) {
      const arb = regexArb(pattern);
      if (arb === undefined) continue;
      const [key] = fc.sample(arb, { seed: this.seed, numRuns: 1 });
      if (key !== undefined) for (const v of this.childEdges(sub, refs, depth)) yield { ...base, [key]: v };
    }
  }
}

/** A generic value: a probe or any JSON value. */
const anything: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(...PROBES), fc.jsonValue({ maxDepth: 2 }));

/** Both schemas apply: their keywords are combined, the stricter bound kept; Ajv has the last word anyway. */
function merge(a: Obj | boolean, b: Obj | boolean): Obj | boolean {
  if (a === false || b === false) return false;
  if (a === true) return b;
  if (b === true) return a;
  const out: Obj = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const old = out[key];
    if (old === undefined) out[key] = value;
    else if (key === 'properties' && isObject(old) && isObject(value)) {
      const props: Obj = { ...old };
      for (const [name, sub] of Object.entries(value))
        props[name] = name in old ? { allOf: [old[name], sub] } : sub;
      out[key] = props;
    } else if (key === 'required') out[key] = [...new Set([...strings(old), ...strings(value)])];
    else if (LOWER_BOUNDS.has(key) && typeof old === 'number' && typeof value === 'number')
      out[key] = Math.max(old, value);
    else if (UPPER_BOUNDS.has(key) && typeof old === 'number' && typeof value === 'number')
      out[key] = Math.min(old, value);
    else if (key === 'type') {
      const both = typeList(old).filter((t) => typeList(value).includes(t));
      out[key] = both.length > 0 ? both : value;
    } else if (
      (key === 'items' || key === 'additionalProperties') &&
      !Array.isArray(old) &&
      !Array.isArray(value)
    )
      out[key] = { allOf: [old, value] };
  }
  return out;
}

const LOWER_BOUNDS = new Set(['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties']);
const UPPER_BOUNDS = new Set(['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties']);

const KEYWORD_TYPES: [string, string[]][] = [
  [
    'object',
    ['properties', 'required', 'additionalProperties', 'patternProperties', 'minProperties', 'maxProperties'],
  ],
  ['array', ['items', 'prefixItems', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems', 'contains']],
  ['string', ['minLength', 'maxLength', 'pattern', 'format']],
  ['number', ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']],
];

/** Declared types, or those implied by the keywords present; `nullable: true` (OpenAPI) adds null. */
function typesOf(s: Obj): string[] {
  let types = typeList(s.type);
  if (types.length === 0)
    types = KEYWORD_TYPES.filter(([, keys]) => keys.some((k) => k in s)).map(([t]) => t);
  if (s.nullable === true && !types.includes('null')) types = [...types, 'null'];
  return types;
}

function typeList(type: unknown): string[] {
  if (typeof type === 'string') return [type];
  return strings(type);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function without(s: Obj, key: string): Obj {
  const { [key]: _, ...rest } = s;
  return rest;
}

/** Tuple positions (`prefixItems`, or draft-07 array `items`) and the schema of the items after them. */
function arrayParts(s: Obj): { tuple: unknown[] | undefined; rest: unknown } {
  if (Array.isArray(s.prefixItems)) return { tuple: s.prefixItems, rest: s.items };
  if (Array.isArray(s.items)) return { tuple: s.items, rest: s.additionalItems };
  return { tuple: undefined, rest: s.items };
}

function safeUrl(ref: string, base: string): URL | undefined {
  try {
    return new URL(ref, base);
  } catch {
    return undefined;
  }
}

function regexArb(pattern: string): fc.Arbitrary<string> | undefined {
  try {
    return fc.stringMatching(new RegExp(pattern, 'u'));
  } catch {
    return undefined;
  }
}

function stringArb(s: Obj): fc.Arbitrary<unknown> {
  const format = typeof s.format === 'string' ? FORMAT_ARBS[s.format] : undefined;
  if (format !== undefined) return format();
  const pattern = typeof s.pattern === 'string' ? regexArb(s.pattern) : undefined;
  if (pattern !== undefined) return pattern;
  const minLength = count(s.minLength) ?? 0;
  const maxLength = Math.max(minLength, count(s.maxLength) ?? minLength + 40);
  // 'binary' draws any code point: Ajv counts lengths in code points, not UTF-16 units
  return fc.oneof(fc.string({ minLength, maxLength }), fc.string({ minLength, maxLength, unit: 'binary' }));
}

function numberArb(s: Obj, integer: boolean): fc.Arbitrary<unknown> {
  // draft-4 writes an exclusive bound as `exclusiveMinimum: true` beside `minimum`
  const lowX = typeof s.exclusiveMinimum === 'number' || s.exclusiveMinimum === true;
  const highX = typeof s.exclusiveMaximum === 'number' || s.exclusiveMaximum === true;
  const low = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : num(s.minimum);
  const high = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : num(s.maximum);
  const step = num(s.multipleOf);
  if (step !== undefined && step > 0) {
    const kLow = Math.max(Math.ceil((low ?? -1e6 * step) / step), -1e9);
    const kHigh = Math.min(Math.floor((high ?? 1e6 * step) / step), 1e9);
    return fc.integer({ min: kLow, max: Math.max(kLow, kHigh) }).map((k) => k * step);
  }
  const intLow =
    low === undefined ? Number.MIN_SAFE_INTEGER : Math.max(Math.floor(low) + 1, Number.MIN_SAFE_INTEGER);
  const intHigh =
    high === undefined ? Number.MAX_SAFE_INTEGER : Math.min(Math.ceil(high) - 1, Number.MAX_SAFE_INTEGER);
  // integer bounds: one past an exclusive bound, the bound itself otherwise
  const ints = fc.integer({
    min: low !== undefined && !lowX && Number.isInteger(low) ? low : intLow,
    max: Math.max(intLow, high !== undefined && !highX && Number.isInteger(high) ? high : intHigh),
  });
  if (integer) return ints;
  const doubles = fc.double({
    min: low ?? -Number.MAX_VALUE,
    max: Math.max(low ?? -Number.MAX_VALUE, high ?? Number.MAX_VALUE),
    minExcluded: lowX,
    maxExcluded: highX,
    noNaN: true,
    noDefaultInfinity: true,
  });
  // fc.double is uniform over bit patterns (mostly tiny magnitudes); this spreads values over the range instead
  const spread =
    low !== undefined && high !== undefined
      ? fc.integer({ min: 0, max: 1_000_000 }).map((k) => low + ((high - low) * k) / 1_000_000)
      : fc.tuple(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.nat(99)).map(([i, f]) => i + f / 100);
  return fc.oneof(doubles, ints, spread);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function* numberEdges(s: Obj): Generator<unknown> {
  const bounds = [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum].filter(
    (b): b is number => typeof b === 'number' && Number.isFinite(b),
  );
  for (const b of bounds) yield* [b, b + 1, b - 1, b + 0.5, b - 0.5];
  const step = num(s.multipleOf);
  if (step !== undefined && step > 0) {
    yield* [step, 2 * step, 3 * step, step / 2, 0];
    for (const b of bounds) yield* [Math.ceil(b / step) * step, Math.floor(b / step) * step];
  }
  yield* [
    0,
    1,
    -1,
    0.5,
    1.5,
    -1.5,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    Number.MAX_SAFE_INTEGER,
    1e21,
    1e-7,
  ];
}

/** Sample values of the formats ajv-formats knows, so a format added or swapped is probed with real members. */
const FORMAT_SAMPLES: Record<string, unknown[]> = {
  date: ['2020-01-31'],
  time: ['12:00:00Z', '12:00:00'],
  'date-time': ['2020-01-31T12:00:00Z', '2020-01-31T12:00:00+02:00'],
  duration: ['P1D'],
  uri: ['https://example.com/a?b=c', 'urn:a:b'],
  'uri-reference': ['/a/b', 'https://example.com/'],
  url: ['https://example.com/'],
  email: ['a@example.com'],
  hostname: ['example.com', 'a'],
  ipv4: ['192.168.0.1'],
  ipv6: ['::1', '2001:db8::1'],
  uuid: ['123e4567-e89b-12d3-a456-426614174000'],
  regex: ['^a+$'],
  'json-pointer': ['/a/0'],
};

const FORMAT_ARBS: Record<string, () => fc.Arbitrary<unknown>> = {
  date: () => fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  'date-time': () => fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  email: () => fc.emailAddress(),
  uri: () => fc.webUrl(),
  url: () => fc.webUrl(),
  hostname: () => fc.domain(),
  ipv4: () => fc.ipV4(),
  ipv6: () => fc.ipV6(),
  uuid: () => fc.uuid(),
};

/** JSON text with sorted keys: equal for values Ajv's uniqueItems calls equal. */
function stableText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v) && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
