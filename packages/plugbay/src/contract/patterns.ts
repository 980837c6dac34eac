// Whether one `pattern` admits every string another admits: regular-language inclusion, decided on automata built by
// refa (the library behind eslint-plugin-regexp) rather than guessed from the pattern text.
import { createRequire } from 'node:module';
import type { Direction } from './direction.js';

// Loaded on the first pattern compared: most diffs change none, and refa takes ~0.1 s to load.
type Refa = typeof import('refa');
let refa: Refa | undefined;
const load = (): Refa => {
  refa ??= createRequire(import.meta.url)('refa') as Refa;
  return refa;
};

/** Past this many automaton states the question is left open: the gate says unknown rather than wait. */
const MAX_STATES = 10_000;

/**
 * True when every string `narrow` matches is matched by `wide`, false when not, undefined when it cannot be decided
 * (a backreference, a lookaround, an anchor inside an alternation, an automaton too large). JSON Schema patterns
 * search (they are not anchored) and Ajv compiles them with the `u` flag: both are taken into account.
 */
export function patternIncluded(narrow: string, wide: string): boolean | undefined {
  try {
    const { DFA } = load();
    const a = automaton(narrow);
    const b = automaton(wide);
    if (a === undefined || b === undefined) return undefined;
    b.complement();
    return DFA.fromIntersection(a, b, new DFA.LimitedNodeFactory(MAX_STATES)).isEmpty;
  } catch {
    return undefined; // too many states, or a construct refa refuses
  }
}

/** What replacing pattern `before` with `after` does, and the words that say why. */
export function patternChange(before: string, after: string): { direction: Direction; why: string } {
  const kept = patternIncluded(before, after); // every string matched before still is
  const gained = patternIncluded(after, before); // every string matched now was before
  if (kept === undefined || gained === undefined)
    return { direction: 'unknown', why: '; cannot prove whether it narrows or widens' };
  if (kept && gained) return { direction: 'neutral', why: ' (the same strings match)' };
  if (kept) return { direction: 'widens', why: ' (every string that matched still does)' };
  if (gained) return { direction: 'narrows', why: ' (every string that matches now matched before)' };
  return { direction: 'both', why: ' (each matches strings the other does not)' };
}

/** The strings a JSON Schema `pattern` accepts, as a DFA: the pattern with `.*` on each side it is not anchored. */
function automaton(pattern: string): import('refa').DFA | undefined {
  const { DFA, NFA } = load();
  let body = pattern;
  const start = body.startsWith('^');
  if (start) body = body.slice(1);
  const end = body.endsWith('$') && !escaped(body, body.length - 1);
  if (end) body = body.slice(0, -1);
  // `^a|b$` anchors each alternative apart: stripping the anchors from the whole would change it.
  if ((start || end) && parse(body).expression.alternatives.length > 1) return undefined;
  const source = `${start ? '' : '[^]*'}(?:${body})${end ? '' : '[^]*'}`;
  const { expression, maxCharacter } = parse(source);
  // Assertions left inside (a `^` mid-pattern, lookarounds) make fromRegex throw: undecided, not guessed.
  const nfa = NFA.fromRegex(
    expression,
    { maxCharacter },
    { assertions: 'throw' },
    new NFA.LimitedNodeFactory(MAX_STATES),
  );
  return DFA.fromFA(nfa, new DFA.LimitedNodeFactory(MAX_STATES));
}

function parse(source: string): import('refa').JS.ParseResult {
  return load().JS.Parser.fromLiteral({ source, flags: 'u' }).parse({ backreferences: 'throw' });
}

/** Whether the character at `i` is escaped by an odd run of backslashes before it. */
function escaped(s: string, i: number): boolean {
  let n = 0;
  while (i - n - 1 >= 0 && s[i - n - 1] === '\\') n++;
  return n % 2 === 1;
}
