import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { patternIncluded } from './patterns.js';

describe('pattern inclusion (regular languages, as JSON Schema searches with the u flag)', () => {
  const rows: [string, string, boolean | undefined][] = [
    ['^[0-9]+$', '^\\d+$', true],
    ['^\\d+$', '^[0-9]+$', true],
    ['^[a-z]+$', '^[a-z0-9]+$', true],
    ['^[a-z0-9]+$', '^[a-z]+$', false],
    ['abc', 'b', true], // unanchored: every string containing abc contains b
    ['b', 'abc', false],
    ['^abc', 'abc', true],
    ['abc', '^abc', false],
    ['^x$', '^x\\$', false], // an escaped dollar is a character, not an anchor
    ['^[0-9]{5}$', '^[0-9]{5}(-[0-9]{4})?$', true],
    ['^.{1,3}$', '^[^]{0,3}$', true],
    ['^[^]{0,3}$', '^.{1,3}$', false], // '' and line terminators
    ['^\\u{1F600}$', '^.$', true], // one code point under the u flag, not two UTF-16 units
    ['^a|b$', 'a', undefined], // anchors inside an alternation: left open, not guessed
    ['(?=a)a', 'a', undefined],
    ['^(', 'a', undefined], // not a regular expression
  ];
  for (const [narrow, wide, expected] of rows) {
    it(`${narrow} ⊆ ${wide}: ${expected}`, () => assert.equal(patternIncluded(narrow, wide), expected));
  }

  it('a pattern whose automaton would explode is undecided, quickly', () => {
    // (a|b)*a(a|b){20}: the DFA needs 2^20 states.
    assert.equal(patternIncluded('^[ab]*a[ab]{20}$', '^[ab]*$'), undefined);
  });
});
