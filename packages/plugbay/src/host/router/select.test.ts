import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import semver from 'semver';
import { bucketOf } from './murmur3.js';
import type { Route } from './route.js';
import { type Candidate, compileRoute, type Selection, selectVersion } from './select.js';

const up = (...versions: string[]): Candidate[] => versions.map((version) => ({ version, available: true }));
const keys = (n: number, prefix = 'user-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function pick(
  route: Route | undefined,
  candidates: Candidate[],
  call: { key?: string; version?: string; range?: string },
) {
  return selectVersion(compileRoute('greeter', route), candidates, call);
}

function selected(selection: Selection): { version: string; arm: string } {
  assert.ok(selection.ok, `expected a version, got ${JSON.stringify(selection)}`);
  return { version: selection.version, arm: selection.arm };
}

/** Share (in percent) of `n` keys for which `test` holds. */
function share(n: number, test: (key: string) => boolean): number {
  let hits = 0;
  for (const key of keys(n)) if (test(key)) hits++;
  return (hits / n) * 100;
}

const keyArb = fc.string({ minLength: 1, maxLength: 24 });

describe('selectVersion: canary', () => {
  const candidates = up('1.0.0', '1.1.0');
  const canaryRoute = (percent: number) =>
    compileRoute('greeter', { stable: '1.0.0', canary: { version: '1.1.0', percent } });

  it('uses the bucket of Unleash: murmur3_32("<plugin>:<key>") % 100 + 1 <= percent', () => {
    fc.assert(
      fc.property(keyArb, fc.integer({ min: 0, max: 100 }), (key, percent) => {
        const s = selected(selectVersion(canaryRoute(percent), candidates, { key }));
        const inCanary = bucketOf('greeter', key) <= percent;
        assert.deepEqual(
          s,
          inCanary ? { version: '1.1.0', arm: 'canary' } : { version: '1.0.0', arm: 'stable' },
        );
      }),
    );
  });

  it('is sticky: the same key always gets the same version', () => {
    const route = canaryRoute(37);
    fc.assert(
      fc.property(keyArb, (key) => {
        const first = selectVersion(route, candidates, { key });
        for (let i = 0; i < 5; i++) assert.equal(selectVersion(route, candidates, { key }), first);
      }),
    );
  });

  it('is monotone: a key in the canary at p stays in at any higher percent', () => {
    fc.assert(
      fc.property(keyArb, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (key, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const atLow = selected(selectVersion(canaryRoute(low), candidates, { key }));
        const atHigh = selected(selectVersion(canaryRoute(high), candidates, { key }));
        if (atLow.arm === 'canary') assert.equal(atHigh.arm, 'canary');
      }),
      { numRuns: 500 },
    );
    // The brief's example, over many keys: everyone in at 5 % is in at 20 %.
    const at5 = canaryRoute(5);
    const at20 = canaryRoute(20);
    for (const key of keys(20_000)) {
      if (selected(selectVersion(at5, candidates, { key })).arm === 'canary') {
        assert.equal(selected(selectVersion(at20, candidates, { key })).arm, 'canary', key);
      }
    }
  });

  it('splits 100k keys within ±1 point of the percent', () => {
    for (const percent of [1, 5, 10, 50, 90]) {
      const route = canaryRoute(percent);
      const got = share(
        100_000,
        (key) => selected(selectVersion(route, candidates, { key })).arm === 'canary',
      );
      assert.ok(Math.abs(got - percent) <= 1, `canary ${percent}%: got ${got}%`);
    }
  });

  it('0 % sends nobody, 100 % everybody', () => {
    assert.equal(
      share(2000, (key) => selected(selectVersion(canaryRoute(0), candidates, { key })).arm === 'canary'),
      0,
    );
    assert.equal(
      share(2000, (key) => selected(selectVersion(canaryRoute(100), candidates, { key })).arm === 'canary'),
      100,
    );
  });

  it('spreads calls without a key instead of sending them all one way', () => {
    const route = canaryRoute(50);
    let canary = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if (selected(selectVersion(route, candidates, {})).arm === 'canary') canary++;
    // Binomial(4000, 0.5): sd ≈ 0.8 points; 10 points is > 12 sd.
    assert.ok(Math.abs((canary / n) * 100 - 50) < 10, `${canary} of ${n}`);
  });
});

