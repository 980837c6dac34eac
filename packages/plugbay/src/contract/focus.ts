// The witness search narrowed to where two schemas differ. Generated schemas are large (thousands of properties)
// and a change touches a few of them: compiling and sampling the whole object costs seconds, while the same search
// over the changed fields alone costs milliseconds and finds more (the samples are not spread over the rest).
import type { ValidateFunction } from 'ajv';
import { escapePointer } from './json.js';
import { annotations, hasRef, SchemaDoc, sameSchema } from './resolve.js';
import { isObject, type JsonSchema } from './snapshot.js';
import {
  candidates,
  compile,
  findWitness,
  judge,
  reasonOf,
  type Witness,
  type WitnessOptions,
} from './witness.js';

type Schema = Record<string, unknown>;

/** Past this many bytes of JSON a schema is searched only where it changed (Ajv compiles ~1 ms per property). */
export const WHOLE_SEARCH_LIMIT = 64 * 1024;
const MAX_FOCI = 16;

/**
 * A witness for `before` → `after` on `side`, searched field by field where the schemas differ, then over the
 * whole schemas when they are small enough.
 */
export function searchWitness(
  before: JsonSchema,
  after: JsonSchema,
  side: 'input' | 'output',
  options: WitnessOptions = {},
): Witness | undefined {
  const docs = [new SchemaDoc(before), new SchemaDoc(after)] as const;
  const foci: string[][] = [];
  collectFoci(docs, before, after, [], foci);
  const [accepting, refusing] = side === 'input' ? [before, after] : [after, before];
  const fields = new FieldSchemas(accepting);
  const refusingFields = new FieldSchemas(refusing);
  for (const path of foci.slice(0, MAX_FOCI)) {
    if (path.length === 0) continue;
    const witness = fieldWitness(fields, refusingFields, path, side, options);
    if (witness) return witness;
  }
  if (JSON.stringify(before).length + JSON.stringify(after).length > WHOLE_SEARCH_LIMIT * 2) return undefined;
  const witness = findWitness(before, after, side, options);
  return witness && shrink(witness, compile(accepting), compile(refusing));
}

/**
 * A witness for the field at `path` alone, set into a value that is otherwise as small as the accepting schema
 * allows (its required properties only). The refusal needs no second look: `properties` applies the field's schema
 * to the field wherever the object holds it. The acceptance is checked part by part (`FieldSchemas.accepts`).
 */
function fieldWitness(
  accepting: FieldSchemas,
  refusing: FieldSchemas,
  path: string[],
  side: 'input' | 'output',
  options: WitnessOptions,
): Witness | undefined {
  const a = accepting.at(path);
  const r = refusing.at(path);
  if (a === undefined || r === undefined) return undefined;
  const [before, after] = side === 'input' ? [a, r] : [r, a];
  const found = findWitness(before, after, side, options);
  if (found === undefined) return undefined;
  const refuse = compile(r);
  const field = shrink(found, compile(a), refuse);
  const value = accepting.around(path, field.value);
  if (value === undefined || refuse === undefined) return undefined;
  judge(refuse, field.value);
  const pointer = `/${path.map(escapePointer).join('/')}`;
  return { ...field, value, refusedBy: reasonOf(refuse, pointer), field: { pointer, value: field.value } };
}

const objectKeywords = new Set(['properties', ...annotations]);

/**
 * The property paths under which the schemas differ: a path goes down through `properties` only while everything
 * else at that level (the `$ref` targets included) is the same on both sides; `[]` means the root itself differs.
 */
