// The engine on an inline host: a step without evidence is extended (never promoted), then passes once calls come.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { HandScheduler } from '../test-support/hand-scheduler.js';
import { tempDir, writeSvcVersion } from '../test-support/plugins.js';
import { createInlineTier } from '../tiers/index.js';
import { createHost } from './host.js';

test('a quiet step waits for minCalls: its end is extended by one interval and recorded, then it passes and promotes', async (t) => {
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  await writeSvcVersion(root, '1.1.0');
  const sched = new HandScheduler();
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tierFor: () => 'inline',
    tiers: { inline: createInlineTier() },
    rolloutScheduler: sched,
  });
  t.after(() => host.close());
  await host.loadDirectory(root);
  const started = await host.rollouts.start({
    plugin: 'svc',
    version: '1.1.0',
    stable: '1.0.0',
    steps: [50, 100],
    intervalMs: 100,
    thresholds: { minCalls: 20 },
  });
  // Early checks find nothing to judge; the judgement at the step's end (100 ms on) has no canary calls.
  while (!host.rollouts.get('svc')!.history.some((d) => d.verdict === 'wait')) {
    assert.equal(sched.pending.size, 1);
    await sched.fire();
  }
  const waited = host.rollouts.get('svc')!;
  const wait = waited.history.at(-1)!;
  assert.equal(waited.state, 'running');
  assert.equal(waited.stepIndex, 0);
  assert.match(wait.reason, /no canary calls yet/);
  assert.equal(waited.stepEndsAt, wait.at + 100, 'extended by one interval from the judgement');
  assert.equal(waited.stepStartedAt, started.stepStartedAt, 'the window keeps its start: evidence adds up');
  assert.equal(sched.pending.size, 1);
  for (let i = 0; i < 200; i++) await host.call('svc', 'who', {}, { key: `k${i}` });
  while (host.rollouts.get('svc')!.state === 'running') await sched.fire();
  const done = host.rollouts.get('svc')!;
  assert.equal(done.state, 'promoted');
  assert.deepEqual(
    done.history.map((d) => d.verdict),
    ['start', 'wait', 'pass', 'promote'],
  );
  assert.equal(host.route('svc')?.stable, '1.1.0');
});
