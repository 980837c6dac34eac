// The adversarial corpus (corpus.test.shared.ts) against the host's Ajv and the differ: every witness and sample is
// checked first (the corpus must be right), then the differ must never call a breaking pair compatible.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ValidateFunction } from 'ajv';
import { compileSchema, createAjv } from '../core/schema.js';
import { type CorpusPair, corpus, knownFalseNegatives } from './corpus.test.shared.js';
import { diffSchemas, type Verdict } from './diff.js';
import type { JsonSchema } from './snapshot.js';

const validators = new Map<string, ValidateFunction>();

/** The host's own check (core/schema.ts): one fresh Ajv per schema, as `$id`s of before and after would collide. */
function accepts(schema: JsonSchema, value: unknown): boolean {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (validate === undefined) {
    const compiled = compileSchema(createAjv(), schema);
    if ('error' in compiled) assert.fail(`corpus schema ${key}: ${compiled.error}`);
    validate = compiled.validate;
    validators.set(key, validate);
  }
  return validate(value) as boolean;
}

/** What the gate makes of a pair: breaking wins, then unknown (which blocks by default), else compatible. */
function reported(pair: CorpusPair): Verdict {
  const verdicts = diffSchemas(pair.before, pair.after, pair.side, 'f').map((c) => c.verdict);
  if (verdicts.includes('breaking')) return 'breaking';
  return verdicts.includes('unknown') ? 'unknown' : 'compatible';
}

const breaking = corpus.filter((p) => p.verdict === 'breaking');
const compatible = corpus.filter((p) => p.verdict === 'compatible');

describe('the adversarial contract corpus', () => {
  it('has at least 100 pairs, each named once, every known false negative naming a breaking pair', () => {
    assert.ok(corpus.length >= 100, `${corpus.length} pairs`);
    assert.equal(new Set(corpus.map((p) => p.name)).size, corpus.length, 'pair names must be unique');
    for (const [name, why] of Object.entries(knownFalseNegatives)) {
      const pair = corpus.find((p) => p.name === name);
      assert.equal(pair?.verdict, 'breaking', `knownFalseNegatives: ${name} is not a breaking pair`);
      assert.match(why, /^refs: /);
    }
  });

  it("every breaking pair's witness breaks a caller, by the host's Ajv", () => {
    for (const p of breaking) {
      assert.ok(Object.hasOwn(p, 'witness'), `${p.name}: no witness`);
      // input: the old schema took it, the new refuses it; output: the new one may return it, the old never did.
      const [from, to] = p.side === 'input' ? [p.before, p.after] : [p.after, p.before];
      assert.equal(
        accepts(from, p.witness),
        true,
        `${p.name}: the witness must be accepted by ${p.side === 'input' ? 'before' : 'after'}`,
      );
      assert.equal(
        accepts(to, p.witness),
        false,
        `${p.name}: the witness must be refused by ${p.side === 'input' ? 'after' : 'before'}`,
      );
    }
  });

  it('every compatible pair keeps its samples valid in the safe direction', () => {
    for (const p of compatible) {
      const [from, to] = p.side === 'input' ? [p.before, p.after] : [p.after, p.before];
      const samples = p.samples ?? [];
      assert.ok(
        samples.some((v) => accepts(from, v)),
        `${p.name}: no sample valid on the side it starts from`,
      );
      for (const v of samples) {
        if (accepts(from, v))
          assert.equal(accepts(to, v), true, `${p.name}: ${JSON.stringify(v)} lost its validity`);
      }
    }
  });

  describe('the differ never reports a breaking pair compatible', () => {
    for (const p of breaking) {
      const options = p.knownFalseNegative === undefined ? {} : { todo: p.knownFalseNegative };
      it(p.name, options, () => {
        assert.notEqual(reported(p), 'compatible', `false negative: ${JSON.stringify(p)}`);
      });
    }
  });

  it('reports the false-positive rate and the known false negatives that pass already', (t) => {
    const blocked = compatible.filter((p) => reported(p) !== 'compatible');
    const rate = ((100 * blocked.length) / compatible.length).toFixed(1);
    const lines = [
      `corpus: ${corpus.length} pairs, ${breaking.length} breaking, ${compatible.length} compatible`,
      `false positives: ${blocked.length}/${compatible.length} (${rate}%) compatible pairs reported breaking or unknown`,
      ...blocked.map((p) => `  ${reported(p)}: ${p.name}`),
    ];
    const fixed = breaking.filter((p) => p.knownFalseNegative !== undefined && reported(p) !== 'compatible');
    if (fixed.length > 0) {
      lines.push('known false negatives that pass now (remove them from knownFalseNegatives):');
      lines.push(...fixed.map((p) => `  ${p.name}`));
    }
    for (const line of lines) t.diagnostic(line);
    console.log(lines.join('\n'));
  });
});
