// Calm hot swaps (issue 21): pending slots are reused, batches are bounded both ways, and the rollout warms the
// incoming version before the route flips without ever failing a call or the switch. Real workers throughout.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Instance } from '../../core/types.js';
import { createHost } from '../../host/host.js';
import type { PluginHost } from '../../host/types.js';
import { manifest, tempDir, writePlugin } from '../../test-support/plugins.js';
import { PendingSlots } from './pending-slots.js';
import { maxBatch } from './protocol.js';
import { createThreadTier } from './tier.js';

const quiet = pino({ level: 'silent' });
const any = {};

test('pending slots: ids cycling through a window are served by the same slot objects, without growth', () => {
  const slots = new PendingSlots(64);
  const first = slots.add(1);
  let next = 2;
  let taken = 1;
  for (let i = 0; i < 63; i++) slots.add(next++); // 64 live
  for (let round = 0; round < 10_000; round++) {
    assert.equal(slots.take(taken)?.id, 0, 'taken slots are marked free');
    taken++;
    const slot = slots.add(next);
    if ((next & 63) === 1) assert.equal(slot, first, 'slot of id 1 is reused by id 1 + 64k');
    next++;
  }
  assert.equal(slots.capacity, 64);
  assert.equal(slots.size, 64);
});

test('pending slots: a request far behind the rest overflows instead of growing the ring; drain is in id order', () => {
  const slots = new PendingSlots(8);
  slots.add(1).fn = 'slow';
  for (let id = 2; id < 1_000; id++) {
    slots.add(id);
    assert.ok(slots.has(id));
    if (id > 2) assert.ok(slots.take(id - 1) !== undefined);
  }
  assert.equal(slots.capacity, 8, 'a few live requests never grow the ring');
  assert.equal(slots.take(1)?.fn, 'slow');
  assert.equal(slots.size, 1);
  for (let id = 2_000; id < 2_100; id++) slots.add(id); // 101 live: the ring grows
  assert.ok(slots.capacity >= 128);
  const drained = slots.drain().map((p) => p.id);
  assert.deepEqual(
    drained,
    [...drained].sort((a, b) => a - b),
  );
  assert.equal(drained.length, 101);
  assert.equal(slots.size, 0);
});

/** Versions of `svc` (thread tier) with a gate: `wait` answers when `release` is called, all in one go. */
async function writeSvc(root: string, versions: string[]): Promise<void> {
  for (const version of versions) {
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({
        name: 'svc',
        version,
        functions: {
          who: { input: any, output: any },
          wait: { input: any, output: any },
          release: { input: any, output: any },
          perRun: { input: any, output: any },
          maxPerRun: { input: any, output: any },
        },
      }),
      files: {
        'index.mjs': `let open; const gate = new Promise((r) => (open = r));
        let run = 0, max = 0, scheduled = false;
        export default { name: 'svc', version: '${version}', functions: {
          who: { input: {}, output: {}, handler: () => '${version}' },
          wait: { input: {}, output: {}, handler: () => gate },
          release: { input: {}, output: {}, handler: () => { open('done'); return 'released'; } },
          // Calls of one Calls message run back to back, with no microtask checkpoint between them.
          perRun: { input: {}, output: {}, handler: () => {
            run++;
            if (!scheduled) { scheduled = true; queueMicrotask(() => { max = Math.max(max, run); run = 0; scheduled = false; }); }
            return run;
          } },
          maxPerRun: { input: {}, output: {}, handler: () => max },
        } };`,
      },
    });
  }
}

function newHost(t: Parameters<typeof tempDir>[0], load?: (i: Instance) => Instance): PluginHost {
  const thread = createThreadTier();
  const tier =
    load === undefined
      ? thread
      : {
          kind: 'thread' as const,
          load: async (...a: Parameters<typeof thread.load>) => load(await thread.load(...a)),
        };
  const h = createHost({ logger: quiet, tiers: { thread: tier }, tierFor: () => 'thread' });
  t.after(() => h.close());
  return h;
}

test('a burst of 300 calls reaches the worker in messages of at most 64 calls', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, ['1.0.0']);
  const h = newHost(t);
  await h.loadDirectory(root);
  const answers = await Promise.all(Array.from({ length: 300 }, () => h.call('svc', 'perRun', {})));
  assert.equal(answers.length, 300);
  const max = (await h.call('svc', 'maxPerRun', {})) as number;
  assert.ok(max > 1, `calls made in one turn are batched (most per message: ${max})`);
  assert.ok(max <= maxBatch, `at most ${maxBatch} calls per message, saw ${max}`);
});

