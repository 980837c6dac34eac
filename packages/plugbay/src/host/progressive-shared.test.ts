// Two hosts on one PostgreSQL store: a rollout started on one is timed by the other once it catches up, and a
// judgement that lost the compare-and-set changes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { PostgresStateStore } from '../store/postgres.js';
import { HandScheduler } from '../test-support/hand-scheduler.js';
import { tempDir, writeSvcVersion } from '../test-support/plugins.js';
import { postgresSkipReason, startTestPostgres, type TestPostgres } from '../test-support/postgres.js';
import { createInlineTier } from '../tiers/index.js';
import { createHost } from './host.js';

const skip = await postgresSkipReason();
const quiet = pino({ level: 'silent' });
let server: TestPostgres;
before(async () => {
  if (skip === undefined) server = await startTestPostgres();
});
after(() => server?.close());

test('a second gateway on the shared store times a rollout started on the first, and drops it once aborted', {
  skip,
}, async (t) => {
  const url = await server.createDatabase(`rollouts_${process.pid}`);
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  await writeSvcVersion(root, '1.1.0');
  const gateway = async () => {
    const store = new PostgresStateStore({ url });
    const scheduler = new HandScheduler();
    const host = createHost({
      logger: quiet,
      store,
      tierFor: () => 'inline',
      tiers: { inline: createInlineTier() },
      rolloutScheduler: scheduler,
    });
    await host.loadDirectory(root);
    t.after(async () => {
      await host.close();
      store.close();
    });
    return { host, scheduler };
  };
  const a = await gateway();
  const b = await gateway();
  await a.host.rollouts.start({
    plugin: 'svc',
    version: '1.1.0',
    stable: '1.0.0',
    steps: [10, 100],
    intervalMs: 1000,
  });
  assert.equal(a.scheduler.pending.size, 1);
  assert.equal(b.scheduler.pending.size, 0, 'b has not heard of it yet');
  assert.deepEqual(b.host.rollouts.refreshFromStore('svc'), ['svc']);
  assert.equal(b.scheduler.pending.size, 1);
  assert.deepEqual(b.host.rollouts.refreshFromStore(), ['svc'], 'a second catch-up adds no second timer');
  assert.equal(b.scheduler.pending.size, 1);
  // b, holding the record it read, loses to a's abort: the compare-and-set refuses its write.
  const stale = b.host.rollouts.get('svc')!;
  await a.host.rollouts.abort('svc');
  b.host.rollouts.refreshFromStore('svc');
  assert.equal(b.scheduler.pending.size, 0, 'aborted elsewhere: no timer here');
  const store = new PostgresStateStore({ url });
  t.after(() => store.close());
  assert.throws(
    () => store.saveRollout({ ...stale, state: 'running' }, stale.updatedAt),
    (err: { code: string }) => err.code === 'PLUGBAY_ROLLOUT_CONFLICT',
  );
  assert.equal(b.host.rollouts.get('svc')?.state, 'aborted');
});
