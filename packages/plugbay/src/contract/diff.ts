import { type ContractSnapshot, isObject, type JsonSchema } from './snapshot.js';

export type Verdict = 'breaking' | 'compatible' | 'unknown';
export type Side = 'input' | 'output';

/**
 * One classified change. `rule` is `<side>.<subject>.<change>` (e.g. `input.property.required-added`,
 * `output.enum.value-added`), or `function.added` / `function.removed`; named after oasdiff's checks
 * (`request-property-became-required`, `response-property-enum-value-added`) with the direction as prefix.
 */
export interface Change {
  function: string;
  side?: Side;
  /** JSON pointer inside the function's input or output schema ('' for the function itself). */
  path: string;
  /** The data field concerned, dotted (`width`, `items[].id`), when the path names one. */
  field?: string;
  rule: string;
  verdict: Verdict;
  message: string;
}

export interface DiffOptions {
  /** Count `unknown` changes as compatible instead of breaking. Default false. */
  allowUnknown?: boolean;
}

export interface DiffResult {
  changes: Change[];
  /** True when a change is breaking, or unknown without `allowUnknown`. */
  breaking: boolean;
  counts: Record<Verdict, number>;
}

/**
 * What a schema change does to the set of values the schema accepts:
 * - narrows: some values valid before are rejected now;
 * - widens: some values rejected before are valid now;
 * - both: both at once (e.g. a pattern replaced);
 * - neutral: by convention neither (an optional property defined where extra properties were allowed);
 * - unknown: cannot be proven either way.
 * Inputs must not narrow (callers send what used to be valid); outputs must not widen (callers read what the
 * schema used to promise).
 */
type Direction = 'narrows' | 'widens' | 'both' | 'neutral' | 'unknown';

function verdictOf(side: Side, direction: Direction): Verdict {
  if (direction === 'unknown') return 'unknown';
  if (direction === 'both') return 'breaking';
  if (direction === 'neutral') return 'compatible';
  if (side === 'input') return direction === 'narrows' ? 'breaking' : 'compatible';
  return direction === 'widens' ? 'breaking' : 'compatible';
}

/** Compares two snapshots function by function. Never throws on odd schemas: what it cannot prove is `unknown`. */
export function diffSnapshots(
  before: ContractSnapshot,
  after: ContractSnapshot,
  options: DiffOptions = {},
): DiffResult {
  const changes: Change[] = [];
  const names = [...new Set([...Object.keys(before.functions), ...Object.keys(after.functions)])].sort();
  for (const fn of names) {
    const a = Object.hasOwn(before.functions, fn) ? before.functions[fn] : undefined;
    const b = Object.hasOwn(after.functions, fn) ? after.functions[fn] : undefined;
    if (a && !b) {
      changes.push({
        function: fn,
        path: '',
        rule: 'function.removed',
        verdict: 'breaking',
        message: `function ${fn} was removed`,
      });
    } else if (!a && b) {
      changes.push({
        function: fn,
        path: '',
        rule: 'function.added',
        verdict: 'compatible',
        message: `function ${fn} was added`,
      });
    } else if (a && b) {
      changes.push(
        ...diffSchemas(a.input, b.input, 'input', fn),
        ...diffSchemas(a.output, b.output, 'output', fn),
      );
    }
  }
  return summarize(changes, options);
}

export function summarize(changes: Change[], options: DiffOptions = {}): DiffResult {
  const counts: Record<Verdict, number> = { breaking: 0, compatible: 0, unknown: 0 };
  for (const c of changes) counts[c.verdict]++;
  return { changes, breaking: counts.breaking > 0 || (!options.allowUnknown && counts.unknown > 0), counts };
}

interface Context {
  side: Side;
  fn: string;
  beforeRoot: unknown;
  afterRoot: unknown;
  changes: Change[];
  /** `$ref` pairs being expanded on the current path, to stop at cycles. */
  refs: Set<string>;
  /** Subschemas compared so far; a cap keeps shared `$ref`s from blowing up exponentially. */
  visited: number;
}

