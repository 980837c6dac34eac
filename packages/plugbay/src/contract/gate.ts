// The verdict on two snapshots: the differ's rules first (contract/diff.ts), then, for each function side that
// changed, a search for a value that proves a break (contract/focus.ts, contract/witness.ts). A rule can miss a
// break; a witness cannot be wrong, since the host's own Ajv judged it. Where the rules found the break already, the
// witness shows an author the value it breaks.
import {
  type Change,
  type DiffOptions,
  type DiffResult,
  diffSchemas,
  type Side,
  type Verdict,
} from './diff.js';
import { searchWitness } from './focus.js';
import { deepEqual } from './json.js';
import type { ContractSnapshot, JsonSchema } from './snapshot.js';
import { formatWitness } from './witness.js';

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
      changes.push(...diffSide(a.input, b.input, 'input', fn), ...diffSide(a.output, b.output, 'output', fn));
    }
  }
  return summarize(changes, options);
}

/**
 * One side of one function: the rules' changes and, when the schemas differ, a witness search. A witness found adds
 * a breaking `<side>.value.refused` change whose message shows the value: beside a rule's break it is the example;
 * where the rules said compatible or unknown, it is a break they missed.
 */
export function diffSide(before: JsonSchema, after: JsonSchema, side: Side, fn: string): Change[] {
  const changes = diffSchemas(before, after, side, fn);
  if (deepEqual(before, after)) return changes;
  const witness = searchWitness(before, after, side);
  if (witness === undefined) return changes;
  const rule = `${side}.value.refused`;
  const what =
    side === 'input'
      ? 'an input the old version accepted is refused'
      : 'the new output breaks the old promise';
  return [
    ...changes,
    {
      function: fn,
      side,
      path: '',
      rule,
      verdict: 'breaking',
      message: `${what}: ${formatWitness(witness, side)}`,
      witness: witness.value,
    },
  ];
}

export function summarize(changes: Change[], options: DiffOptions = {}): DiffResult {
  const counts: Record<Verdict, number> = { breaking: 0, compatible: 0, unknown: 0 };
  for (const c of changes) counts[c.verdict]++;
  return { changes, breaking: counts.breaking > 0 || (!options.allowUnknown && counts.unknown > 0), counts };
}