function collectFoci(
  docs: readonly [SchemaDoc, SchemaDoc],
  a: unknown,
  b: unknown,
  path: string[],
  out: string[][],
): void {
  if (out.length > MAX_FOCI || sameSchema(docs, a, b)) return;
  if (
    !isObject(a) ||
    !isObject(b) ||
    !isObject(a.properties) ||
    !isObject(b.properties) ||
    typeof a.$ref === 'string' ||
    typeof b.$ref === 'string' ||
    path.length > 16 ||
    !sameSchema(docs, without(a, objectKeywords), without(b, objectKeywords))
  ) {
    out.push(path);
    return;
  }
  const pa = a.properties;
  const pb = b.properties;
  const keys = new Set([...Object.keys(pa), ...Object.keys(pb)]);
  let changedHere = false;
  for (const key of keys) {
    // Ajv skips a property called __proto__ altogether: no value there is judged by the host.
    if (key === '__proto__') continue;
    if (Object.hasOwn(pa, key) && Object.hasOwn(pb, key))
      collectFoci(docs, pa[key], pb[key], [...path, key], out);
    else changedHere = true; // a property added or removed: its object is where values differ
  }
  if (changedHere) out.push(path);
}

function without(s: Schema, keys: Set<string>): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) if (!keys.has(k)) out[k] = v;
  return out;
}

function requiredOf(s: Schema): string[] {
  return Array.isArray(s.required) ? s.required.filter((k): k is string => typeof k === 'string') : [];
}

/**
 * One schema's fields as schemas of their own: a field's schema with the root's definitions beside it, so its
 * `#/$defs/...` references resolve as they do in place. A field that refers elsewhere cannot stand alone.
 */
class FieldSchemas {
  private readonly samples = new Map<string, { value: unknown } | undefined>();
  private readonly rests = new WeakMap<object, ValidateFunction | undefined>();
  private readonly context: Schema = {};
  private readonly portable: boolean;

  constructor(private readonly root: JsonSchema) {
    if (isObject(root)) {
      for (const k of ['$defs', 'definitions', '$schema'])
        if (Object.hasOwn(root, k)) this.context[k] = root[k];
    }
    this.portable = portableRefs(this.context.$defs) && portableRefs(this.context.definitions);
  }

  /** The schema of the field at `path`, standing alone, or undefined when it cannot. */
  at(path: string[]): JsonSchema | undefined {
    let node: unknown = this.root;
    for (const key of path) {
      if (!isObject(node) || !isObject(node.properties) || !Object.hasOwn(node.properties, key))
        return undefined;
      node = node.properties[key];
    }
    return this.standalone(node);
  }

  private standalone(s: unknown): JsonSchema | undefined {
    if (typeof s === 'boolean') return s;
    if (!isObject(s)) return undefined;
    if (!hasRef(s)) return s;
    if (!this.portable || !portableRefs(s) || Object.keys(this.context).some((k) => Object.hasOwn(s, k)))
      return undefined;
    return { ...s, ...this.context };
  }

  /**
   * `field` set at `path` inside the smallest value this schema accepts around it: at each level the required
   * properties, each a value its own schema accepts, and the level's other keywords (`required`,
   * `additionalProperties`, `if`, ...) checked on the whole object with `properties` stubbed to `true`. JSON
   * Schema applies `properties` field by field, so these checks together are the schema's own verdict.
   */
  around(path: string[], field: unknown): unknown {
    const build = (node: unknown, depth: number): { value: unknown } | undefined => {
      if (depth === path.length) return { value: field };
      if (!isObject(node) || !isObject(node.properties)) return undefined;
      const props = node.properties;
      const key = path[depth] as string;
      const value: Schema = {};
      for (const k of requiredOf(node)) {
        if (k === key) continue;
        if (!Object.hasOwn(props, k)) return undefined;
        const sample = this.sample(props[k]);
        if (sample === undefined) return undefined;
        define(value, k, sample.value);
      }
      const inner = build(props[key], depth + 1);
      if (inner === undefined) return undefined;
      define(value, key, inner.value);
      const rest = this.rest(node);
      return rest !== undefined && judge(rest, value) === true ? { value } : undefined;
    };
    return build(this.root, 0)?.value;
  }

  /** A value the field schema `s` accepts (the first candidate Ajv agrees with), memoised by schema text. */
  private sample(s: unknown): { value: unknown } | undefined {
    const key = JSON.stringify(s);
    if (this.samples.has(key)) return this.samples.get(key);
    let found: { value: unknown } | undefined;
    const alone = this.standalone(s);
    const validate = alone === undefined ? undefined : compile(alone);
    if (alone !== undefined && validate !== undefined) {
      let tried = 0;
      for (const value of candidates(alone, 15)) {
        if (tried++ >= 200) break;
        if (judge(validate, value) === true) {
          found = { value };
          break;
        }
      }
    }
    this.samples.set(key, found);
    return found;
  }