const maxDepth = 64;
const maxVisits = 20_000;

/** Every change between two schemas of one side of one function. */
export function diffSchemas(before: JsonSchema, after: JsonSchema, side: Side, fn: string): Change[] {
  const ctx: Context = {
    side,
    fn,
    beforeRoot: before,
    afterRoot: after,
    changes: [],
    refs: new Set(),
    visited: 0,
  };
  try {
    compare(ctx, before, after, '', 0);
  } catch (err) {
    // A schema too odd for the rules above (a bug, or a stack overflow on absurd nesting): not provable.
    emit(
      ctx,
      '',
      'schema.unprocessable',
      'unknown',
      `cannot compare: ${(err as Error)?.message ?? String(err)}`,
    );
  }
  return ctx.changes;
}

function emit(ctx: Context, path: string, subject: string, direction: Direction, message: string): void {
  const field = fieldOf(path);
  const change: Change = {
    function: ctx.fn,
    side: ctx.side,
    path,
    rule: `${ctx.side}.${subject}`,
    verdict: verdictOf(ctx.side, direction),
    message: `${ctx.fn} ${ctx.side}${field ? ` field ${field}` : ''}: ${message}`,
  };
  if (field) change.field = field;
  ctx.changes.push(change);
}

/** Keywords that only annotate: a change to them changes no value's validity. */
const annotations = new Set([
  'title',
  'description',
  '$comment',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$schema',
  '$id',
  '$anchor',
  'contentMediaType',
  'contentEncoding',
  '$defs',
  'definitions',
]);

const lowerBounds = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const;
const upperBounds = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const;

/** Keywords compared by a rule below; any other keyword that differs is `unknown`. */
const handled = new Set<string>([
  '$ref',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'pattern',
  'format',
  'multipleOf',
  'uniqueItems',
  'anyOf',
  ...lowerBounds,
  ...upperBounds,
]);

function compare(ctx: Context, beforeIn: unknown, afterIn: unknown, path: string, depth: number): void {
  if (depth > maxDepth) {
    if (!deepEqual(beforeIn, afterIn))
      emit(ctx, path, 'schema.too-deep', 'unknown', `nesting deeper than ${maxDepth}`);
    return;
  }
  if (++ctx.visited > maxVisits) {
    if (ctx.visited === maxVisits + 1)
      emit(ctx, path, 'schema.too-large', 'unknown', `more than ${maxVisits} subschemas`);
    return;
  }
  const resolved = resolveRefs(ctx, beforeIn, afterIn, path);
  if (resolved === 'stop') return;
  const [before, after, refKey] = resolved;
  try {
    compareResolved(ctx, before, after, path, depth);
  } finally {
    if (refKey !== undefined) ctx.refs.delete(refKey);
  }
}

