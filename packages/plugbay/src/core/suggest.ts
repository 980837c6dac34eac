// "Did you mean": the closest known word to a typo, for flags, manifest fields and enum values.

/** Levenshtein distance (insertions, deletions, substitutions), two rows of memory. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `word`, when it is close enough to be a typo of it: at most a third of the word's
 * length in edits (at least 1, at most 3), or a candidate that starts with the word (`--keyr` → `--keyring`).
 * Ties go to the first candidate, so list the common words first.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= limit) return best;
  if (word.length >= 3) {
    const prefixed = [...candidates].filter((c) => c.startsWith(word));
    if (prefixed.length === 1) return prefixed[0];
  }
  return undefined;
}

/** ` (did you mean "x"?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>, quote = '"'): string {
  const match = closest(word, candidates);
  return match === undefined ? '' : ` (did you mean ${quote}${match}${quote}?)`;
}
