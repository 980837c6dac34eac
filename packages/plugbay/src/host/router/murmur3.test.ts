import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bucketOf, murmur3_32, murmur3_32Bytes, PrefixedMurmur3 } from './murmur3.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

// Any UTF-16 text: ASCII, every code point (1–4 UTF-8 bytes), and lone surrogates. (fast-check's own `binary`
// unit does the same but takes seconds to warm up.)
const text = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  ),
});

describe('murmur3_32', () => {
  // Published vectors of the reference MurmurHash3_x86_32 (SMHasher), as collected on
  // https://stackoverflow.com/questions/14747343 and reused by Boost.Hash2 and others.
  it('matches the reference vectors over raw bytes', () => {
    const cases: [Uint8Array, number, number][] = [
      [bytes(), 0, 0],
      [bytes(), 1, 0x514e28b7],
      [bytes(), 0xffffffff, 0x81f16f39],
      [bytes(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
      [bytes(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
      [bytes(0x21, 0x43, 0x65, 0x87), 0x5082edee, 0x2362f9de],
      [bytes(0x21, 0x43, 0x65), 0, 0x7e4a8634],
      [bytes(0x21, 0x43), 0, 0xa0f7b07a],
      [bytes(0x21), 0, 0x72661cf4],
      [bytes(0, 0, 0, 0), 0, 0x2362f9de],
      [bytes(0, 0, 0), 0, 0x85f0b427],
      [bytes(0, 0), 0, 0x30f4c306],
      [bytes(0), 0, 0x514e28b7],
    ];
    for (const [data, seed, expected] of cases) {
      assert.equal(murmur3_32Bytes(data, seed), expected, `bytes ${[...data]} seed ${seed}`);
    }
  });

  it('matches the reference vectors over strings (UTF-8)', () => {
    const seed = 0x9747b28c;
    const cases: [string, number, number][] = [
      ['', 0, 0],
      ['hello', 0, 0x248bfa47],
      ['aaaa', seed, 0x5a97808a],
      ['aaa', seed, 0x283e0130],
      ['aa', seed, 0x5d211726],
      ['a', seed, 0x7fa09ea6],
      ['abcd', seed, 0xf0478627],
      ['abc', seed, 0xc84a62dd],
      ['ab', seed, 0x74875592],
      ['Hello, world!', seed, 0x24884cba],
      ['ππππππππ', seed, 0xd58063c1],
      ['a'.repeat(256), seed, 0x37405bdc],
      ['abc', 0, 0xb3dd93fa],
      ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', 0, 0xee925b90],
      ['The quick brown fox jumps over the lazy dog', seed, 0x2fa826cd],
      ['Turn me into a hash', 1234, 4138100590],
    ];
    for (const [text, s, expected] of cases)
      assert.equal(murmur3_32(text, s), expected, JSON.stringify(text));
  });

  it('hashes any string exactly as the reference does over its TextEncoder bytes', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(
        text,
        fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((n) => n >>> 0),
        (text, seed) => {
          assert.equal(murmur3_32(text, seed), murmur3_32Bytes(encoder.encode(text), seed));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('lone surrogates hash as U+FFFD, like TextEncoder', () => {
    assert.equal(murmur3_32('a\ud800b'), murmur3_32('a\ufffdb'));
    assert.equal(murmur3_32('\udc00'), murmur3_32('\ufffd'));
  });

  it('a prefixed hasher equals hashing the joined string', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(text, text, fc.nat(), (prefix, suffix, seed) => {
        const prefixed = new PrefixedMurmur3(prefix, seed);
        // Exactly: the UTF-8 of the prefix followed by the UTF-8 of the suffix.
        const joined = new Uint8Array([...encoder.encode(prefix), ...encoder.encode(suffix)]);
        assert.equal(prefixed.hash(suffix), murmur3_32Bytes(joined, seed));
        assert.equal(prefixed.hash(suffix), murmur3_32Bytes(joined, seed), 'reusable');
        // Which is the joined string's hash unless the split cuts a surrogate pair (never: router prefixes end in ':').
        if (!/[\ud800-\udbff]$/.test(prefix))
          assert.equal(prefixed.hash(suffix), murmur3_32(prefix + suffix, seed));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('bucketOf', () => {
  it("matches Unleash's normalizedValue (values shared by its Node, Java and Go clients)", () => {
    assert.equal(bucketOf('gr1', '123'), 73);
    assert.equal(bucketOf('groupX', '999'), 25);
  });

  it('is always 1..100', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (group, key) => {
        const b = bucketOf(group, key);
        assert.ok(Number.isInteger(b) && b >= 1 && b <= 100, String(b));
      }),
    );
  });
});