function compareResolved(ctx: Context, before: unknown, after: unknown, path: string, depth: number): void {
  // Boolean schemas: `true` accepts everything (same as {}), `false` accepts nothing.
  if (before === false || after === false) {
    if (before === false && after !== false)
      emit(ctx, path, 'schema.false-removed', 'widens', 'now accepts values (was false)');
    if (after === false && before !== false)
      emit(ctx, path, 'schema.false-added', 'narrows', 'now accepts no value (false)');
    return;
  }
  const a = before === true ? {} : before;
  const b = after === true ? {} : after;
  if (!isObject(a) || !isObject(b)) {
    if (!deepEqual(a, b)) emit(ctx, path, 'schema.invalid', 'unknown', 'is not a JSON Schema object');
    return;
  }

  compareType(ctx, a, b, path);
  compareEnum(ctx, a, b, path);
  compareConst(ctx, a, b, path);
  for (const k of lowerBounds) compareBound(ctx, a, b, path, k, 'lower');
  for (const k of upperBounds) compareBound(ctx, a, b, path, k, 'upper');
  compareMultipleOf(ctx, a, b, path);
  compareAddedRemovedChanged(ctx, a, b, path, 'pattern');
  compareAddedRemovedChanged(ctx, a, b, path, 'format');
  if ((a.uniqueItems === true) !== (b.uniqueItems === true)) {
    if (b.uniqueItems === true)
      emit(ctx, `${path}/uniqueItems`, 'unique-items.added', 'narrows', 'items must now be unique');
    else
      emit(ctx, `${path}/uniqueItems`, 'unique-items.removed', 'widens', 'items no longer need to be unique');
  }
  compareObject(ctx, a, b, path, depth);
  compareItems(ctx, a, b, path, depth);
  compareAnyOf(ctx, a, b, path);

  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    if (handled.has(k) || annotations.has(k) || k.startsWith('x-')) continue;
    if (deepEqual(a[k], b[k])) continue;
    const subject = ['oneOf', 'allOf', 'not', 'if', 'then', 'else'].includes(k)
      ? `${kebab(k)}.changed`
      : 'keyword.unknown';
    emit(
      ctx,
      `${path}/${escapePointer(k)}`,
      subject,
      'unknown',
      `${k} changed; cannot prove whether it narrows or widens`,
    );
  }
}

/** Follows local `$ref`s on both sides; a pair met again while expanding is a cycle. */
function resolveRefs(
  ctx: Context,
  before: unknown,
  after: unknown,
  path: string,
): [unknown, unknown, string | undefined] | 'stop' {
  const refA = isObject(before) && typeof before.$ref === 'string' ? before.$ref : undefined;
  const refB = isObject(after) && typeof after.$ref === 'string' ? after.$ref : undefined;
  if (refA === undefined && refB === undefined) return [before, after, undefined];
  const a = refA === undefined ? before : deref(ctx.beforeRoot, before as Record<string, unknown>, refA);
  const b = refB === undefined ? after : deref(ctx.afterRoot, after as Record<string, unknown>, refB);
  if (a === undefined || b === undefined) {
    if (!deepEqual(before, after)) {
      const which = a === undefined ? refA : refB;
      emit(
        ctx,
        `${path}/$ref`,
        'ref.unresolved',
        'unknown',
        `$ref ${which} cannot be resolved (only local refs are)`,
      );
    }
    return 'stop';
  }
  const key = `${refA ?? '-'}\0${refB ?? '-'}`;
  if (ctx.refs.has(key)) {
    // Back at a pair being compared: whatever differs inside the cycle was reported on the way round; a recursive
    // schema that changed is still flagged, because its rewrite cannot be proven safe by this walk alone.
    if (!deepEqual(a, b))
      emit(ctx, `${path}/$ref`, 'ref.cycle', 'unknown', `recursive $ref (${refA ?? refB}) changed`);
    return 'stop';
  }
  ctx.refs.add(key); // removed by compare() once this subtree is done: a repeat elsewhere is not a cycle
  return [a, b, key];
}

function deref(root: unknown, schema: Record<string, unknown>, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let target: unknown = root;
  const pointer = ref.slice(1);
  if (pointer !== '') {
    if (!pointer.startsWith('/')) return undefined;
    for (const raw of pointer.slice(1).split('/')) {
      let seg: string;
      try {
        seg = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      } catch {
        return undefined; // malformed %-escape: unresolvable
      }
      if (!isObject(target) && !Array.isArray(target)) return undefined;
      if (!Object.hasOwn(target as object, seg)) return undefined;
      target = (target as Record<string, unknown>)[seg];
    }
  }
  // Keywords beside $ref apply too (2019-09 and later); merge them over the target.
  const { $ref: _ref, ...siblings } = schema;
  const extra = Object.keys(siblings).filter((k) => !annotations.has(k));
  if (extra.length === 0 || !isObject(target)) return target;
  return { ...target, ...siblings };
}

const allTypes = ['array', 'boolean', 'null', 'number', 'object', 'string'];

