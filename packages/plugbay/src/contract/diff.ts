import { type Direction, flipped, join, verdictOf } from './direction.js';
import { alignPair, allTypes, boundTrade, covers, moot, reachableTypes, typesOf } from './equivalent.js';
import { deepEqual, escapePointer, fieldOf, kebab, listChanges, show, stringSet } from './json.js';
import { patternChange } from './patterns.js';
import { annotations, hasRef, lowerBounds, SchemaDoc, sameSchema, upperBounds } from './resolve.js';
import { isObject, type JsonSchema } from './snapshot.js';

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
  /** For `<side>.value.refused`: the value that proves the break (the message shows it shortened). */
  witness?: unknown;
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

interface Context {
  side: Side;
  fn: string;
  /** Each side's document, for `$ref`s resolved against their closest `$id`. */
  docs: [before: SchemaDoc, after: SchemaDoc];
  /** Inside a `not`: narrowing there widens the whole, so verdicts read for the other side. */
  flip: boolean;
  changes: Change[];
  /** Set while a rule asks what a subcomparison does instead of reporting it (`flip` as it was then). */
  directions?: { list: Direction[]; flip: boolean };
  /** `$ref` pairs being expanded on the current path, to stop at cycles; `via` their texts, named in messages. */
  refs: Set<string>;
  via: string[];
  /** How many `oneOf`s the comparison is inside: there, what would be compatible is unknown. */
  oneOf: number;
  /** Subschemas compared so far; a cap keeps shared `$ref`s from blowing up exponentially. */
  visited: number;
}

const maxDepth = 64;
const maxVisits = 20_000;

