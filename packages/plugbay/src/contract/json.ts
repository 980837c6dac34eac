/** JSON helpers the contract differ shares: structural equality, JSON pointers, short value lists. */

/** The values of `after` not in `before` (added) and the other way round (removed), by structural equality. */
export function listChanges(before: unknown[], after: unknown[]): { removed: unknown[]; added: unknown[] } {
  return {
    removed: before.filter((x) => !after.some((y) => deepEqual(x, y))),
    added: after.filter((x) => !before.some((y) => deepEqual(x, y))),
  };
}

export function stringSet(v: unknown): Set<string> {
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

export function kebab(keyword: string): string {
  return keyword.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function escapePointer(segment: string): string {
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

export function show(values: unknown[]): string {
  const text = values.map((v) => JSON.stringify(v) ?? String(v)).join(', ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
