// The behaviour every StateStore must have, run against each implementation by its own test file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StateChange, StateStore } from './types.js';

/** A fresh, empty store per test, with a clock that the test drives; `cleanup` removes what the store left. */
export type StoreFactory = (now: () => Date) => Promise<{ store: StateStore; cleanup: () => Promise<void> }>;

function clock(): { now: () => Date; tick: () => void } {
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  return {
    now: () => new Date(t),
    tick: () => {
      t += 1000;
    },
  };
}

function codeOf(fn: () => unknown): {
  code: string | undefined;
  details: Record<string, unknown> | undefined;
} {
  try {
    fn();
  } catch (err) {
    const e = err as { code?: string; details?: Record<string, unknown> };
    return { code: e.code, details: e.details };
  }
  assert.fail('expected a throw');
}

const audit = (action: string, plugin = 'greeter', extra: Partial<StateChange['audit']> = {}) => ({
  actor: 'test',
  action,
  plugin,
  ...extra,
});

export function stateStoreContract(name: string, factory: StoreFactory): void {
  describe(`${name}: StateStore contract`, () => {
    async function withStore(fn: (store: StateStore, c: ReturnType<typeof clock>) => void | Promise<void>) {
      const c = clock();
      const { store, cleanup } = await factory(c.now);
      try {
        await fn(store, c);
      } finally {
        store.close();
        await cleanup();
      }
    }

    it('starts empty', () =>
      withStore((store) => {
        assert.equal(store.route('greeter'), undefined);
        assert.deepEqual([...store.routes()], []);
        assert.equal(store.stable('greeter'), undefined);
        assert.deepEqual(store.stableHistory('greeter'), []);
        assert.deepEqual(store.audit(), []);
      }));

    it('stores routes per plugin as copies, and deletes them with null', () =>
      withStore((store) => {
        const route = { stable: '1.0.0', canary: { version: '1.1.0', percent: 5 } };
        store.commit({ route: { plugin: 'greeter', route }, audit: audit('route') });
        store.commit({
          route: { plugin: 'echo', route: { stable: '2.0.0' } },
          audit: audit('route', 'echo'),
        });
        route.canary.percent = 99;
        const stored = store.route('greeter');
        assert.deepEqual(stored, { stable: '1.0.0', canary: { version: '1.1.0', percent: 5 } });
        (stored as { stable: string }).stable = 'changed';
        assert.equal(store.route('greeter')?.stable, '1.0.0');
        assert.deepEqual(
          [...store.routes()],
          [
            ['echo', { stable: '2.0.0' }],
            ['greeter', { stable: '1.0.0', canary: { version: '1.1.0', percent: 5 } }],
          ],
        );
        store.commit({ route: { plugin: 'greeter', route: { stable: '1.1.0' } }, audit: audit('route') });
        assert.deepEqual(store.route('greeter'), { stable: '1.1.0' });
        store.commit({ route: { plugin: 'greeter', route: null }, audit: audit('route') });
        assert.equal(store.route('greeter'), undefined);
        assert.deepEqual([...store.routes().keys()], ['echo']);
      }));

    it('keeps a stable history per plugin: activate pushes, rollback returns to the previous one', () =>
      withStore((store, c) => {
        store.commit({ activate: { plugin: 'greeter', version: '1.0.0' }, audit: audit('activate') });
        c.tick();
        store.commit({ activate: { plugin: 'greeter', version: '1.1.0' }, audit: audit('activate') });
        c.tick();
        store.commit({ activate: { plugin: 'greeter', version: '1.1.0' }, audit: audit('activate') }); // already current
        store.commit({ activate: { plugin: 'echo', version: '9.0.0' }, audit: audit('activate', 'echo') });
        assert.equal(store.stable('greeter'), '1.1.0');
        assert.deepEqual(store.stableHistory('greeter'), [
          { version: '1.0.0', time: '2026-01-01T00:00:00.000Z' },
          { version: '1.1.0', time: '2026-01-01T00:00:01.000Z' },
        ]);
        store.commit({ rollback: { plugin: 'greeter', from: '1.1.0' }, audit: audit('rollback') });
        assert.equal(store.stable('greeter'), '1.0.0');
        assert.deepEqual(
          store.stableHistory('greeter').map((r) => r.version),
          ['1.0.0'],
        );
        assert.equal(store.stable('echo'), '9.0.0');
      }));

    it('refuses a rollback that is not from the current stable or has nowhere to go, changing nothing', () =>
      withStore((store) => {
        store.commit({ activate: { plugin: 'greeter', version: '1.0.0' }, audit: audit('activate') });
        const before = store.audit();
        const wrong = codeOf(() =>
          store.commit({ rollback: { plugin: 'greeter', from: '2.0.0' }, audit: audit('rollback') }),
        );
        assert.equal(wrong.code, 'PLUGBAY_INVALID_ARGUMENT');
        assert.equal(wrong.details?.rule, 'current-stable');
        const none = codeOf(() =>
          store.commit({ rollback: { plugin: 'greeter', from: '1.0.0' }, audit: audit('rollback') }),
        );
        assert.equal(none.details?.rule, 'has-previous');
        assert.equal(store.stable('greeter'), '1.0.0');
        assert.deepEqual(store.audit(), before);
      }));

    it('keeps run-time grants with their audit entry; a revoke must name one, else nothing changes', () =>
      withStore((store, c) => {
        store.commit({
          grant: { plugin: 'reader', capability: 'fs.read:/etc' },
          audit: audit('grant', 'reader'),
        });
        c.tick();
        store.commit({
          grant: { plugin: 'reader', capability: 'env:HOME' },
          audit: audit('grant', 'reader'),
        });
        store.commit({
          grant: { plugin: 'reader', capability: 'env:HOME' },
          audit: audit('grant', 'reader'),
        });
        store.commit({
          grant: { plugin: 'echo', capability: 'childProcess' },
          audit: audit('grant', 'echo'),
        });
        assert.deepEqual(store.grants('reader'), [
          { plugin: 'reader', capability: 'env:HOME', time: '2026-01-01T00:00:01.000Z' },
          { plugin: 'reader', capability: 'fs.read:/etc', time: '2026-01-01T00:00:00.000Z' },
        ]);
        assert.deepEqual(
          store.grants().map((g) => `${g.plugin} ${g.capability}`),
          ['echo childProcess', 'reader env:HOME', 'reader fs.read:/etc'],
        );
        store.commit({
          revoke: { plugin: 'reader', capability: 'env:HOME' },
          audit: audit('revoke', 'reader'),
        });
        const before = store.audit();
        const missing = codeOf(() =>
          store.commit({
            revoke: { plugin: 'reader', capability: 'env:HOME' },
            audit: audit('revoke', 'reader'),
          }),
        );
        assert.equal(missing.code, 'PLUGBAY_INVALID_ARGUMENT');
        assert.equal(missing.details?.rule, 'granted');
        assert.deepEqual(store.audit(), before);
        assert.deepEqual(
          store.grants('reader').map((g) => g.capability),
          ['fs.read:/etc'],
        );
        assert.equal(
          codeOf(() => store.commit({ grant: { plugin: 'reader', capability: '' }, audit: audit('grant') }))
            .details?.field,
          'change.grant.capability',
        );
      }));

    it('writes audit entries with id, time and only the fields given; newest first', () =>
      withStore((store, c) => {
        const first = store.commit({
          route: { plugin: 'greeter', route: { stable: '1.0.0' } },
          audit: audit('route', 'greeter', { reason: 'manual', details: { route: { stable: '1.0.0' } } }),
        });
        assert.deepEqual(first, {
          id: first.id,
          time: '2026-01-01T00:00:00.000Z',
          actor: 'test',
          action: 'route',
          plugin: 'greeter',
          reason: 'manual',
          details: { route: { stable: '1.0.0' } },
        });
        c.tick();
        const second = store.record({
          actor: 'host',
          action: 'crashloop',
          plugin: 'greeter',
          version: '1.1.0',
        });
        assert.ok(second.id > first.id);
        assert.deepEqual(second, {
          id: second.id,
          time: '2026-01-01T00:00:01.000Z',
          actor: 'host',
          action: 'crashloop',
          plugin: 'greeter',
          version: '1.1.0',
        });
        // Actions beyond the known ones are kept as given.
        store.record({ actor: 'watcher', action: 'discovered', plugin: 'echo' });
        assert.deepEqual(
          store.audit().map((e) => e.action),
          ['discovered', 'crashloop', 'route'],
        );
      }));

    it('queries the audit log by plugin, limit and page', () =>
      withStore((store) => {
        for (let i = 0; i < 12; i++)
          store.record(audit('load', i % 3 === 0 ? 'echo' : 'greeter', { version: `1.0.${i}` }));
        assert.equal(store.audit().length, 12);
        const echo = store.audit({ plugin: 'echo' });
        assert.deepEqual(
          echo.map((e) => e.version),
          ['1.0.9', '1.0.6', '1.0.3', '1.0.0'],
        );
        const page1 = store.audit({ plugin: 'greeter', limit: 3 });
        assert.deepEqual(
          page1.map((e) => e.version),
          ['1.0.11', '1.0.10', '1.0.8'],
        );
        const page2 = store.audit({ plugin: 'greeter', limit: 3, before: page1.at(-1)!.id });
        assert.deepEqual(
          page2.map((e) => e.version),
          ['1.0.7', '1.0.5', '1.0.4'],
        );
        assert.deepEqual(store.audit({ plugin: 'nobody' }), []);
        for (const limit of [0, -1, 1.5, 10_001]) {
          assert.equal(codeOf(() => store.audit({ limit })).code, 'PLUGBAY_INVALID_ARGUMENT', String(limit));
        }
      }));

    it('a failing change writes nothing: not the route, the history, nor the audit entry', () =>
      withStore((store) => {
        store.commit({
          route: { plugin: 'greeter', route: { stable: '1.0.0' } },
          activate: { plugin: 'greeter', version: '1.0.0' },
          audit: audit('activate'),
        });
        const before = {
          route: store.route('greeter'),
          history: store.stableHistory('greeter'),
          audit: store.audit(),
        };
        const after = () => ({
          route: store.route('greeter'),
          history: store.stableHistory('greeter'),
          audit: store.audit(),
        });
        // Audit details that cannot be serialised: found after the route and history parts were prepared.
        const bigint = codeOf(() =>
          store.commit({
            route: { plugin: 'greeter', route: { stable: '2.0.0' } },
            activate: { plugin: 'greeter', version: '2.0.0' },
            audit: audit('activate', 'greeter', { details: { size: 1n } }),
          }),
        );
        assert.equal(bigint.code, 'PLUGBAY_INVALID_ARGUMENT');
        assert.deepEqual(after(), before);
        // A rollback whose precondition fails, after a route part.
        assert.equal(
          codeOf(() =>
            store.commit({
              route: { plugin: 'greeter', route: { stable: '0.9.0' } },
              rollback: { plugin: 'greeter', from: '1.0.0' },
              audit: audit('rollback'),
            }),
          ).code,
          'PLUGBAY_INVALID_ARGUMENT',
        );
        assert.deepEqual(after(), before);
        // A route that cannot be serialised.
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        assert.equal(
          codeOf(() => store.commit({ route: { plugin: 'greeter', route: cyclic }, audit: audit('route') }))
            .code,
          'PLUGBAY_INVALID_ARGUMENT',
        );
        assert.deepEqual(after(), before);
      }));

    it('rejects malformed changes naming the field', () =>
      withStore((store) => {
        const cases: [unknown, string][] = [
          [undefined, 'change'],
          [{}, 'change.audit'],
          [{ audit: { action: 'route', plugin: 'p' } }, 'change.audit.actor'],
          [{ audit: { actor: 'a', action: '', plugin: 'p' } }, 'change.audit.action'],
          [{ audit: { actor: 'a', action: 'x', plugin: 'p', details: [] } }, 'change.audit.details'],
          [{ audit: audit('route'), route: { plugin: 'p', route: [] } }, 'change.route.route'],
          [{ audit: audit('route'), route: { route: {} } }, 'change.route.plugin'],
          [{ audit: audit('activate'), activate: { plugin: 'p' } }, 'change.activate.version'],
          [
            {
              audit: audit('x'),
              activate: { plugin: 'p', version: '1.0.0' },
              rollback: { plugin: 'p', from: '1.0.0' },
            },
            'change',
          ],
        ];
        for (const [change, field] of cases) {
          const { code, details } = codeOf(() => store.commit(change as StateChange));
          assert.equal(code, 'PLUGBAY_INVALID_ARGUMENT', JSON.stringify(change));
          assert.equal(details?.field, field, JSON.stringify(change));
        }
        assert.equal(codeOf(() => store.record({ actor: 'a' } as never)).details?.field, 'audit.action');
        assert.deepEqual(store.audit(), []);
      }));

    it('keeps one rollout record per plugin, written by compare-and-set on updatedAt', () =>
      withStore((store, c) => {
        assert.equal(store.rollout('greeter'), undefined);
        assert.deepEqual(store.rollouts(), []);
        const first = store.saveRollout({ plugin: 'greeter', version: '1.1.0', stepIndex: 0 }, null, {
          ...audit('rollout-start'),
          details: { step: 1 },
        });
        assert.equal(first.updatedAt, '2026-01-01T00:00:00.000Z');
        assert.deepEqual(store.rollout('greeter'), first);
        assert.equal(store.audit()[0]?.action, 'rollout-start');
        assert.deepEqual(store.audit()[0]?.details, { step: 1 });
        // Two writes in the same millisecond still get different tokens: a stale writer cannot slip through.
        const second = store.saveRollout({ ...first, stepIndex: 1 }, first.updatedAt);
        assert.equal(second.updatedAt, '2026-01-01T00:00:00.001Z');
        assert.equal(store.audit().length, 1, 'no audit entry unless one is given');
        // A writer holding the old token, or expecting none, is refused and nothing changes.
        for (const expected of [first.updatedAt, null]) {
          const { code, details } = codeOf(() =>
            store.saveRollout({ ...first, stepIndex: 9 }, expected, audit('x')),
          );
          assert.equal(code, 'PLUGBAY_ROLLOUT_CONFLICT');
          assert.equal(details?.field, 'updatedAt');
          assert.deepEqual(details?.current, second);
        }
        assert.equal(
          codeOf(() => store.saveRollout({ plugin: 'echo' }, second.updatedAt)).code,
          'PLUGBAY_ROLLOUT_CONFLICT',
        );
        assert.deepEqual(store.rollout('greeter'), second);
        assert.equal(store.audit().length, 1, 'a refused write writes no audit entry');
        c.tick();
        store.saveRollout({ plugin: 'echo', version: '2.0.0' }, null);
        assert.deepEqual(
          store.rollouts().map((r) => [r.plugin, r.updatedAt]),
          [
            ['echo', '2026-01-01T00:00:01.000Z'],
            ['greeter', '2026-01-01T00:00:00.001Z'],
          ],
        );
        assert.equal(codeOf(() => store.saveRollout({ plugin: '' }, null)).details?.field, 'rollout.plugin');
        assert.equal(codeOf(() => store.saveRollout({ plugin: 'p' }, 5 as never)).details?.field, 'expected');
      }));

    it('close is idempotent; a closed store throws PLUGBAY_CLOSED', () =>
      withStore((store) => {
        store[Symbol.dispose]();
        store.close();
        assert.equal(codeOf(() => store.route('greeter')).code, 'PLUGBAY_CLOSED');
        assert.equal(codeOf(() => store.audit()).code, 'PLUGBAY_CLOSED');
        assert.equal(codeOf(() => store.record(audit('load'))).code, 'PLUGBAY_CLOSED');
        assert.equal(
          codeOf(() => store.commit({ route: { plugin: 'p', route: {} }, audit: audit('route') })).code,
          'PLUGBAY_CLOSED',
        );
      }));
  });
}