/** Every change between two schemas of one side of one function. */
export function diffSchemas(before: JsonSchema, after: JsonSchema, side: Side, fn: string): Change[] {
  if (deepEqual(before, after)) return []; // the same document: every $ref reaches the same target
  const ctx: Context = {
    side,
    fn,
    docs: [new SchemaDoc(before), new SchemaDoc(after)],
    flip: false,
    changes: [],
    refs: new Set(),
    via: [],
    oneOf: 0,
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
  const verdictSide: Side = ctx.flip ? (ctx.side === 'input' ? 'output' : 'input') : ctx.side;
  const verdict = verdictOf(verdictSide, direction);
  const masked = ctx.oneOf > 0 && verdict === 'compatible'; // see compareOneOf
  if (ctx.directions) {
    const invert = ctx.flip !== ctx.directions.flip;
    ctx.directions.list.push(masked ? 'unknown' : invert ? (flipped[direction] ?? direction) : direction);
    return;
  }
  const field = fieldOf(path);
  const via = ctx.via.length > 0 ? ` (in $ref ${ctx.via.at(-1)})` : '';
  const change: Change = {
    function: ctx.fn,
    side: ctx.side,
    path,
    rule: `${ctx.side}.${subject}`,
    verdict: masked ? 'unknown' : verdict,
    message: `${ctx.fn} ${ctx.side}${field ? ` field ${field}` : ''}: ${message}${via}${masked ? ' (inside oneOf: may change which branches match)' : ''}`,
  };
  if (field) change.field = field;
  ctx.changes.push(change);
}

type Schema = Record<string, unknown>;

/** One keyword seen on both sides of a comparison. */
interface KeywordPair {
  keyword: string;
  /** The keyword's value in each schema; undefined where it is absent. */
  before: unknown;
  after: unknown;
  /** Pointer to the keyword. */
  path: string;
  depth: number;
  /** The schemas holding it, for a rule that reads the keywords beside it. */
  schemas: [before: Schema, after: Schema];
}

/** Reports what a change of one keyword does. Each rule decides what counts as unchanged for its keyword. */
type KeywordRule = (ctx: Context, pair: KeywordPair) => void;

function compare(ctx: Context, beforeIn: unknown, afterIn: unknown, path: string, depth: number): void {
  if (depth > maxDepth) {
    if (!sameSchema(ctx.docs, beforeIn, afterIn))
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
    if (refKey !== undefined) {
      ctx.refs.delete(refKey);
      ctx.via.pop();
    }
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
  const rawA = before === true ? {} : before;
  const rawB = after === true ? {} : after;
  if (!isObject(rawA) || !isObject(rawB)) {
    if (!deepEqual(rawA, rawB)) emit(ctx, path, 'schema.invalid', 'unknown', 'is not a JSON Schema object');
    return;
  }
  const [a, b] = alignPair(rawA, rawB);

  const schemas: [Schema, Schema] = [a, b];
  for (const [keyword, rule] of keywordRules) {
    if (moot(keyword, a, b)) continue;
    rule(ctx, { keyword, before: a[keyword], after: b[keyword], path: `${path}/${keyword}`, depth, schemas });
  }

  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    if (handled.has(k) || annotations.has(k) || k.startsWith('x-')) continue;
    // A dynamic reference's target depends on where it is reached from: not followed, so never proven unchanged.
    if (!dynamicRefs.has(k) && sameSchema(ctx.docs, a[k], b[k])) continue;
    const subject = ['if', 'then', 'else'].includes(k) ? `${kebab(k)}.changed` : 'keyword.unknown';
    emit(
      ctx,
      `${path}/${escapePointer(k)}`,
      subject,
      'unknown',
      `${k} changed; cannot prove whether it narrows or widens`,
    );
  }
}

/** Unresolvable on either side: nothing about the values can be proven, even when the text is unchanged. */
function unresolved(ctx: Context, path: string, error: string): 'stop' {
  emit(ctx, `${path}/$ref`, 'ref.unresolved', 'unknown', error);
  return 'stop';
}

/** Follows `$ref`s on both sides; a pair met again while expanding is a cycle. */
function resolveRefs(
  ctx: Context,
  before: unknown,
  after: unknown,
  path: string,
): [unknown, unknown, string | undefined] | 'stop' {
  const refA = isObject(before) && typeof before.$ref === 'string' ? before.$ref : undefined;
  const refB = isObject(after) && typeof after.$ref === 'string' ? after.$ref : undefined;
  if (refA === undefined && refB === undefined) return [before, after, undefined];
  const ra = refA === undefined ? undefined : ctx.docs[0].resolve(before as Record<string, unknown>);
  const rb = refB === undefined ? undefined : ctx.docs[1].resolve(after as Record<string, unknown>);
  if (ra && 'error' in ra) return unresolved(ctx, path, ra.error);
  if (rb && 'error' in rb) return unresolved(ctx, path, rb.error);
  const a = ra ? ra.schema : before;
  const b = rb ? rb.schema : after;
  const key = `${ra?.uri ?? '-'}\0${rb?.uri ?? '-'}`;
  if (ctx.refs.has(key)) {
    // Back at a pair being compared: whatever differs inside the cycle was reported on the way round; a recursive
    // schema that changed is still flagged, because its rewrite cannot be proven safe by this walk alone.
    if (!sameSchema(ctx.docs, a, b))
      emit(ctx, `${path}/$ref`, 'ref.cycle', 'unknown', `recursive $ref (${refA ?? refB}) changed`);
    return 'stop';
  }
  ctx.refs.add(key); // removed by compare() once this subtree is done: a repeat elsewhere is not a cycle
  ctx.via.push((refB ?? refA) as string);
  return [a, b, key];
}

function compareType(ctx: Context, { before, after, path, schemas: [a, b] }: KeywordPair): void {
  if (deepEqual(before, after)) return;
  if (
    (before !== undefined && typesOf(before) === undefined) ||
    (after !== undefined && typesOf(after) === undefined)
  ) {
    emit(ctx, path, 'type.changed', 'unknown', 'type is not a string or array of strings');
    return;
  }
  const ta = reachableTypes(typesOf(before) ?? allTypes, a);
  const tb = reachableTypes(typesOf(after) ?? allTypes, b);
  const lost = ta.filter((t) => !covers(tb, t));
  const gained = tb.filter((t) => !covers(ta, t));
  const from = before === undefined ? 'any' : ta.join('|');
  const to = after === undefined ? 'any' : tb.join('|');
  if (lost.length > 0 && gained.length > 0)
    emit(ctx, path, 'type.changed', 'both', `type changed from ${from} to ${to}`);
  else if (lost.length > 0)
    emit(ctx, path, 'type.narrowed', 'narrows', `type narrowed from ${from} to ${to}`);
  else if (gained.length > 0) emit(ctx, path, 'type.widened', 'widens', `type widened from ${from} to ${to}`);
}

function compareEnum(ctx: Context, { before, after, path }: KeywordPair): void {
  if (deepEqual(before, after)) return;
  const ea = Array.isArray(before) ? before : undefined;
  const eb = Array.isArray(after) ? after : undefined;
  if ((before !== undefined && !ea) || (after !== undefined && !eb)) {
    emit(ctx, path, 'enum.changed', 'unknown', 'enum is not an array');
  } else if (!ea && eb) {
    emit(ctx, path, 'enum.added', 'narrows', `now limited to ${show(eb)}`);
  } else if (ea && !eb) {
    emit(ctx, path, 'enum.removed', 'widens', `no longer limited to ${show(ea)}`);
  } else if (ea && eb) {
    const { removed, added } = listChanges(ea, eb);
    if (removed.length > 0)
      emit(ctx, path, 'enum.value-removed', 'narrows', `enum values removed: ${show(removed)}`);
    if (added.length > 0) emit(ctx, path, 'enum.value-added', 'widens', `enum values added: ${show(added)}`);
  }
}

function compareConst(ctx: Context, { before, after, path, schemas: [a, b] }: KeywordPair): void {
  // By presence: `const: undefined` in a schema built in code is still a const.
  const hasA = Object.hasOwn(a, 'const');
  const hasB = Object.hasOwn(b, 'const');
  if (hasA && hasB) {
    if (!deepEqual(before, after)) {
      emit(ctx, path, 'const.changed', 'both', `const changed from ${show([before])} to ${show([after])}`);
    }
  } else if (hasB) {
    emit(ctx, path, 'const.added', 'narrows', `now must equal ${show([after])}`);
  } else if (hasA) {
    emit(ctx, path, 'const.removed', 'widens', `no longer must equal ${show([before])}`);
  }
}

/** minimum, maxLength …: a lower bound that goes up narrows, an upper bound that goes up widens. */
function boundRule(kind: 'lower' | 'upper'): KeywordRule {
  return (ctx, { keyword, before, after, path, schemas: [a, b] }) => {
    if (before === after) return;
    const name = kebab(keyword);
    const inclusive = keyword.replace(/^exclusiveM/, 'm');
    const trade = boundTrade(inclusive, a, b);
    if (trade !== undefined) {
      // One bound traded for the other (`minimum: 0` → `exclusiveMinimum: -1`): reported once, as a whole.
      const { direction, from, to } = trade;
      if (keyword === inclusive)
        emit(ctx, path, `${name}.traded`, direction, `${from} ${a[from]} replaced by ${to} ${b[to]}`);
      return;
    }
    const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    if ((before !== undefined && !num(before)) || (after !== undefined && !num(after))) {
      // e.g. draft-4 boolean exclusiveMinimum: its meaning depends on minimum; not worth guessing.
      emit(
        ctx,
        path,
        `${name}.changed`,
        'unknown',
        `${keyword} changed from ${show([before])} to ${show([after])}`,
      );
      return;
    }
    if (before === undefined) {
      emit(ctx, path, `${name}.added`, 'narrows', `${keyword} ${after} set`);
    } else if (after === undefined) {
      emit(ctx, path, `${name}.removed`, 'widens', `${keyword} ${before} removed`);
    } else {
      const increased = (after as number) > (before as number);
      const tighter = kind === 'lower' ? increased : !increased;
      emit(
        ctx,
        path,
        `${name}.${increased ? 'increased' : 'decreased'}`,
        tighter ? 'narrows' : 'widens',
        `${keyword} ${increased ? 'increased' : 'decreased'} from ${before} to ${after}`,
      );
    }
  };
}

function compareMultipleOf(ctx: Context, { before, after, path }: KeywordPair): void {
  if (before === after) return;
  const pos = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if ((before !== undefined && !pos(before)) || (after !== undefined && !pos(after))) {
    emit(ctx, path, 'multiple-of.changed', 'unknown', 'multipleOf is not a positive number');
  } else if (before === undefined) {
    emit(ctx, path, 'multiple-of.added', 'narrows', `must now be a multiple of ${after}`);
  } else if (after === undefined) {
    emit(ctx, path, 'multiple-of.removed', 'widens', `no longer must be a multiple of ${before}`);
  } else {
    const direction: Direction = Number.isInteger(after / before)
      ? 'narrows'
      : Number.isInteger(before / after)
        ? 'widens'
        : 'both';
    emit(ctx, path, 'multiple-of.changed', direction, `multipleOf changed from ${before} to ${after}`);
  }
}

/**
 * pattern and format: adding one narrows, removing widens. A pattern replaced is compared as a regular language
 * (contract/patterns.ts), unknown when no automaton decides; a format replaced is both.
 */
function compareAddedRemovedChanged(ctx: Context, { keyword, before, after, path }: KeywordPair): void {
  if (deepEqual(before, after)) return;
  if (before === undefined) {
    emit(ctx, path, `${keyword}.added`, 'narrows', `${keyword} ${show([after])} added`);
    return;
  }
  if (after === undefined) {
    emit(ctx, path, `${keyword}.removed`, 'widens', `${keyword} ${show([before])} removed`);
    return;
  }
  const changed = `${keyword} changed from ${show([before])} to ${show([after])}`;
  if (keyword !== 'pattern' || typeof before !== 'string' || typeof after !== 'string') {
    emit(ctx, path, `${keyword}.changed`, 'both', changed); // two formats: each admits strings the other refuses
    return;
  }
  const { direction, why } = patternChange(before, after);
  emit(ctx, path, 'pattern.changed', direction, `${changed}${why}`);
}

function compareUniqueItems(ctx: Context, { before, after, path }: KeywordPair): void {
  if ((before === true) === (after === true)) return;
  if (after === true) emit(ctx, path, 'unique-items.added', 'narrows', 'items must now be unique');
  else emit(ctx, path, 'unique-items.removed', 'widens', 'items no longer need to be unique');
}

/**
 * Every property named in `properties` or `required` on either side. A property defined on one side only is checked
 * against what the other side applies to it instead: its `patternProperties`, else its `additionalProperties`.
 */
function compareProperties(ctx: Context, { before, after, path, depth, schemas: [a, b] }: KeywordPair): void {
  const propsA = isObject(before) ? before : {};
  const propsB = isObject(after) ? after : {};
  const reqA = stringSet(a.required);
  const reqB = stringSet(b.required);
  const names = [...new Set([...Object.keys(propsA), ...Object.keys(propsB), ...reqA, ...reqB])].sort();
  for (const name of names) {
    const p = `${path}/${escapePointer(name)}`;
    const inA = Object.hasOwn(propsA, name);
    const inB = Object.hasOwn(propsB, name);
    const wasRequired = reqA.has(name);
    const isRequired = reqB.has(name);
    if (inA && !inB) {
      // Values carrying the property now meet what applies to undeclared ones instead: nothing (widens), false
      // (narrows), or a schema (as that schema compares); values without it become valid when it was required.
      const rest = restOf(b, name);
      const moved =
        rest === true
          ? 'widens'
          : rest === false
            ? 'narrows'
            : directionOf(ctx, propsA[name], rest, p, depth);
      const direction = wasRequired ? join(moved, 'widens') : moved;
      emit(
        ctx,
        p,
        'property.removed',
        direction,
        `${wasRequired ? 'required ' : ''}property ${name} was removed${describeRest(rest)}`,
      );
      if (isRequired) emit(ctx, p, 'property.required-added', 'narrows', `property ${name} became required`);
      continue;
    }
    if (inA && inB) compare(ctx, propsA[name], propsB[name], p, depth + 1);
    if (!inA && inB) {
      const rest = restOf(a, name);
      const direction: Direction =
        rest === true
          ? 'neutral'
          : rest === false
            ? 'widens'
            : directionOf(ctx, rest, propsB[name], p, depth);
      if (!isRequired || direction !== 'neutral') {
        emit(
          ctx,
          p,
          'property.added',
          direction,
          `${isRequired ? '' : 'optional '}property ${name} was added${rest === false ? ' to a closed object' : describeRest(rest)}`,
        );
      }
    }
    if (isRequired && !wasRequired)
      emit(ctx, p, 'property.required-added', 'narrows', `property ${name} became required`);
    if (wasRequired && !isRequired) {
      emit(ctx, p, 'property.required-removed', 'widens', `property ${name} is no longer required`);
    }
  }
}

/**
 * What a schema applies to a property it does not declare: its matching patternProperties, else
 * additionalProperties; undefined when that cannot be told.
 */
function restOf(s: Schema, name: string): unknown {
  const patterns = s.patternProperties;
  if (isObject(patterns)) {
    const matched: unknown[] = [];
    for (const [pattern, schema] of Object.entries(patterns)) {
      try {
        if (new RegExp(pattern, 'u').test(name)) matched.push(schema);
      } catch {
        return undefined; // not a regular expression here: which schema applies is unknown
      }
    }
    if (matched.length === 1) return matched[0];
    if (matched.length > 1) return { allOf: matched };
  }
  const rest = s.additionalProperties ?? true;
  return isObject(rest) && Object.keys(rest).length === 0 ? true : rest;
}

function describeRest(rest: unknown): string {
  return typeof rest === 'boolean' ? '' : ' (now checked against additionalProperties/patternProperties)';
}

/** What the change from one schema to another does, without reporting its details. */
function directionOf(ctx: Context, before: unknown, after: unknown, path: string, depth: number): Direction {
  if (before === undefined || after === undefined) return 'unknown';
  return directionsOf(ctx, before, after, path, depth).reduce(join, 'neutral');
}

/** The direction of each change a subcomparison finds, captured instead of reported. */
function directionsOf(
  ctx: Context,
  before: unknown,
  after: unknown,
  path: string,
  depth: number,
): Direction[] {
  const outer = ctx.directions;
  const captured = { list: [] as Direction[], flip: ctx.flip };
  ctx.directions = captured;
  try {
    compare(ctx, before, after, path, depth + 1);
  } finally {
    ctx.directions = outer;
  }
  return captured.list;
}

function compareAdditionalProperties(ctx: Context, { before, after, path, depth }: KeywordPair): void {
  if (sameSchema(ctx.docs, before, after)) return;
  if (after === false && before !== false)
    emit(ctx, path, 'additional-properties.closed', 'narrows', 'additionalProperties: false added');
  else if (before === false && after !== false)
    emit(ctx, path, 'additional-properties.opened', 'widens', 'additionalProperties: false removed');
  else compare(ctx, before ?? true, after ?? true, path, depth + 1);
}

function compareItems(ctx: Context, { before, after, path, depth }: KeywordPair): void {
  if (sameSchema(ctx.docs, before, after)) return;
  if (Array.isArray(before) || Array.isArray(after)) {
    if (Array.isArray(before) && deepEqual(before, after)) {
      // Same tuple text whose `$ref` targets changed: position by position.
      for (const [i, x] of before.entries())
        compare(ctx, x, (after as unknown[])[i], `${path}/${i}`, depth + 1);
      return;
    }
    emit(
      ctx,
      path,
      'items.tuple-changed',
      'unknown',
      'tuple items changed; not compared position by position',
    );
    return;
  }
  compare(ctx, before ?? true, after ?? true, path, depth + 1);
}

/**
 * Compares the branches written the same on both sides, each with its counterpart (their `$ref` targets may
 * differ); returns the after-side indexes used. anyOf and allOf grow with each branch, so a branch that does not
 * narrow (widen) leaves the whole not narrowed (widened).
 */
function compareCommonBranches(
  ctx: Context,
  before: unknown[],
  after: unknown[],
  path: string,
  depth: number,
): void {
  const used = new Set<number>();
  before.forEach((x, i) => {
    const j =
      i < after.length && !used.has(i) && deepEqual(x, after[i])
        ? i
        : after.findIndex((y, k) => !used.has(k) && deepEqual(x, y));
    if (j < 0) return;
    used.add(j);
    if (hasRef(x)) compare(ctx, x, after[j], `${path}/${j}`, depth + 1);
  });
}

/**
 * anyOf: branches only added is a widening, only removed a narrowing, unless each such branch is covered by one on
 * the other side (it admits nothing that one does not); a rewrite whose branches are all covered is no change.
 */
function compareAnyOf(ctx: Context, { before, after, path, depth }: KeywordPair): void {
  if (sameSchema(ctx.docs, before, after)) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    compareCommonBranches(ctx, before, after, path, depth);
    const { removed, added } = listChanges(before, after);
    if (added.length === 0 && removed.length === 0) return; // reordered only
    // A removed branch inside a kept one narrows nothing; an added branch inside an old one widens nothing.
    const narrows = removed.some((r) => !after.some((a) => only(ctx, r, a, path, depth, 'widens')));
    const widens = added.some((a) => !before.some((b) => only(ctx, b, a, path, depth, 'narrows')));
    if (!narrows && !widens) {
      emit(
        ctx,
        path,
        'any-of.rewritten',
        'neutral',
        'anyOf branches changed, each covered by another branch',
      );
      return;
    }
    if (added.length === 0 || !widens) {
      emit(ctx, path, 'any-of.branch-removed', 'narrows', `${removed.length} anyOf branch(es) removed`);
      return;
    }
    if (removed.length === 0 || !narrows) {
      emit(ctx, path, 'any-of.branch-added', 'widens', `${added.length} anyOf branch(es) added`);
      return;
    }
  }
  emit(ctx, path, 'any-of.changed', 'unknown', 'anyOf rewritten; cannot prove whether it narrows or widens');
}

