import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PlugbayError } from '../core/errors.js';
import { fastRestart, tierContract } from '../tiers/contract.test.shared.js';
import { fixture, loadOptions, noSignal, rejectionOf, testCall } from '../tiers/test-support.js';
import { createMemoryTier, type MemoryCallContext } from './memory-tier.js';

/** The contract plugin's functions as handlers (test-fixtures/tiers/contract, whose manifest the tier is given). */
const handlers = {
  echo: (input: unknown) => input,
  fail: (input: unknown) => {
    if (input === 'coded')
      throw Object.assign(new Error('bad argument'), { code: 'PLUGBAY_INVALID_ARGUMENT' });
    if (input === 'reject') return Promise.reject(new Error('rejected'));
    throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
  },
  log: (_input: unknown, ctx: MemoryCallContext) => {
    ctx.log.info('hello', { n: 1 });
    return { traceId: ctx.traceId ?? null, key: ctx.key ?? null };
  },
  hang: (input: unknown, ctx: MemoryCallContext) => {
    ctx.log.info('in flight', { id: input });
    return new Promise(() => {});
  },
  slow: (input: unknown, ctx: MemoryCallContext) => {
    ctx.log.info('in flight', { id: input });
    return new Promise((resolve) => setImmediate(resolve, input));
  },
  crash: (_input: unknown, ctx: MemoryCallContext) => ctx.crash(),
};

const tier = createMemoryTier({ plugins: { contract: handlers }, restart: fastRestart });

tierContract('memory', {
  fns: { echo: 'echo', fail: 'fail', log: 'log', hang: 'hang', slow: 'slow', crash: 'crash' },
  pluginCodes: true,
  stops: false, // handlers only: no stop() or health() (setHealth() decides it)
  pluginHealth: false,
  concurrent: true,
  exitOnCrash: true,
  reportsLeaks: false,
  skip: { runaway: 'handlers run on the test thread: nothing could stop one that never yields' },
  setup: async () => ({ tier, plugin: await fixture('contract') }),
});

describe('memory tier controls', () => {
  async function started() {
    const t = createMemoryTier({ plugins: { 'contract@1.0.0': handlers }, kind: 'inline' });
    const instance = await t.load(await fixture('contract'), loadOptions());
    await instance.start({ signal: noSignal, config: {} });
    return { t, instance };
  }

  test('a plugin without handlers fails to load; the kind is the one asked for', async () => {
    const t = createMemoryTier({ plugins: {} });
    assert.equal(t.kind, 'thread');
    const error = await rejectionOf(t.load(await fixture('contract'), loadOptions()));
    assert.deepEqual([error.code, error.plugin], ['PLUGBAY_LOAD_FAILED', 'contract']);
    const { t: inline, instance } = await started();
    assert.deepEqual([inline.kind, instance.tier], ['inline', 'inline']);
    assert.equal(inline.instance('contract@1.0.0'), instance);
    await inline.close();
    assert.equal(instance.state, 'closed');
  });

  test('failNext and holdNext decide the next calls, in order; inflight counts what is held', async () => {
    const { instance } = await started();
    instance.failNext('PLUGBAY_TIMEOUT');
    const first = instance.holdNext();
    const second = instance.holdNext();
    const third = instance.holdNext();
    const failed = rejectionOf(instance.call('echo', 0, testCall()));
    const calls = [1, 2, 3].map((i) => instance.call('echo', i, testCall()));
    await instance.whenInFlight(3);
    assert.equal((await failed).code, 'PLUGBAY_TIMEOUT');
    assert.deepEqual(await first.arrived, { fn: 'echo', input: 1 });
    assert.equal(instance.inflight, 3);
    first.release();
    second.resolve('chosen by the test');
    third.reject(new PlugbayError('PLUGBAY_INVALID_OUTPUT', 'rejected by the test'));
    assert.equal(await calls[0], 1);
    assert.equal(await calls[1], 'chosen by the test');
    assert.equal((await rejectionOf(calls[2])).code, 'PLUGBAY_INVALID_OUTPUT');
    assert.equal(instance.inflight, 0);
    assert.deepEqual(
      instance.calls.map((c) => c.input),
      [0, 1, 2, 3],
    );
    await instance.destroy();
  });

  test('a crash while a call waits for the restart leaves that call to the restarted instance', async () => {
    const { instance } = await started();
    instance.crash();
    assert.equal(instance.state, 'degraded');
    const waiting = instance.call('echo', 'after', testCall());
    instance.crash(); // degraded already: the waiting call is not in flight, it waits on
    assert.equal(await waiting, 'after');
    assert.equal(instance.state, 'ready');
    await instance.destroy();
  });
});