  /** The object's own keywords, its `properties` reduced to their names. */
  private rest(node: Schema): ValidateFunction | undefined {
    if (this.rests.has(node)) return this.rests.get(node);
    const stubs: Schema = {};
    for (const k of Object.keys(node.properties as Schema)) stubs[k] = true;
    const alone = this.standalone({ ...node, properties: stubs });
    const validate = alone === undefined ? undefined : compile(alone);
    this.rests.set(node, validate);
    return validate;
  }
}

/** Whether every `$ref` in `s` points into `#/$defs` or `#/definitions` and no `$id` moves the base. */
function portableRefs(s: unknown, depth = 0): boolean {
  if (depth > 256) return false;
  if (Array.isArray(s)) return s.every((x) => portableRefs(x, depth + 1));
  if (!isObject(s)) return true;
  for (const [k, v] of Object.entries(s)) {
    if (k === 'const' || k === 'enum' || k === 'default' || k === 'examples') continue;
    if (k === '$id' || k === '$dynamicRef' || k === '$recursiveRef') return false;
    if (k === '$ref' && (typeof v !== 'string' || !/^#\/(\$defs|definitions)\//.test(v))) return false;
    if (!portableRefs(v, depth + 1)) return false;
  }
  return true;
}

/**
 * A simpler witness when there is one, for the author's eyes: properties and items dropped, strings made plain,
 * numbers rounded, each step kept only while the accepting schema still accepts and the other still refuses.
 */
function shrink(
  witness: Witness,
  accept: ValidateFunction | undefined,
  refuse: ValidateFunction | undefined,
): Witness {
  if (accept === undefined || refuse === undefined) return witness;
  let budget = 300;
  const holds = (v: unknown) => budget-- > 0 && judge(accept, v) === true && judge(refuse, v) === false;
  let best = witness.value;
  const visit = (path: (string | number)[], depth: number): void => {
    if (depth > 32 || budget <= 0) return;
    const here = getAt(best, path);
    const attempt = (candidate: unknown): boolean => {
      const next = setAt(best, path, candidate);
      if (!holds(next)) return false;
      best = next;
      return true;
    };
    if (Array.isArray(here)) {
      for (let i = here.length - 1; i >= 0; i--)
        attempt((getAt(best, path) as unknown[]).filter((_, j) => j !== i));
    } else if (isObject(here)) {
      for (const k of Object.keys(here)) {
        const { [k]: _, ...rest } = getAt(best, path) as Schema;
        attempt(rest);
      }
    } else if (typeof here === 'string') {
      if (here !== '' && !attempt('')) attempt('a'.repeat([...here].length));
    } else if (typeof here === 'number' && here !== 0 && !attempt(0)) {
      if (!attempt(1) && !Number.isInteger(here)) attempt(Math.trunc(here));
    }
    const now = getAt(best, path);
    if (Array.isArray(now)) for (let i = 0; i < now.length; i++) visit([...path, i], depth + 1);
    else if (isObject(now)) for (const k of Object.keys(now)) visit([...path, k], depth + 1);
  };
  visit([], 0);
  judge(refuse, best);
  return { ...witness, value: best, refusedBy: reasonOf(refuse) };
}

/** An own property even when it is called `__proto__`. */
function define(o: Schema, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function getAt(value: unknown, path: (string | number)[]): unknown {
  let node = value;
  for (const key of path) node = (node as Record<string | number, unknown>)[key];
  return node;
}

/** A copy of `value` with `replacement` at `path`, the rest shared. */
function setAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [key, ...rest] = path as [string | number, ...(string | number)[]];
  const child = setAt((value as Record<string | number, unknown>)[key], rest, replacement);
  if (Array.isArray(value)) return value.map((x, i) => (i === key ? child : x));
  return { ...(value as Schema), [key]: child };
}
