type Schema = Record<string, unknown>;

/**
 * Rewrites one side of a comparison to the form the other side uses, where both forms accept the same values:
 * `const: x` beside an `enum` reads as `enum: [x]`, and `{type: number, multipleOf: 1}` beside `type: integer`
 * reads as `type: integer`. Without them those rewrites would report a change that changes nothing.
 */
export function alignPair(a: Schema, b: Schema): [Schema, Schema] {
  // Unwrapped only beside a schema without allOf: between two allOfs the allOf rule compares branch by branch.
  const [ua, ub] = [Array.isArray(b.allOf) ? a : unwrapAllOf(a), Array.isArray(a.allOf) ? b : unwrapAllOf(b)];
  return [align(ua, ub), align(ub, ua)];
}

/** Keywords that only annotate (kept in step with resolve.ts `annotations`, which imports nothing from here). */
const notes = new Set(['title', 'description', '$comment', 'examples', 'default', 'deprecated', '$schema']);

/** The keywords of `s` that assert something. */
function assertions(s: Schema): string[] {
  return Object.keys(s).filter((k) => !notes.has(k) && !k.startsWith('x-'));
}

/** `{allOf: [X]}` and nothing else accepts what X does; X read in place (unless it is a `$ref`, followed later). */
function unwrapAllOf(s: Schema): Schema {
  const only = Array.isArray(s.allOf) && s.allOf.length === 1 ? s.allOf[0] : undefined;
  if (!isSchema(only) || typeof only.$ref === 'string' || assertions(s).length !== 1) return s;
  return only;
}

function isSchema(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const combinators = ['anyOf', 'oneOf', 'allOf', 'not', '$ref', '$dynamicRef', '$recursiveRef'];

function align(s: Schema, other: Schema): Schema {
  let out = s;
  // X beside `{anyOf: [...]}` alone reads as `{anyOf: [X]}`: the anyOf rule then compares branch by branch.
  if (
    Array.isArray(other.anyOf) &&
    assertions(other).length === 1 &&
    !combinators.some((k) => Object.hasOwn(s, k))
  ) {
    out = { anyOf: [s] };
  }
  if (
    Object.hasOwn(s, 'const') &&
    !Object.hasOwn(s, 'enum') &&
    Array.isArray(other.enum) &&
    !Object.hasOwn(other, 'const')
  ) {
    const { const: value, ...rest } = out;
    out = { ...rest, enum: [value] };
  }
  if (s.type === 'number' && s.multipleOf === 1 && other.type === 'integer') {
    const { multipleOf: _one, ...rest } = out;
    out = { ...rest, type: 'integer' };
  }
  return out;
}

/** The JSON Schema type of a value; integral numbers are `integer`. */
function typeOfValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** With an `enum` (or `const`), only the types of its values can be accepted: the rest of `type` is moot. */
export function reachableTypes(types: string[], s: Schema): string[] {
  const values = Array.isArray(s.enum) ? s.enum : Object.hasOwn(s, 'const') ? [s.const] : undefined;
  if (values === undefined) return types;
  const seen = [...new Set(values.map(typeOfValue))];
  return seen.filter((t) => types.includes(t) || (t === 'integer' && types.includes('number')));
}

/** The type a keyword constrains; it has no effect on values of other types. */
const constrains: Record<string, string[]> = {
  minimum: ['number', 'integer'],
  maximum: ['number', 'integer'],
  exclusiveMinimum: ['number', 'integer'],
  exclusiveMaximum: ['number', 'integer'],
  multipleOf: ['number', 'integer'],
  minLength: ['string'],
  maxLength: ['string'],
  pattern: ['string'],
  minItems: ['array'],
  maxItems: ['array'],
  uniqueItems: ['array'],
  minProperties: ['object'],
  maxProperties: ['object'],
};

/**
 * Whether a change of `keyword` is moot: one side's `type` rules out every value it constrains. Values of that type
 * were (or are) refused whatever the keyword says, and the `type` rule reports the type change itself.
 */
export function moot(keyword: string, a: Schema, b: Schema): boolean {
  const kinds = constrains[keyword];
  if (kinds === undefined) return false;
  const excludes = (s: Schema) => {
    const t = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? s.type : undefined;
    return t !== undefined && !t.some((x) => kinds.includes(x as string));
  };
  return excludes(a) || excludes(b);
}

const exclusiveOf: Record<string, string> = { minimum: 'exclusiveMinimum', maximum: 'exclusiveMaximum' };

/**
 * `minimum: 0` → `exclusiveMinimum: -1` (or back, or the same for maximum): one bound traded for the other. Returns
 * what the trade does, or undefined when the pair is not such a trade. Called with the inclusive keyword.
 */
export function boundTrade(
  keyword: string,
  a: Schema,
  b: Schema,
): { direction: 'narrows' | 'widens'; from: string; to: string } | undefined {
  const excl = exclusiveOf[keyword];
  if (excl === undefined) return undefined;
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const only = (s: Schema, k: string, not: string) => num(s[k]) && s[not] === undefined;
  let before: [number, boolean];
  let after: [number, boolean];
  if (only(a, keyword, excl) && only(b, excl, keyword)) {
    before = [a[keyword] as number, false];
    after = [b[excl] as number, true];
  } else if (only(a, excl, keyword) && only(b, keyword, excl)) {
    before = [a[excl] as number, true];
    after = [b[keyword] as number, false];
  } else return undefined;
  const lower = keyword === 'minimum';
  const beyond = lower ? after[0] > before[0] : after[0] < before[0];
  const tighter = beyond || (after[0] === before[0] && after[1]);
  const [from, to] = before[1] ? [excl, keyword] : [keyword, excl];
  return { direction: tighter ? 'narrows' : 'widens', from, to };
}

export const allTypes = ['array', 'boolean', 'null', 'number', 'object', 'string'];

export function typesOf(type: unknown): string[] | undefined {
  if (typeof type === 'string') return [type];
  if (Array.isArray(type) && type.every((x) => typeof x === 'string')) return type as string[];
  return undefined;
}

export function covers(types: string[], t: string): boolean {
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}