describe('selectVersion: experiments', () => {
  const candidates = up('1.0.0', '1.1.0', '1.2.0', '2.0.0');

  it('splits a 50/50 experiment within ±2 points over 100k keys, sticky', () => {
    const route = compileRoute('greeter', {
      stable: '1.0.0',
      experiments: [{ name: 'color', variants: { A: '1.1.0', B: '1.2.0' } }],
    });
    const a = share(100_000, (key) => {
      const s = selected(selectVersion(route, candidates, { key }));
      assert.equal(selectVersion(route, candidates, { key }), selectVersion(route, candidates, { key }));
      assert.ok(s.arm === 'experiment:color:A' || s.arm === 'experiment:color:B', s.arm);
      assert.equal(s.version, s.arm.endsWith(':A') ? '1.1.0' : '1.2.0');
      return s.arm === 'experiment:color:A';
    });
    assert.ok(Math.abs(a - 50) <= 2, `A got ${a}%`);
  });

  it('follows an explicit split and the default equal split of three variants (34/33/33)', () => {
    const split = compileRoute('greeter', {
      experiments: [{ name: 'e', variants: { A: '1.0.0', B: '1.1.0' }, split: { A: 20, B: 80 } }],
    });
    assert.ok(
      Math.abs(
        share(100_000, (key) => selected(selectVersion(split, candidates, { key })).version === '1.0.0') - 20,
      ) <= 1,
    );
    const three = compileRoute('greeter', {
      experiments: [{ name: 'e', variants: { A: '1.0.0', B: '1.1.0', C: '1.2.0' } }],
    });
    const counts = new Map<string, number>();
    for (const key of keys(60_000)) {
      const { arm } = selected(selectVersion(three, candidates, { key }));
      counts.set(arm, (counts.get(arm) ?? 0) + 1);
    }
    assert.equal(counts.size, 3);
    for (const [arm, count] of counts)
      assert.ok(Math.abs((count / 60_000) * 100 - 33.3) <= 2, `${arm}: ${count}`);
  });

  it('salts with the experiment name: variant assignment is independent of the canary and of other experiments', () => {
    const canary = compileRoute('greeter', { stable: '1.0.0', canary: { version: '2.0.0', percent: 50 } });
    const exp = compileRoute('greeter', {
      experiments: [{ name: 'color', variants: { A: '1.1.0', B: '1.2.0' } }],
    });
    const other = compileRoute('greeter', {
      experiments: [{ name: 'font', variants: { A: '1.1.0', B: '1.2.0' } }],
    });
    const cells = new Map<string, number>();
    const sameAsOther = { n: 0 };
    const n = 100_000;
    for (const key of keys(n)) {
      const c = selected(selectVersion(canary, candidates, { key })).arm;
      const e = selected(selectVersion(exp, candidates, { key })).version;
      const o = selected(selectVersion(other, candidates, { key })).version;
      cells.set(`${c}/${e}`, (cells.get(`${c}/${e}`) ?? 0) + 1);
      if (e === o) sameAsOther.n++;
    }
    assert.equal(cells.size, 4);
    for (const [cell, count] of cells)
      assert.ok(Math.abs((count / n) * 100 - 25) <= 1.5, `${cell}: ${count}`);
    assert.ok(Math.abs((sameAsOther.n / n) * 100 - 50) <= 1.5, `color and font agree on ${sameAsOther.n}`);
  });

  it('comes before the canary; keyPrefix limits who enters; the first matching experiment wins', () => {
    const route: Route = {
      stable: '1.0.0',
      canary: { version: '2.0.0', percent: 100 },
      experiments: [
        { name: 'staff', variants: { only: '1.2.0' }, match: { keyPrefix: 'staff-' } },
        { name: 'beta', variants: { A: '1.1.0' }, match: { keyPrefix: 'staff-beta-' } },
      ],
    };
    assert.deepEqual(selected(pick(route, candidates, { key: 'staff-1' })), {
      version: '1.2.0',
      arm: 'experiment:staff:only',
    });
    assert.deepEqual(selected(pick(route, candidates, { key: 'staff-beta-1' })), {
      version: '1.2.0',
      arm: 'experiment:staff:only',
    });
    assert.deepEqual(selected(pick(route, candidates, { key: 'user-1' })), {
      version: '2.0.0',
      arm: 'canary',
    });
    // A keyed-only experiment never takes a call without a key.
    assert.deepEqual(selected(pick(route, candidates, {})), { version: '2.0.0', arm: 'canary' });
  });

  it('spreads calls without a key over the variants of an experiment that takes every call', () => {
    const route = compileRoute('greeter', {
      experiments: [{ name: 'e', variants: { A: '1.1.0', B: '1.2.0' } }],
    });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(selected(selectVersion(route, candidates, {})).arm);
    assert.deepEqual([...seen].sort(), ['experiment:e:A', 'experiment:e:B']);
  });
});

