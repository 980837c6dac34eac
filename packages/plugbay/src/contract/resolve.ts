import { deepEqual } from './json.js';
import { isObject } from './snapshot.js';

type Schema = Record<string, unknown>;

/**
 * A `$ref` followed: `schema` with the keywords beside the `$ref` applied, `target` without them, `uri` the
 * absolute address; or why it could not be followed.
 */
export type Resolved = { schema: unknown; target: unknown; uri: string } | { error: string };

/** Keywords whose value is one subschema, an array of them, or a map of them: where `$id`s and `$ref`s live. */
const single = [
  'items',
  'additionalProperties',
  'additionalItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'contentSchema',
];
const lists = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];
const maps = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'];

/** Keywords that only annotate: a change to them changes no value's validity. */
export const annotations = new Set([
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

export const lowerBounds = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const;
export const upperBounds = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const;

/** Keywords that read each other: two schemas both using one group cannot be merged keyword by keyword. */
const groups = [
  new Set(['properties', 'patternProperties', 'additionalProperties', 'unevaluatedProperties']),
  new Set([
    'items',
    'prefixItems',
    'additionalItems',
    'unevaluatedItems',
    'contains',
    'minContains',
    'maxContains',
  ]),
  new Set(['if', 'then', 'else']),
];

const defaultBase = 'plugbay:/schema';

/**
 * One side's schema document: the `$id` resources and anchors inside it and the base URI of each subschema, so a
 * `$ref` resolves against its closest enclosing `$id` (JSON Schema 2019-09 and later).
 */
export class SchemaDoc {
  private readonly resources = new Map<string, unknown>();
  private readonly anchors = new Map<string, unknown>();
  private readonly bases = new WeakMap<object, string>();
  private readonly cache = new WeakMap<object, Resolved>();
  private readonly seen = new WeakSet<object>();

  constructor(readonly root: unknown) {
    this.walk(root, defaultBase, 0);
  }

  private walk(node: unknown, base: string, depth: number): void {
    if (!isObject(node) || depth > 512 || this.seen.has(node)) return;
    this.seen.add(node);
    let here = base;
    if (typeof node.$id === 'string') {
      try {
        const url = new URL(node.$id, base);
        if (url.hash.length > 1) this.anchors.set(url.href, node); // draft-7 `$id: "#name"`
        url.hash = '';
        here = url.href;
        if (!this.resources.has(here)) this.resources.set(here, node);
      } catch {
        // an $id that is no URI: keep the enclosing base
      }
    }
    if (depth === 0 && !this.resources.has(here)) this.resources.set(here, node);
    this.bases.set(node, here);
    if (typeof node.$anchor === 'string') this.anchors.set(`${here}#${node.$anchor}`, node);
    for (const k of single) this.walk(node[k], here, depth + 1);
    for (const k of lists) {
      const v = node[k];
      if (Array.isArray(v)) for (const x of v) this.walk(x, here, depth + 1);
    }
    for (const k of maps) {
      const v = node[k];
      if (isObject(v)) for (const x of Object.values(v)) this.walk(x, here, depth + 1);
    }
  }

  private baseOf(node: object): string {
    return this.bases.get(node) ?? defaultBase;
  }

  /** Follows `node.$ref` (and a `$ref` found at its target) to a schema without one; siblings apply as allOf. */
  resolve(node: Schema): Resolved {
    const cached = this.cache.get(node);
    if (cached) return cached;
    const result = this.follow(node, new Set());
    this.cache.set(node, result);
    return result;
  }

  private follow(node: Schema, chain: Set<string>): Resolved {
    const ref = node.$ref as string;
    let url: URL;
    try {
      url = new URL(ref, this.baseOf(node));
    } catch {
      return { error: `$ref ${ref} is not a URI reference` };
    }
    const uri = url.href;
    if (chain.has(uri)) return { error: `$ref ${ref} refers to itself` };
    chain.add(uri);
    const fragment = url.hash.slice(1);
    url.hash = '';
    const resource = this.resources.get(url.href);
    if (resource === undefined)
      return { error: `$ref ${ref} cannot be resolved (only refs inside the schema are)` };
    let target: unknown = resource;
    if (fragment.startsWith('/')) {
      for (const raw of fragment.slice(1).split('/')) {
        let seg: string;
        try {
          seg = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
        } catch {
          return { error: `$ref ${ref} is malformed` };
        }
        if ((!isObject(target) && !Array.isArray(target)) || !Object.hasOwn(target as object, seg))
          return { error: `$ref ${ref} cannot be resolved` };
        target = (target as Schema)[seg];
      }
      if (isObject(target) && !this.bases.has(target)) this.walk(target, url.href, 0);
    } else if (fragment !== '') {
      let name: string;
      try {
        name = decodeURIComponent(fragment);
      } catch {
        return { error: `$ref ${ref} is malformed` };
      }
      target = this.anchors.get(`${url.href}#${name}`);
      if (target === undefined) return { error: `$ref ${ref} names no anchor` };
    }
    if (isObject(target) && typeof target.$ref === 'string') {
      const next = this.follow(target, chain);
      if ('error' in next) return next;
      target = next.schema;
    }
    const siblings: Schema = {};
    for (const [k, v] of Object.entries(node)) if (k !== '$ref' && !annotations.has(k)) siblings[k] = v;
    if (Object.keys(siblings).length === 0) return { schema: target, target, uri };
    this.bases.set(siblings, this.baseOf(node));
    return { schema: this.merge(target, siblings), target, uri };
  }

  /** Both schemas at once: one schema when the keywords combine exactly, else `{allOf: [a, b]}`. */
  merge(a: unknown, b: Schema): unknown {
    if (a === false) return false;
    if (a === true) return b;
    if (!isObject(a)) return { allOf: [a, b] };
    const out: Schema = { ...a };
    for (const g of groups) {
      const inA = Object.keys(a).filter((k) => g.has(k));
      const inB = Object.keys(b).filter((k) => g.has(k));
      const simple = (s: Schema, ks: string[]) =>
        ks.every((k) => k === 'properties' || (k === 'items' && isObject(s[k])));
      if (inA.length > 0 && inB.length > 0 && !(simple(a, inA) && simple(b, inB))) return { allOf: [a, b] };
    }
    for (const [k, v] of Object.entries(b)) {
      const w = a[k];
      if (!Object.hasOwn(a, k) || deepEqual(w, v)) {
        out[k] = v;
      } else if (
        (lowerBounds as readonly string[]).includes(k) &&
        typeof v === 'number' &&
        typeof w === 'number'
      ) {
        out[k] = Math.max(v, w);
      } else if (
        (upperBounds as readonly string[]).includes(k) &&
        typeof v === 'number' &&
        typeof w === 'number'
      ) {
        out[k] = Math.min(v, w);
      } else if (k === 'required' && Array.isArray(v) && Array.isArray(w)) {
        out[k] = [...new Set([...w, ...v])];
      } else if (k === 'allOf' && Array.isArray(v) && Array.isArray(w)) {
        out[k] = [...w, ...v];
      } else if (k === 'properties' && isObject(v) && isObject(w)) {
        const props: Schema = { ...w };
        for (const [name, s] of Object.entries(v)) {
          props[name] = Object.hasOwn(w, name) ? this.mergeNodes(w[name], s) : s;
        }
        out[k] = props;
      } else if (k === 'items' && isObject(v) && isObject(w)) {
        out[k] = this.mergeNodes(w, v);
      } else {
        return { allOf: [a, b] };
      }
    }
    this.bases.set(out, this.baseOf(a));
    return out;
  }

  private mergeNodes(a: unknown, b: unknown): unknown {
    const ra = isObject(a) && typeof a.$ref === 'string' ? this.resolve(a) : { schema: a };
    const rb = isObject(b) && typeof b.$ref === 'string' ? this.resolve(b) : { schema: b };
    if ('error' in ra || 'error' in rb || !(isObject(rb.schema) || typeof rb.schema === 'boolean'))
      return { allOf: [a, b] };
    if (rb.schema === true) return ra.schema;
    if (rb.schema === false) return false;
    return this.merge(ra.schema, rb.schema as Schema);
  }
}

/** Whether a JSON value holds a `$ref` (or `$dynamicRef`/`$recursiveRef`) anywhere; memoised per object. */
const refMemo = new WeakMap<object, boolean>();
export function hasRef(v: unknown, depth = 0): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const memo = refMemo.get(v);
  if (memo !== undefined) return memo;
  if (depth > 256) return true;
  let found = false;
  if (Array.isArray(v)) found = v.some((x) => hasRef(x, depth + 1));
  else
    for (const [k, x] of Object.entries(v)) {
      if ((k === '$ref' || k === '$dynamicRef' || k === '$recursiveRef') && typeof x === 'string')
        found = true;
      else if (hasRef(x, depth + 1)) found = true;
      if (found) break;
    }
  refMemo.set(v, found);
  return found;
}

/**
 * Equal schemas, `$ref`s included: the same text, and every `$ref` in it reaching equal targets on both sides
 * (a target pair already being checked counts as equal: a difference inside a cycle shows on its first pass).
 */
export function sameSchema(
  docs: readonly [SchemaDoc, SchemaDoc],
  a: unknown,
  b: unknown,
  seen = new Set<string>(),
): boolean {
  return deepEqual(a, b) && sameRefs(docs, a, b, seen, 0);
}

function sameRefs(
  docs: readonly [SchemaDoc, SchemaDoc],
  a: unknown,
  b: unknown,
  seen: Set<string>,
  depth: number,
): boolean {
  if (!hasRef(a)) return true;
  if (depth > 256) return false;
  if (Array.isArray(a)) return a.every((x, i) => sameRefs(docs, x, (b as unknown[])[i], seen, depth + 1));
  if (!isObject(a) || !isObject(b)) return true;
  if (typeof a.$ref === 'string') {
    const ra = docs[0].resolve(a);
    const rb = docs[1].resolve(b);
    if ('error' in ra || 'error' in rb) return false;
    const key = `${ra.uri}\0${rb.uri}`;
    if (!seen.has(key)) {
      seen.add(key);
      // The bare targets: the siblings are part of the text already found equal, and may hide a difference.
      if (!sameSchema(docs, ra.target, rb.target, seen)) return false;
    }
  }
  if (typeof a.$dynamicRef === 'string' || typeof a.$recursiveRef === 'string') return false;
  return Object.keys(a).every((k) => sameRefs(docs, a[k], b[k], seen, depth + 1));
}