test('300 answers ready at once come back in messages of at most 64', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, ['1.0.0']);
  const h = newHost(t);
  await h.loadDirectory(root);
  // Answers settled by one message are handled in one microtask checkpoint on the host: count them per checkpoint.
  let group = 0;
  let largest = 0;
  let scheduled = false;
  const seen = () => {
    group++;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      largest = Math.max(largest, group);
      group = 0;
      scheduled = false;
    });
  };
  const waits = Array.from({ length: 300 }, () => h.call('svc', 'wait', {}).then(seen));
  assert.equal(await h.call('svc', 'release', {}), 'released');
  await Promise.all(waits);
  assert.ok(largest > 1, `answers ready together are batched (largest: ${largest})`);
  assert.ok(largest <= maxBatch, `at most ${maxBatch} answers per message, saw ${largest}`);
});

/** Subscribes to plugbay:route:warm for the test; each message with the stable route at that moment. */
function warmEvents(t: Parameters<typeof tempDir>[0], h: PluginHost) {
  const events: { message: Record<string, unknown>; stableThen: string | undefined }[] = [];
  const listener = (message: unknown) =>
    events.push({ message: message as Record<string, unknown>, stableThen: h.route('svc')?.stable });
  subscribe('plugbay:route:warm', listener);
  t.after(() => unsubscribe('plugbay:route:warm', listener));
  return events;
}

test('activate warms the idle incoming version before the route flips; no call fails meanwhile', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, ['1.0.0', '1.1.0']);
  const h = newHost(t);
  await h.loadDirectory(root);
  await h.setRoute('svc', { stable: '1.0.0', fallback: ['1.0.0', '1.1.0'] });
  const events = warmEvents(t, h);
  let calls = 0;
  let stop = false;
  const lane = async () => {
    while (!stop || calls < 1_000) {
      await h.call('svc', 'who', {});
      calls++;
    }
  };
  const lanes = Promise.all(Array.from({ length: 64 }, lane));
  while (calls < 1_000) await new Promise((r) => setImmediate(r));
  await h.activate('svc', '1.1.0');
  // straight back: 1.0.0 answered > 512 calls just now, so its warm-up has nothing to do
  await h.rollback('svc');
  stop = true;
  await lanes; // any failed call rejects here
  assert.equal(events.length, 2);
  const [toNew, back] = events as [(typeof events)[0], (typeof events)[0]];
  assert.equal(toNew.message.version, '1.1.0');
  assert.equal(toNew.message.action, 'activate');
  assert.equal(toNew.stableThen, '1.0.0', 'the warm-up runs before the flip');
  const roundTrips = toNew.message.roundTrips as number;
  assert.ok(roundTrips > 0 && roundTrips <= 512, `bounded warm-up: ${roundTrips} round trips`);
  assert.equal(toNew.message.error, undefined);
  assert.equal(back.message.version, '1.0.0');
  assert.equal(back.message.action, 'rollback');
  assert.equal(back.stableThen, '1.1.0');
  assert.equal(back.message.roundTrips, 0, 'a worker that is serving traffic is not warmed again');
  assert.equal(h.route('svc')?.stable, '1.0.0');
});

test('setRoute warms a version the route newly sends traffic to', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, ['1.0.0', '1.1.0']);
  const h = newHost(t);
  await h.load(join(root, 'svc@1.0.0'));
  await h.setRoute('svc', { stable: '1.0.0' });
  await h.load(join(root, 'svc@1.1.0'));
  const events = warmEvents(t, h);
  await h.setRoute('svc', { stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } });
  assert.deepEqual(
    events.map((e) => [e.message.version, e.message.action, e.stableThen]),
    [['1.1.0', 'route', '1.0.0']],
  );
  assert.ok((events[0]!.message.roundTrips as number) > 0);
});

test('a failing warm-up is reported on the channel and never fails the switch or a call', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, ['1.0.0', '1.1.0']);
  const h = newHost(t, (instance) => {
    if (instance.plugin.manifest.version === '1.1.0')
      instance.warm = () => Promise.reject(new Error('warm-up refused'));
    return instance;
  });
  await h.loadDirectory(root);
  await h.setRoute('svc', { stable: '1.0.0', fallback: ['1.0.0', '1.1.0'] });
  const events = warmEvents(t, h);
  const during = Array.from({ length: 64 }, () => h.call('svc', 'who', {}));
  const result = await h.activate('svc', '1.1.0');
  assert.equal(result.version, '1.1.0');
  await Promise.all(during);
  assert.equal(await h.call('svc', 'who', {}), '1.1.0');
  assert.equal(events.length, 1);
  assert.equal((events[0]!.message.error as Error).message, 'warm-up refused');
  assert.equal(events[0]!.message.roundTrips, 0);
});
