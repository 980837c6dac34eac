// MurmurHash3, x86 32-bit variant (Austin Appleby's reference `MurmurHash3_x86_32`), over the UTF-8 bytes of a
// string. It is what Unleash and most feature-flag systems bucket with, so a key lands in the same bucket here as
// in those systems. Strings are encoded on the fly: hashing allocates nothing.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hash state after a prefix: lets a caller hash `prefix + suffix` without building the joined string. */
interface State {
  h: number;
  /** Bytes of the current, unfinished 4-byte block (little endian). */
  tail: number;
  /** Bits in `tail`: 0, 8, 16 or 24. */
  shift: number;
  /** Bytes hashed so far. */
  length: number;
}

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, tail: number, shift: number, length: number): number {
  if (shift !== 0) {
    let k = Math.imul(tail, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Feeds the UTF-8 encoding of `text` into `state` (mutated). Lone surrogates encode as U+FFFD, as TextEncoder does. */
function update(state: State, text: string): void {
  let { h, tail, shift, length } = state;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let cp = text.charCodeAt(i);
    // `bytes` packs up to 4 UTF-8 bytes, first byte lowest; `count` says how many.
    let bytes: number;
    let count: number;
    if (cp < 0x80) {
      bytes = cp;
      count = 1;
    } else {
      if (cp >= 0xd800 && cp <= 0xdfff) {
        const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else {
          cp = 0xfffd;
        }
      }
      if (cp < 0x800) {
        bytes = 0xc0 | (cp >>> 6) | ((0x80 | (cp & 0x3f)) << 8);
        count = 2;
      } else if (cp < 0x10000) {
        bytes = 0xe0 | (cp >>> 12) | ((0x80 | ((cp >>> 6) & 0x3f)) << 8) | ((0x80 | (cp & 0x3f)) << 16);
        count = 3;
      } else {
        bytes =
          0xf0 |
          (cp >>> 18) |
          ((0x80 | ((cp >>> 12) & 0x3f)) << 8) |
          ((0x80 | ((cp >>> 6) & 0x3f)) << 16) |
          ((0x80 | (cp & 0x3f)) << 24);
        count = 4;
      }
    }
    for (let j = 0; j < count; j++) {
      tail |= ((bytes >>> (j * 8)) & 0xff) << shift;
      shift += 8;
      if (shift === 32) {
        h = mixBlock(h, tail);
        tail = 0;
        shift = 0;
      }
    }
    length += count;
  }
  state.h = h;
  state.tail = tail;
  state.shift = shift;
  state.length = length;
}

/** murmur3_32 of the UTF-8 bytes of `text`; an unsigned 32-bit integer. */
export function murmur3_32(text: string, seed = 0): number {
  const state: State = { h: seed | 0, tail: 0, shift: 0, length: 0 };
  update(state, text);
  return finish(state.h, state.tail, state.shift, state.length);
}

/** murmur3_32 of raw bytes (the reference form; used to check the string form against published vectors). */
export function murmur3_32Bytes(data: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const blocks = data.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h = mixBlock(h, data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
  }
  let tail = 0;
  const rest = data.length & 3;
  for (let j = 0; j < rest; j++) tail |= data[blocks + j]! << (j * 8);
  return finish(h, tail, rest * 8, data.length);
}

/**
 * A murmur3_32 with a fixed string prefix hashed once: `prefixed.hash(s) === murmur3_32(prefix + s, seed)` (unless
 * `prefix` ends in half a surrogate pair that `s` completes: each part is encoded on its own).
 * The router keeps one per bucketing group (`"<plugin>:"`), so a decision hashes only the key.
 */
export class PrefixedMurmur3 {
  readonly #prefix: Readonly<State>;
  readonly #scratch: State = { h: 0, tail: 0, shift: 0, length: 0 };

  constructor(prefix: string, seed = 0) {
    const state: State = { h: seed | 0, tail: 0, shift: 0, length: 0 };
    update(state, prefix);
    this.#prefix = state;
  }

  hash(suffix: string): number {
    const s = this.#scratch;
    const p = this.#prefix;
    s.h = p.h;
    s.tail = p.tail;
    s.shift = p.shift;
    s.length = p.length;
    update(s, suffix);
    return finish(s.h, s.tail, s.shift, s.length);
  }
}

/** Unleash's `normalizedValue`: the bucket, 1..100, of `key` in `group` (`murmur3_32("<group>:<key>", 0) % 100 + 1`). */
export function bucketOf(group: string, key: string): number {
  return (murmur3_32(`${group}:${key}`, 0) % 100) + 1;
}