function typesOf(schema: Record<string, unknown>): string[] | undefined {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t) && t.every((x) => typeof x === 'string')) return t as string[];
  return undefined;
}

function covers(types: string[], t: string): boolean {
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}

function compareType(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
): void {
  if (deepEqual(a.type, b.type)) return;
  if (
    (a.type !== undefined && typesOf(a) === undefined) ||
    (b.type !== undefined && typesOf(b) === undefined)
  ) {
    emit(ctx, `${path}/type`, 'type.changed', 'unknown', 'type is not a string or array of strings');
    return;
  }
  const ta = typesOf(a) ?? allTypes;
  const tb = typesOf(b) ?? allTypes;
  const lost = ta.filter((t) => !covers(tb, t));
  const gained = tb.filter((t) => !covers(ta, t));
  const from = a.type === undefined ? 'any' : ta.join('|');
  const to = b.type === undefined ? 'any' : tb.join('|');
  if (lost.length > 0 && gained.length > 0)
    emit(ctx, `${path}/type`, 'type.changed', 'both', `type changed from ${from} to ${to}`);
  else if (lost.length > 0)
    emit(ctx, `${path}/type`, 'type.narrowed', 'narrows', `type narrowed from ${from} to ${to}`);
  else if (gained.length > 0)
    emit(ctx, `${path}/type`, 'type.widened', 'widens', `type widened from ${from} to ${to}`);
}

function compareEnum(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
): void {
  if (deepEqual(a.enum, b.enum)) return;
  const p = `${path}/enum`;
  const ea = Array.isArray(a.enum) ? a.enum : undefined;
  const eb = Array.isArray(b.enum) ? b.enum : undefined;
  if ((a.enum !== undefined && !ea) || (b.enum !== undefined && !eb)) {
    emit(ctx, p, 'enum.changed', 'unknown', 'enum is not an array');
  } else if (!ea && eb) {
    emit(ctx, p, 'enum.added', 'narrows', `now limited to ${show(eb)}`);
  } else if (ea && !eb) {
    emit(ctx, p, 'enum.removed', 'widens', `no longer limited to ${show(ea)}`);
  } else if (ea && eb) {
    const removed = ea.filter((x) => !eb.some((y) => deepEqual(x, y)));
    const added = eb.filter((x) => !ea.some((y) => deepEqual(x, y)));
    if (removed.length > 0)
      emit(ctx, p, 'enum.value-removed', 'narrows', `enum values removed: ${show(removed)}`);
    if (added.length > 0) emit(ctx, p, 'enum.value-added', 'widens', `enum values added: ${show(added)}`);
  }
}

function compareConst(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
): void {
  const has = (s: Record<string, unknown>) => Object.hasOwn(s, 'const');
  if (!has(a) && !has(b)) return;
  if (has(a) && has(b)) {
    if (!deepEqual(a.const, b.const)) {
      emit(
        ctx,
        `${path}/const`,
        'const.changed',
        'both',
        `const changed from ${show([a.const])} to ${show([b.const])}`,
      );
    }
  } else if (has(b)) {
    emit(ctx, `${path}/const`, 'const.added', 'narrows', `now must equal ${show([b.const])}`);
  } else {
    emit(ctx, `${path}/const`, 'const.removed', 'widens', `no longer must equal ${show([a.const])}`);
  }
}

