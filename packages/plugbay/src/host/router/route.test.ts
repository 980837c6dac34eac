import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAjv } from '../../core/schema.js';
import {
  type RouteProblem,
  referencedVersions,
  routeProblemKind,
  routeSchema,
  validateRoute,
} from './route.js';

const loaded = ['1.0.0', '1.1.0', '2.0.0-beta.1'];

function problemsOf(raw: unknown, versions: string[] | undefined = loaded): RouteProblem[] {
  const result = validateRoute(raw, versions);
  return result.problems;
}

function has(problems: RouteProblem[], field: string, rule: string): boolean {
  return problems.some((p) => p.field === field && p.rule === rule);
}

describe('validateRoute', () => {
  it('accepts a full route and returns it', () => {
    const route = {
      stable: '1.0.0',
      canary: { version: '1.1.0', percent: 10 },
      experiments: [
        {
          name: 'new-ui',
          variants: { A: '1.0.0', B: '1.1.0' },
          split: { A: 30, B: 70 },
          match: { keyPrefix: 'beta-' },
        },
        { name: 'pre', variants: { only: '2.0.0-beta.1' } },
      ],
      fallback: ['1.0.0'],
    };
    const result = validateRoute(route, loaded);
    assert.deepEqual(result.problems, []);
    assert.ok('route' in result);
    assert.equal(result.route, route);
  });

  it('accepts an empty route (the default: highest release)', () => {
    assert.deepEqual(problemsOf({}), []);
  });

  it('rejects percent outside 0..100 and non-integers, naming the field', () => {
    for (const percent of [150, -1, 2.5, '10']) {
      const problems = problemsOf({ stable: '1.0.0', canary: { version: '1.1.0', percent } });
      assert.ok(
        problems.some((p) => p.field === 'canary.percent' && p.kind === 'invalid'),
        JSON.stringify(problems),
      );
      assert.equal(routeProblemKind(problems), 'invalid');
    }
    assert.ok(
      has(
        problemsOf({ stable: '1.0.0', canary: { version: '1.1.0', percent: 150 } }),
        'canary.percent',
        'maximum',
      ),
    );
  });

  it('rejects a split that does not sum to 100, or names other variants', () => {
    const base = { name: 'x', variants: { A: '1.0.0', B: '1.1.0' } };
    assert.ok(
      has(
        problemsOf({ experiments: [{ ...base, split: { A: 50, B: 40 } }] }),
        'experiments.0.split',
        'split-sum',
      ),
    );
    assert.ok(
      has(
        problemsOf({ experiments: [{ ...base, split: { A: 50, C: 50 } }] }),
        'experiments.0.split',
        'split-variants',
      ),
    );
    assert.ok(
      has(
        problemsOf({ experiments: [{ ...base, split: { A: 101, B: -1 } }] }),
        'experiments.0.split.A',
        'maximum',
      ),
    );
  });

  it('rejects duplicate experiment names', () => {
    const e = { name: 'same', variants: { A: '1.0.0' } };
    const problems = problemsOf({ experiments: [e, { ...e }] });
    assert.ok(has(problems, 'experiments.1.name', 'unique'), JSON.stringify(problems));
    assert.equal(routeProblemKind(problems), 'invalid');
  });

  it('marks versions that are not loaded as a conflict, each with its field', () => {
    const problems = problemsOf({
      stable: '9.9.9',
      canary: { version: '1.1.0', percent: 5 },
      experiments: [{ name: 'e', variants: { A: '1.0.0', B: '3.0.0' } }],
      fallback: ['1.0.0', '4.0.0'],
    });
    assert.deepEqual(
      problems.map((p) => [p.field, p.rule, p.kind]),
      [
        ['stable', 'version-not-loaded', 'conflict'],
        ['experiments.0.variants.B', 'version-not-loaded', 'conflict'],
        ['fallback.1', 'version-not-loaded', 'conflict'],
      ],
    );
    assert.equal(routeProblemKind(problems), 'conflict');
  });

  it('skips the loaded check when no loaded versions are given (restoring persisted routes)', () => {
    assert.deepEqual(validateRoute({ stable: '9.9.9' }).problems, []);
  });

  it('a malformed body wins over a missing version: invalid', () => {
    const problems = problemsOf({ stable: '9.9.9', canary: { version: '1.1.0', percent: 150 } });
    assert.ok(has(problems, 'canary.percent', 'maximum'));
    assert.equal(routeProblemKind(problems), 'invalid');
  });

  it('requires exact versions, not ranges', () => {
    for (const version of ['^1.0.0', 'v1.0.0', '1.0', 'latest']) {
      assert.ok(has(problemsOf({ stable: version }), 'stable', 'semver'), version);
    }
  });

  it('requires a stable when a canary is set', () => {
    assert.ok(has(problemsOf({ canary: { version: '1.1.0', percent: 5 } }), 'stable', 'required'));
  });

  it('rejects malformed shapes with the field and the rule', () => {
    const cases: [unknown, string, string][] = [
      [null, '(root)', 'type'],
      [[], '(root)', 'type'],
      ['stable', '(root)', 'type'],
      [{ stable: 1 }, 'stable', 'type'],
      [{ stabel: '1.0.0' }, 'stabel', 'additionalProperties'],
      [{ canary: { version: '1.1.0' } }, 'canary.percent', 'required'],
      [{ experiments: {} }, 'experiments', 'type'],
      [{ experiments: [{ name: 'e', variants: {} }] }, 'experiments.0.variants', 'minProperties'],
      [{ experiments: [{ name: 'bad name', variants: { A: '1.0.0' } }] }, 'experiments.0.name', 'pattern'],
      [
        { experiments: [{ name: 'e', variants: { 'a b': '1.0.0' } }] },
        'experiments.0.variants',
        'propertyNames',
      ],
      [
        { experiments: [{ name: 'e', variants: { A: '1.0.0' }, match: { key: 'x' } }] },
        'experiments.0.match.key',
        'additionalProperties',
      ],
      [{ fallback: ['1.0.0', '1.0.0'] }, 'fallback', 'uniqueItems'],
    ];
    for (const [raw, field, rule] of cases) {
      const problems = problemsOf(raw);
      assert.ok(has(problems, field, rule), `${JSON.stringify(raw)} → ${JSON.stringify(problems)}`);
      assert.ok(problems.every((p) => p.kind === 'invalid'));
      assert.equal(routeProblemKind(problems), 'invalid');
    }
  });

  it('routeSchema is a JSON Schema an HTTP framework can compile on its own', () => {
    const validate = createAjv().compile(JSON.parse(JSON.stringify(routeSchema)));
    assert.equal(validate({ stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } }), true);
    assert.equal(validate({ canary: { version: '1.1.0', percent: 101 } }), false);
  });
});

describe('referencedVersions', () => {
  it('lists every version a route names', () => {
    const versions = referencedVersions({
      stable: '1.0.0',
      canary: { version: '1.1.0', percent: 1 },
      experiments: [{ name: 'e', variants: { A: '1.2.0', B: '1.0.0' } }],
      fallback: ['0.9.0'],
    });
    assert.deepEqual([...versions].sort(), ['0.9.0', '1.0.0', '1.1.0', '1.2.0']);
    assert.equal(referencedVersions(undefined).size, 0);
  });
});
