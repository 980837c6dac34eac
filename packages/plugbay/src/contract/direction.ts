// How a schema change moves the set of values a schema accepts, and what that means for each side of a function.
import type { Side, Verdict } from './diff.js';

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
export type Direction = 'narrows' | 'widens' | 'both' | 'neutral' | 'unknown';

export const flipped: Partial<Record<Direction, Direction>> = { narrows: 'widens', widens: 'narrows' };

export function verdictOf(side: Side, direction: Direction): Verdict {
  if (direction === 'unknown') return 'unknown';
  if (direction === 'both') return 'breaking';
  if (direction === 'neutral') return 'compatible';
  if (side === 'input') return direction === 'narrows' ? 'breaking' : 'compatible';
  return direction === 'widens' ? 'breaking' : 'compatible';
}

/** Two directions found in one comparison, as one. */
export function join(x: Direction, y: Direction): Direction {
  if (x === y || y === 'neutral') return x;
  if (x === 'neutral') return y;
  if (x === 'both' || y === 'both') return 'both';
  if (x === 'unknown' || y === 'unknown') return 'unknown';
  return 'both'; // narrows and widens
}