function compareBound(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
  keyword: string,
  kind: 'lower' | 'upper',
): void {
  const va = a[keyword];
  const vb = b[keyword];
  if (va === vb) return;
  const p = `${path}/${keyword}`;
  const name = kebab(keyword);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if ((va !== undefined && !num(va)) || (vb !== undefined && !num(vb))) {
    // e.g. draft-4 boolean exclusiveMinimum: its meaning depends on minimum; not worth guessing.
    emit(ctx, p, `${name}.changed`, 'unknown', `${keyword} changed from ${show([va])} to ${show([vb])}`);
    return;
  }
  if (va === undefined) {
    emit(ctx, p, `${name}.added`, 'narrows', `${keyword} ${vb} set`);
  } else if (vb === undefined) {
    emit(ctx, p, `${name}.removed`, 'widens', `${keyword} ${va} removed`);
  } else {
    const increased = (vb as number) > (va as number);
    const tighter = kind === 'lower' ? increased : !increased;
    emit(
      ctx,
      p,
      `${name}.${increased ? 'increased' : 'decreased'}`,
      tighter ? 'narrows' : 'widens',
      `${keyword} ${increased ? 'increased' : 'decreased'} from ${va} to ${vb}`,
    );
  }
}

function compareMultipleOf(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
): void {
  const va = a.multipleOf;
  const vb = b.multipleOf;
  if (va === vb) return;
  const p = `${path}/multipleOf`;
  const pos = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if ((va !== undefined && !pos(va)) || (vb !== undefined && !pos(vb))) {
    emit(ctx, p, 'multiple-of.changed', 'unknown', 'multipleOf is not a positive number');
  } else if (va === undefined) {
    emit(ctx, p, 'multiple-of.added', 'narrows', `must now be a multiple of ${vb}`);
  } else if (vb === undefined) {
    emit(ctx, p, 'multiple-of.removed', 'widens', `no longer must be a multiple of ${va}`);
  } else {
    const direction: Direction = Number.isInteger(vb / va)
      ? 'narrows'
      : Number.isInteger(va / vb)
        ? 'widens'
        : 'both';
    emit(ctx, p, 'multiple-of.changed', direction, `multipleOf changed from ${va} to ${vb}`);
  }
}

/** pattern and format: adding one narrows, removing widens, replacing one is both (unprovable in general). */
function compareAddedRemovedChanged(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
  keyword: 'pattern' | 'format',
): void {
  const va = a[keyword];
  const vb = b[keyword];
  if (deepEqual(va, vb)) return;
  const p = `${path}/${keyword}`;
  if (va === undefined) emit(ctx, p, `${keyword}.added`, 'narrows', `${keyword} ${show([vb])} added`);
  else if (vb === undefined) emit(ctx, p, `${keyword}.removed`, 'widens', `${keyword} ${show([va])} removed`);
  else emit(ctx, p, `${keyword}.changed`, 'both', `${keyword} changed from ${show([va])} to ${show([vb])}`);
}

function compareObject(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
  depth: number,
): void {
  const propsA = isObject(a.properties) ? a.properties : {};
  const propsB = isObject(b.properties) ? b.properties : {};
  const reqA = stringSet(a.required);
  const reqB = stringSet(b.required);
  const closedA = a.additionalProperties === false;
  const closedB = b.additionalProperties === false;
  const names = [...new Set([...Object.keys(propsA), ...Object.keys(propsB), ...reqA, ...reqB])].sort();
  for (const name of names) {
    const p = `${path}/properties/${escapePointer(name)}`;
    const inA = Object.hasOwn(propsA, name);
    const inB = Object.hasOwn(propsB, name);
    const wasRequired = reqA.has(name);
    const isRequired = reqB.has(name);
    if (inA && !inB) {
      // Values carrying the property lose its constraint (widens), or are refused when the object is now closed
      // (narrows); values without it become valid when it was required (widens).
      const widens = wasRequired || !closedB;
      const narrows = closedB;
      const direction: Direction = widens && narrows ? 'both' : narrows ? 'narrows' : 'widens';
      emit(
        ctx,
        p,
        'property.removed',
        direction,
        `${wasRequired ? 'required ' : ''}property ${name} was removed`,
      );
      if (isRequired) emit(ctx, p, 'property.required-added', 'narrows', `property ${name} became required`);
      continue;
    }
    if (inA && inB) compare(ctx, propsA[name], propsB[name], p, depth + 1);
    if (!inA && inB && !isRequired) {
      emit(
        ctx,
        p,
        'property.added',
        closedA ? 'widens' : 'neutral',
        `optional property ${name} was added${closedA ? ' to a closed object' : ''}`,
      );
    }
    if (!inA && inB && isRequired && closedA) {
      emit(ctx, p, 'property.added', 'widens', `property ${name} was added to a closed object`);
    }
    if (isRequired && !wasRequired)
      emit(ctx, p, 'property.required-added', 'narrows', `property ${name} became required`);
    if (wasRequired && !isRequired && inB) {
      emit(ctx, p, 'property.required-removed', 'widens', `property ${name} is no longer required`);
    }
    if (wasRequired && !isRequired && !inA && !inB) {
      emit(ctx, p, 'property.required-removed', 'widens', `property ${name} is no longer required`);
    }
  }
  const apA = a.additionalProperties;
  const apB = b.additionalProperties;
  if (deepEqual(apA, apB)) return;
  const p = `${path}/additionalProperties`;
  if (closedB) emit(ctx, p, 'additional-properties.closed', 'narrows', 'additionalProperties: false added');
  else if (closedA)
    emit(ctx, p, 'additional-properties.opened', 'widens', 'additionalProperties: false removed');
  else compare(ctx, apA ?? true, apB ?? true, p, depth + 1);
}