/** Whether every change from `before` to `after` goes one way (`after` a superset, or a subset, of `before`). */
function only(
  ctx: Context,
  before: unknown,
  after: unknown,
  path: string,
  depth: number,
  way: Direction,
): boolean {
  return directionsOf(ctx, before, after, path, depth).every((d) => d === way);
}

function unprovable(ctx: Context, keyword: string, path: string): void {
  emit(
    ctx,
    path,
    `${kebab(keyword)}.changed`,
    'unknown',
    `${keyword} changed; cannot prove whether it narrows or widens`,
  );
}

/**
 * allOf: the same branches with changed `$ref` targets are compared one by one; branches only added narrow, only
 * removed widen (each branch is one more constraint); any other rewrite is unknown.
 */
function compareAllOf(ctx: Context, { keyword, before, after, path, depth }: KeywordPair): void {
  if (sameSchema(ctx.docs, before, after)) return;
  if (!Array.isArray(before) || !Array.isArray(after)) {
    unprovable(ctx, keyword, path);
    return;
  }
  compareCommonBranches(ctx, before, after, path, depth);
  const { removed, added } = listChanges(before, after);
  if (removed.length === 0 && added.length === 0) return;
  if (removed.length === 0)
    emit(ctx, path, 'all-of.branch-added', 'narrows', `${added.length} allOf branch(es) added`);
  else if (added.length === 0)
    emit(ctx, path, 'all-of.branch-removed', 'widens', `${removed.length} allOf branch(es) removed`);
  else unprovable(ctx, keyword, path);
}