describe('selectVersion: pinned', () => {
  const versionArb = fc
    .record({
      major: fc.integer({ min: 0, max: 2 }),
      minor: fc.integer({ min: 0, max: 3 }),
      patch: fc.integer({ min: 0, max: 3 }),
      pre: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    })
    .map(
      ({ major, minor, patch, pre }) =>
        `${major}.${minor}.${patch}${pre === undefined ? '' : `-beta.${pre}`}`,
    );
  const candidatesArb = fc.uniqueArray(fc.record({ version: versionArb, available: fc.boolean() }), {
    selector: (c) => c.version,
    minLength: 1,
    maxLength: 8,
  });
  const rangeArb = fc.oneof(
    fc.tuple(fc.constantFrom('^', '~', '>=', '<', '', '='), versionArb).map(([op, v]) => `${op}${v}`),
    fc.tuple(versionArb, versionArb).map(([a, b]) => `>=${a} <${b}`),
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 })).map(([a, b]) => `${a}.${b}.x`),
    fc.constantFrom('*', '1.x', '^1.2.0 || ^2.0.0-beta.0', '1.1.0 - 2.1.0'),
  );
  const route: Route = { stable: '0.0.0', canary: { version: '0.0.1', percent: 100 }, fallback: ['0.0.2'] };

  it('ignores the route and answers with the highest available version the range allows (per npm semver)', () => {
    fc.assert(
      fc.property(
        candidatesArb,
        rangeArb,
        fc.option(keyArb, { nil: undefined }),
        (candidates, range, key) => {
          const available = candidates.filter((c) => c.available).map((c) => c.version);
          const expected = semver.maxSatisfying(available, range);
          const s = pick(route, candidates, { key, range });
          if (expected === null) {
            assert.equal(s.ok, false);
            assert.ok(!s.ok && s.reason === 'no-instance');
          } else {
            assert.deepEqual(selected(s), { version: expected, arm: 'pinned' });
          }
          assert.deepEqual(
            pick(route, candidates, { key, version: range }),
            s,
            'version and range pin alike',
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('an exact pin gets that version or no instance — never another version', () => {
    fc.assert(
      fc.property(candidatesArb, fc.nat(), (candidates, i) => {
        const target = candidates[i % candidates.length]!;
        const s = pick(route, candidates, { key: 'k', version: target.version });
        if (target.available) assert.deepEqual(selected(s), { version: target.version, arm: 'pinned' });
        else
          assert.deepEqual(s, {
            ok: false,
            reason: 'no-instance',
            skipped: [{ arm: 'pinned', version: target.version, why: 'unavailable' }],
          });
      }),
    );
  });

  it('takes prereleases only when the range asks for them', () => {
    const candidates = up('1.2.0', '1.3.0-beta.1');
    assert.equal(selected(pick(undefined, candidates, { range: '^1.2.0' })).version, '1.2.0');
    assert.equal(selected(pick(undefined, candidates, { range: '~1.2.0' })).version, '1.2.0');
    assert.equal(selected(pick(undefined, candidates, { range: '^1.3.0-beta.0' })).version, '1.3.0-beta.1');
    assert.equal(selected(pick(undefined, candidates, { version: '1.3.0-beta.1' })).version, '1.3.0-beta.1');
    const s = pick(undefined, up('1.3.0-beta.1'), { range: '^1.2.0' });
    assert.deepEqual(s, {
      ok: false,
      reason: 'no-instance',
      skipped: [{ arm: 'pinned', version: '^1.2.0', why: 'none-satisfies' }],
    });
  });

  it('reports a pin that is neither a version nor a range', () => {
    for (const version of ['not a range', '']) {
      assert.deepEqual(pick(undefined, up('1.0.0'), { version }), {
        ok: false,
        reason: 'invalid-pin',
        skipped: [],
      });
    }
  });
});

describe('selectVersion: defaults and fallback', () => {
  it('with no route: the highest available release, skipping prereleases and unavailable versions', () => {
    const candidates: Candidate[] = [
      { version: '1.0.0', available: true },
      { version: '1.10.0', available: true },
      { version: '1.9.0', available: true },
      { version: '2.0.0', available: false },
      { version: '3.0.0-beta.1', available: true },
    ];
    assert.deepEqual(selected(pick(undefined, candidates, { key: 'k' })), {
      version: '1.10.0',
      arm: 'stable',
    });
    // Only prereleases loaded (early development): the highest of them.
    assert.deepEqual(selected(pick(undefined, up('0.1.0-alpha.1', '0.1.0-alpha.2'), {})), {
      version: '0.1.0-alpha.2',
      arm: 'stable',
    });
    assert.deepEqual(pick(undefined, [], {}), {
      ok: false,
      reason: 'no-instance',
      skipped: [{ arm: 'stable', version: undefined, why: 'not-loaded' }],
    });
  });

  it('falls from an unavailable choice to the stable, then through the fallback chain in order', () => {
    const versions = ['1.0.0', '1.1.0', '2.0.0', '0.9.0', '0.8.0'];
    const route: Route = {
      stable: '1.0.0',
      canary: { version: '2.0.0', percent: 50 },
      experiments: [{ name: 'e', variants: { A: '1.1.0' }, match: { keyPrefix: 'exp-' } }],
      fallback: ['0.9.0', '0.8.0'],
    };
    const compiled = compileRoute('greeter', route);
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: versions.length, maxLength: versions.length }),
        fc.subarray(versions),
        keyArb,
        fc.boolean(),
        (flags, missing, rawKey, inExperiment) => {
          const key = inExperiment ? `exp-${rawKey}` : rawKey;
          const candidates = versions
            .map((version, i) => ({ version, available: flags[i]! }))
            .filter((c) => !missing.includes(c.version));
          const ok = (v: string) => candidates.some((c) => c.version === v && c.available);
          // The oracle: the primary choice, then stable (unless it was the primary), then the fallback list.
          const primary = inExperiment
            ? { version: '1.1.0', arm: 'experiment:e:A' }
            : bucketOf('greeter', key) <= 50
              ? { version: '2.0.0', arm: 'canary' }
              : { version: '1.0.0', arm: 'stable' };
          const chain = [primary.version === '1.0.0' ? [] : ['1.0.0'], ['0.9.0', '0.8.0']].flat();
          const fallback = chain.find(ok);
          const s = selectVersion(compiled, candidates, { key });
          if (ok(primary.version)) assert.deepEqual(selected(s), primary);
          else if (fallback !== undefined)
            assert.deepEqual(selected(s), { version: fallback, arm: 'fallback' });
          else {
            assert.ok(!s.ok && s.reason === 'no-instance');
            assert.deepEqual(
              s.skipped.map((x) => x.version),
              [primary.version, ...chain],
            );
            for (const x of s.skipped) {
              const loaded = candidates.some((c) => c.version === x.version);
              assert.equal(x.why, loaded ? 'unavailable' : 'not-loaded');
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a route without a stable falls back to the highest available release', () => {
    const route: Route = { experiments: [{ name: 'e', variants: { A: '2.0.0' } }], fallback: ['0.1.0'] };
    const candidates: Candidate[] = [
      { version: '2.0.0', available: false },
      { version: '1.5.0', available: true },
      { version: '0.1.0', available: true },
    ];
    assert.deepEqual(selected(pick(route, candidates, { key: 'k' })), { version: '1.5.0', arm: 'fallback' });
    assert.deepEqual(selected(pick({ fallback: ['0.1.0'] }, candidates, {})), {
      version: '1.5.0',
      arm: 'stable',
    });
  });

  it('shares frozen result objects (no allocation per decision)', () => {
    const route = compileRoute('greeter', { stable: '1.0.0', canary: { version: '1.1.0', percent: 50 } });
    const candidates = up('1.0.0', '1.1.0');
    const a = selectVersion(route, candidates, { key: 'same' });
    assert.equal(selectVersion(route, candidates, { key: 'same' }), a);
    assert.ok(Object.isFrozen(a));
    assert.equal(
      pick(undefined, candidates, { version: '1.0.0' }),
      pick(undefined, candidates, { version: '1.0.0' }),
    );
  });
});