function compareItems(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
  depth: number,
): void {
  if (deepEqual(a.items, b.items)) return;
  const p = `${path}/items`;
  if (Array.isArray(a.items) || Array.isArray(b.items)) {
    emit(ctx, p, 'items.tuple-changed', 'unknown', 'tuple items changed; not compared position by position');
    return;
  }
  compare(ctx, a.items ?? true, b.items ?? true, p, depth + 1);
}

/** anyOf: branches only added is a widening, only removed a narrowing; any rewrite is unknown. */
function compareAnyOf(
  ctx: Context,
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  path: string,
): void {
  if (deepEqual(a.anyOf, b.anyOf)) return;
  const p = `${path}/anyOf`;
  const la = Array.isArray(a.anyOf) ? a.anyOf : undefined;
  const lb = Array.isArray(b.anyOf) ? b.anyOf : undefined;
  if (la && lb) {
    const removed = la.filter((x) => !lb.some((y) => deepEqual(x, y)));
    const added = lb.filter((x) => !la.some((y) => deepEqual(x, y)));
    if (removed.length === 0 && added.length > 0) {
      emit(ctx, p, 'any-of.branch-added', 'widens', `${added.length} anyOf branch(es) added`);
      return;
    }
    if (added.length === 0 && removed.length > 0) {
      emit(ctx, p, 'any-of.branch-removed', 'narrows', `${removed.length} anyOf branch(es) removed`);
      return;
    }
    if (added.length === 0 && removed.length === 0) return; // reordered only
  }
  emit(ctx, p, 'any-of.changed', 'unknown', 'anyOf rewritten; cannot prove whether it narrows or widens');
}

function stringSet(v: unknown): Set<string> {
  return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
}

/** Structural equality of JSON values; too deep counts as different (the caller then says `unknown`). */
export function deepEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > 256) return false;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i], depth + 1));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  const oa = a as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(ob, k) && deepEqual(oa[k], ob[k], depth + 1));
}

function kebab(keyword: string): string {
  return keyword.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** `/properties/a/items/properties/b` → `a[].b`; '' when the path names no field. */
export function fieldOf(path: string): string {
  const segs = path
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  let field = '';
  for (let i = 0; i < segs.length; i++) {
    if (segs[i] === 'properties' && i + 1 < segs.length) {
      field += `${field === '' ? '' : '.'}${segs[++i]}`;
    } else if (segs[i] === 'items') {
      field += '[]';
    } else if (segs[i] === 'additionalProperties') {
      field += field === '' ? '*' : '.*';
    }
  }
  return field;
}

function show(values: unknown[]): string {
  const text = values.map((v) => JSON.stringify(v) ?? String(v)).join(', ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
