import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import {
  fixture,
  loadOptions,
  noSignal,
  RecordingLog,
  reach,
  rejectionOf,
  testCall,
} from '../test-support.js';
import { createThreadTier, ThreadTier } from './tier.js';

const opened: Instance[] = [];

async function started(name: string, config: unknown = {}, tier = createThreadTier({ unresponsiveMs: 200 })) {
  const log = new RecordingLog();
  const instance = await tier.load(await fixture(name), loadOptions(log));
  opened.push(instance);
  await instance.start({ signal: noSignal, config });
  return { instance, log };
}

after(async () => {
  await Promise.all(opened.map((i) => i.destroy()));
});

/** The error code of a settled answer that was expected to fail. */
function codeOf(settled: PromiseSettledResult<unknown> | undefined): Promise<string> {
  assert.equal(settled?.status, 'rejected');
  return rejectionOf(Promise.reject((settled as PromiseRejectedResult).reason)).then((e) => e.code);
}

describe('thread tier', () => {
  test('rejects bad options naming each option and rule', () => {
    assert.throws(
      () => new ThreadTier({ unresponsiveMs: -1, restart: { crashloopCount: 0 } }),
      (e: PlugbayError) =>
        e.code === 'PLUGBAY_INVALID_ARGUMENT' &&
        /options\.unresponsiveMs/.test(e.message) &&
        /options\.restart\.crashloopCount/.test(e.message),
    );
  });

  test('loads, starts and calls; exports the functions the code defines', async () => {
    const { instance, log } = await started('basic', { greeting: 'hi' });
    assert.equal(instance.tier, 'thread');
    assert.equal(instance.state, 'ready');
    assert.ok(instance.exportedFunctions.includes('echo'));
    assert.deepEqual(await instance.call('echo', { a: [1, 2] }, testCall()), { a: [1, 2] });
    assert.equal(await instance.call('add', { a: 2, b: 3 }, testCall()), 5);
    assert.deepEqual(await instance.call('config', null, testCall()), { greeting: 'hi' });
    assert.equal((await log.waitFor('started')).fields?.config !== undefined, true);
  });

  test("the plugin's stdout and stderr lines become its log lines", async () => {
    const { instance, log } = await started('basic');
    await instance.call('print', 'x', testCall());
    assert.deepEqual(await log.waitFor('out: x'), {
      level: 'info',
      msg: 'out: x',
      fields: { stream: 'stdout' },
    });
    assert.deepEqual(await log.waitFor('err: x'), {
      level: 'warn',
      msg: 'err: x',
      fields: { stream: 'stderr' },
    });
  });

  test('a throw in the plugin timer kills the worker: in-flight calls crash, the worker restarts', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 1 } });
    const { instance } = await started('basic', {}, tier);
    assert.equal(await instance.call('count', null, testCall()), 1);
    assert.equal(await instance.call('count', null, testCall()), 2);
    const exit = once(instance, 'exit');
    const inflight = instance.call('waitForAbort', null, testCall());
    assert.equal(await instance.call('throwsInTimer', null, testCall()), 'scheduled');
    const crashed = await rejectionOf(inflight);
    assert.equal(crashed.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(crashed.retryable, true);
    assert.equal(crashed.details?.reason, 'uncaught-exception');
    assert.equal(crashed.plugin, 'basic');
    const [exitError] = (await exit) as [PlugbayError];
    assert.equal(exitError.code, 'PLUGBAY_PLUGIN_CRASHED');
    // a call made while the worker restarts waits for the new worker
    assert.equal(instance.state, 'degraded');
    assert.equal(await instance.call('add', { a: 2, b: 2 }, testCall()), 4);
    assert.equal(instance.state, 'ready');
    // a new worker: module state starts afresh
    assert.equal(await instance.call('count', null, testCall()), 1);
  });

  test('calls the dying worker never started go to the restarted worker; started ones fail', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 1 } });
    const { instance, log } = await started('basic', {}, tier);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const blocked = rejectionOf(instance.call('blockThenCrash', flag, testCall()));
    // queued behind the blocked handler: the worker dies before it reads any of them
    const queued = Array.from({ length: 20 }, (_, i) => instance.call('echo', i, testCall()));
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const crashed = await blocked;
    assert.equal(crashed.code, 'PLUGBAY_PLUGIN_CRASHED', 'the call the plugin had started fails');
    assert.deepEqual(
      await Promise.all(queued),
      Array.from({ length: 20 }, (_, i) => i),
    );
    const requeued = await log.waitFor('20 calls the worker had not started wait for its restart');
    assert.equal(requeued.fields?.calls, 20);
  });

  test('an unawaited rejection and process.exit() also end only the worker', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 1 } });
    const { instance } = await started('basic', {}, tier);
    let exit = once(instance, 'exit');
    await instance.call('rejectsUnawaited', null, testCall());
    assert.equal(((await exit)[0] as PlugbayError).details?.reason, 'uncaught-exception');
    await reach(instance, 'ready');
    exit = once(instance, 'exit');
    const exited = await rejectionOf(instance.call('exit', null, testCall()));
    assert.equal(exited.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(exited.details?.reason, 'exit');
    assert.equal(exited.details?.exitCode, 3);
    await exit;
    assert.equal(await instance.call('echo', 'back', testCall()), 'back');
  });

  test('an aborted call cancels the plugin signal; a responsive worker is kept', async () => {
    const { instance, log } = await started('basic', {}, createThreadTier({ unresponsiveMs: 5000 }));
    let exits = 0;
    instance.on('exit', () => exits++);
    assert.equal(await instance.call('count', null, testCall()), 1);
    const call = testCall();
    const answer = instance.call('waitForAbort', null, call);
    await log.waitFor('waiting');
    call.expire();
    const error = await rejectionOf(answer);
    assert.equal(error.code, 'PLUGBAY_TIMEOUT');
    const aborted = await log.waitFor('aborted');
    assert.equal(aborted.fields?.code, 'PLUGBAY_TIMEOUT');
    assert.equal(await instance.call('count', null, testCall()), 2, 'same worker: its module state goes on');
    assert.equal(instance.state, 'ready');
    assert.equal(exits, 0);
  });

  test('a busy loop is terminated after the abort and the worker restarts', async () => {
    const tier = createThreadTier({ unresponsiveMs: 100, restart: { initialDelayMs: 1 } });
    const { instance, log } = await started('basic', {}, tier);
    const exit = once(instance, 'exit');
    const call = testCall();
    const answer = instance.call('spin', null, call);
    await log.waitFor('spinning');
    call.expire();
    assert.equal((await rejectionOf(answer)).code, 'PLUGBAY_TIMEOUT');
    const [exitError] = (await exit) as [PlugbayError];
    assert.equal(exitError.details?.reason, 'unresponsive');
    assert.equal(await instance.call('add', { a: 20, b: 22 }, testCall()), 42);
    assert.equal(instance.state, 'ready');
  });

  test('calls waiting for a restart are bounded by their own deadline', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 60_000 } });
    const { instance } = await started('basic', {}, tier);
    const exit = once(instance, 'exit');
    await instance.call('throwsInTimer', null, testCall());
    await exit;
    assert.equal(instance.state, 'degraded');
    const call = testCall();
    assert.equal((await instance.health(noSignal)).status, 'degraded');
    const waiting = instance.call('echo', 1, call);
    call.expire();
    assert.equal((await rejectionOf(waiting)).code, 'PLUGBAY_TIMEOUT');
    // destroy() fails whoever still waits
    const other = rejectionOf(instance.call('echo', 2, testCall()));
    await instance.destroy();
    assert.equal((await other).code, 'PLUGBAY_CLOSED');
  });

  test('crashing again and again ends in crashloop; waiting calls fail', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 1, maxDelayMs: 1, crashloopCount: 3 } });
    const log = new RecordingLog();
    const instance = await tier.load(await fixture('basic'), loadOptions(log));
    opened.push(instance);
    const crashloop = reach(instance, 'crashloop');
    await instance.start({ signal: noSignal, config: { crashAfterStart: true } });
    await crashloop;
    const error = await rejectionOf(instance.call('echo', 1, testCall()));
    assert.equal(error.code, 'PLUGBAY_PLUGIN_CRASHED'); // as the process tier answers, and docs/process-tier.md says
    assert.equal(error.details?.state, 'crashloop');
    assert.equal((await instance.health(noSignal)).status, 'failing');
  });

  test('a restarted worker whose start() fails counts as another crash (reason start-failed)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugbay-thread-'));
    const marker = join(dir, 'fail-start');
    try {
      const tier = createThreadTier({ restart: { initialDelayMs: 20 } });
      const { instance } = await started('basic', { failStartIfExists: marker }, tier);
      const reasons: unknown[] = [];
      const startFailed = new Promise<void>((resolve) => {
        instance.on('exit', (error) => {
          reasons.push(error.details?.reason);
          if (error.details?.reason !== 'start-failed') return;
          rmSync(marker); // synchronously, before the next restart is even scheduled
          resolve();
        });
      });
      writeFileSync(marker, '');
      await instance.call('throwsInTimer', null, testCall());
      await startFailed;
      await reach(instance, 'ready');
      assert.deepEqual(reasons, ['uncaught-exception', 'start-failed']);
      assert.equal(await instance.call('echo', 'again', testCall()), 'again');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a module that is no plugin fails to load with PLUGBAY_LOAD_FAILED', async () => {
    const error = await rejectionOf(createThreadTier().load(await fixture('broken'), loadOptions()));
    assert.equal(error.code, 'PLUGBAY_LOAD_FAILED');
    assert.equal(error.plugin, 'broken');
  });

  test('values structured clone refuses give PLUGBAY_INVALID_INPUT / PLUGBAY_INVALID_OUTPUT', async () => {
    const { instance } = await started('basic');
    const input = await rejectionOf(instance.call('echo', { f: () => 1 }, testCall()));
    assert.equal(input.code, 'PLUGBAY_INVALID_INPUT');
    const output = await rejectionOf(instance.call('uncloneable', null, testCall()));
    assert.equal(output.code, 'PLUGBAY_INVALID_OUTPUT');
    assert.equal(output.plugin, 'basic');
    assert.equal(await instance.call('echo', 1, testCall()), 1);
  });

  test('calls made while one is in flight travel together; a bad value fails only its call; a call aborted before it left never runs', async () => {
    const { instance } = await started('basic');
    const first = instance.call('echo', 0, testCall()); // nothing in flight: posted at once
    const aborted = testCall();
    const batch = [
      instance.call('echo', 1, testCall()),
      instance.call('echo', { f: () => 1 }, testCall()),
      instance.call('uncloneable', null, testCall()),
      instance.call('count', null, aborted),
      instance.call('echo', 2, testCall()),
    ];
    aborted.expire(); // still in the outbox: the batch leaves at the end of this turn of the event loop
    const [one, bad, badOut, cancelled, two] = await Promise.allSettled(batch);
    assert.equal(await first, 0);
    assert.deepEqual(one, { status: 'fulfilled', value: 1 });
    assert.equal(await codeOf(bad), 'PLUGBAY_INVALID_INPUT');
    assert.equal(await codeOf(badOut), 'PLUGBAY_INVALID_OUTPUT');
    assert.equal(await codeOf(cancelled), 'PLUGBAY_TIMEOUT');
    assert.deepEqual(two, { status: 'fulfilled', value: 2 });
    assert.equal(await instance.call('count', null, testCall()), 1, 'the aborted count never ran');
  });

  test('an answer leaves before the next call of its batch starts: a stuck call later in the batch neither holds nor loses it', async () => {
    const { instance } = await started('quiet');
    const inFlight = Promise.resolve(instance.call('busy', 50, testCall())); // posted at once
    const echoed = Promise.resolve(instance.call('echo', 1, testCall())); // the outbox
    const spinCall = testCall();
    const spinning = Promise.resolve(instance.call('quietSpin', null, spinCall)); // same batch, after echo
    spinning.catch(() => {});
    inFlight.catch(() => {});
    assert.equal(await echoed, 1, 'answered while quietSpin still runs');
    spinCall.expire(); // the worker never answers the ping and is killed
    assert.equal((await rejectionOf(spinning)).code, 'PLUGBAY_TIMEOUT');
  });

  test('a call whose context was aborted before it was sent never runs', async () => {
    const { instance } = await started('basic');
    const call = testCall();
    call.expire();
    assert.equal((await rejectionOf(instance.call('count', null, call))).code, 'PLUGBAY_TIMEOUT');
    assert.equal(await instance.call('count', null, testCall()), 1, 'the aborted count never ran');
  });

  test('aborting the load terminates the worker and gives PLUGBAY_LOAD_FAILED', async () => {
    const controller = new AbortController();
    const loading = createThreadTier().load(
      await fixture('basic'),
      loadOptions(new RecordingLog(), controller.signal),
    );
    controller.abort(new Error('host shutting down'));
    const error = await rejectionOf(loading);
    assert.equal(error.code, 'PLUGBAY_LOAD_FAILED');
  });

  test('a worker that dies before start() fails the instance; start() gives PLUGBAY_START_FAILED', async () => {
    const instance = await createThreadTier().load(await fixture('dies-on-import'), loadOptions());
    opened.push(instance);
    await reach(instance, 'failed');
    const error = await rejectionOf(instance.start({ signal: noSignal, config: {} }));
    assert.equal(error.code, 'PLUGBAY_START_FAILED');
    assert.equal((error.cause as PlugbayError).code, 'PLUGBAY_PLUGIN_CRASHED');
  });

  test('the worker sees only the environment variables the manifest declares (unless env: inherit)', async () => {
    process.env.PLUGBAY_TEST_DECLARED = 'visible';
    process.env.PLUGBAY_TEST_UNDECLARED = 'secret';
    try {
      const declared = await started('basic');
      assert.deepEqual(await declared.instance.call('env', null, testCall()), {
        declared: 'visible',
        undeclared: null,
      });
      const inherit = await started('basic', {}, createThreadTier({ env: 'inherit' }));
      assert.deepEqual(await inherit.instance.call('env', null, testCall()), {
        declared: 'visible',
        undeclared: 'secret',
      });
    } finally {
      delete process.env.PLUGBAY_TEST_DECLARED;
      delete process.env.PLUGBAY_TEST_UNDECLARED;
    }
  });

  test('close() aborts a stop() that overruns its timeout', async () => {
    const { instance, log } = await started('basic', { hangInStop: true });
    await instance.close({ timeoutMs: 50 });
    assert.equal(instance.state, 'closed');
    // the worker is gone, so the plugin may not have logged its abort; if it did, it saw the timeout code
    const line = log.lines.find((l) => l.msg === 'stop aborted');
    if (line !== undefined) assert.equal(line.fields?.code, 'PLUGBAY_TIMEOUT');
  });

  test('memoryMb caps the worker heap: running out gives PLUGBAY_PLUGIN_CRASHED (out-of-memory)', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 1 } });
    const { instance } = await started('hog', {}, tier);
    const error = await rejectionOf(instance.call('hog', null, testCall()));
    assert.equal(error.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(error.details?.reason, 'out-of-memory');
    assert.equal(error.plugin, 'hog');
    assert.equal(await instance.call('echo', 'alive', testCall()), 'alive');
  });

  test('memoryMb also caps Buffers: a worker holding more is stopped (out-of-memory) long before 1 GB', async () => {
    const tier = createThreadTier({ restart: { initialDelayMs: 1 } });
    const { instance } = await started('hog', {}, tier);
    const rssBefore = process.memoryUsage.rss();
    const error = await rejectionOf(instance.call('buffers', 1024, testCall()));
    const rssGrowth = process.memoryUsage.rss() - rssBefore;
    assert.equal(error.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(error.details?.reason, 'out-of-memory');
    // memoryMb is 24: the worker is stopped at its first check over it (16 MB steps), far from 1 GB
    const external = error.details?.externalBytes as number;
    assert.ok(external > 24 * 2 ** 20 && external < 128 * 2 ** 20, `externalBytes ${external}`);
    assert.ok(rssGrowth < 256 * 2 ** 20, `host RSS grew ${rssGrowth} bytes`);
    assert.equal(await instance.call('echo', 'alive', testCall()), 'alive');
  });

  test('Buffers that are garbage do not count: churning through 1 GB under memoryMb 24 succeeds', async () => {
    const { instance } = await started('hog');
    assert.equal(await instance.call('churn', 1024, testCall()), 1024 * 2 ** 20);
    assert.equal(instance.state, 'ready');
  });
});