/**
 * oneOf: exactly one branch must match, so widening a branch can make a value match two (narrowing the whole) and
 * narrowing one can make it match one only (widening): inside it, what is compatible for a branch is unknown.
 */
function compareOneOf(ctx: Context, { keyword, before, after, path, depth }: KeywordPair): void {
  if (sameSchema(ctx.docs, before, after)) return;
  if (!Array.isArray(before) || !deepEqual(before, after)) {
    unprovable(ctx, keyword, path);
    return;
  }
  ctx.oneOf++;
  try {
    compareCommonBranches(ctx, before, after as unknown[], path, depth);
  } finally {
    ctx.oneOf--;
  }
}

/** not: what narrows inside widens the whole, and the other way round. */
function compareNot(ctx: Context, { keyword, before, after, path, depth }: KeywordPair): void {
  if (sameSchema(ctx.docs, before, after)) return;
  if (!deepEqual(before, after)) {
    unprovable(ctx, keyword, path);
    return;
  }
  ctx.flip = !ctx.flip;
  try {
    compare(ctx, before, after, path, depth + 1);
  } finally {
    ctx.flip = !ctx.flip;
  }
}

/**
 * The rules by keyword, in the order their changes are reported. `required` is read by the `properties` rule, and
 * `$ref` is followed before any rule runs; any other keyword that differs is `unknown`.
 */
const keywordRules: [keyword: string, rule: KeywordRule][] = [
  ['type', compareType],
  ['enum', compareEnum],
  ['const', compareConst],
  ...lowerBounds.map((k): [string, KeywordRule] => [k, boundRule('lower')]),
  ...upperBounds.map((k): [string, KeywordRule] => [k, boundRule('upper')]),
  ['multipleOf', compareMultipleOf],
  ['pattern', compareAddedRemovedChanged],
  ['format', compareAddedRemovedChanged],
  ['uniqueItems', compareUniqueItems],
  ['properties', compareProperties],
  ['additionalProperties', compareAdditionalProperties],
  ['items', compareItems],
  ['anyOf', compareAnyOf],
  ['allOf', compareAllOf],
  ['not', compareNot],
  ['oneOf', compareOneOf],
];

const dynamicRefs = new Set(['$dynamicRef', '$recursiveRef']);

/** Keywords compared by a rule. */
const handled = new Set<string>(['$ref', 'required', ...keywordRules.map(([keyword]) => keyword)]);

export { deepEqual, fieldOf } from './json.js';
