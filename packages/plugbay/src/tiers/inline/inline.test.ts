import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { fixture, loadOptions, noSignal, RecordingLog, rejectionOf, testCall } from '../test-support.js';
import { createInlineTier, InlineTier } from './tier.js';

const opened: Instance[] = [];
const tier = createInlineTier();

async function started(name: string, config: unknown = {}) {
  const log = new RecordingLog();
  const instance = await tier.load(await fixture(name), loadOptions(log));
  opened.push(instance);
  await instance.start({ signal: noSignal, config });
  return { instance, log };
}

after(async () => {
  await Promise.all(opened.map((i) => i.destroy()));
});

describe('inline tier', () => {
  test('rejects bad options naming the option and rule', () => {
    assert.throws(
      () => new InlineTier({ attribution: 'yes' as 'off' }),
      (e: PlugbayError) => e.code === 'PLUGBAY_INVALID_ARGUMENT' && /options\.attribution/.test(e.message),
    );
  });

  test('loads, starts and calls; exports the functions the code defines', async () => {
    const { instance, log } = await started('basic', { greeting: 'hi' });
    assert.equal(instance.tier, 'inline');
    assert.equal(instance.state, 'ready');
    assert.ok(instance.exportedFunctions.includes('add'));
    const input = { a: [1, 2] };
    assert.equal(await instance.call('echo', input, testCall()), input, 'no copy on the host thread');
    assert.equal(await instance.call('add', { a: 2, b: 3 }, testCall()), 5);
    assert.deepEqual(await instance.call('config', null, testCall()), { greeting: 'hi' });
    assert.ok(await log.waitFor('started'));
  });

  test('a handler that throws or rejects gives PLUGBAY_PLUGIN_ERROR with plugin and version; still serves', async () => {
    const { instance } = await started('basic');
    const thrown = await rejectionOf(instance.call('throws', null, testCall()));
    assert.equal(thrown.code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(thrown.plugin, 'basic');
    assert.equal(thrown.version, '1.2.3');
    assert.equal(thrown.details?.pluginCode, 'E_BOOM');
    assert.ok(thrown.cause instanceof Error);
    const coded = await rejectionOf(instance.call('throws', 'coded', testCall()));
    assert.equal(coded.code, 'PLUGBAY_INVALID_ARGUMENT');
    assert.equal(coded.plugin, 'basic');
    const rejected = await rejectionOf(instance.call('rejects', null, testCall()));
    assert.equal(rejected.code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(rejected.version, '1.2.3');
    const unknown = await rejectionOf(instance.call('nope', null, testCall()));
    assert.equal(unknown.code, 'PLUGBAY_UNKNOWN_FUNCTION');
    assert.equal(await instance.call('add', { a: 1, b: 1 }, testCall()), 2);
    assert.equal(instance.state, 'ready');
  });

  test('the call ctx.signal aborts when the host aborts the call', async () => {
    const { instance, log } = await started('basic');
    const call = testCall();
    const answer = instance.call('waitForAbort', null, call);
    await log.waitFor('waiting');
    call.expire();
    // The tier rejects the answer at once (settlesOnAbort), and the plugin saw the abort through its signal.
    await assert.rejects(answer as Promise<unknown>, { code: 'PLUGBAY_TIMEOUT' });
    assert.equal((await log.waitFor('aborted')).fields?.code, 'PLUGBAY_TIMEOUT');
  });

  test('loading the same entry again warns that the module cannot be unloaded', async () => {
    const first = await started('basic');
    const second = await started('basic');
    const warns = [...first.log.lines, ...second.log.lines].filter((l) => l.level === 'warn');
    assert.ok(
      warns.some((l) => l.fields?.entry !== undefined),
      'a warning naming the entry',
    );
    assert.ok(
      second.log.lines.some((l) => l.level === 'warn'),
      'the second load warns',
    );
  });

  test('a module that is no plugin fails to load with PLUGBAY_LOAD_FAILED', async () => {
    const error = await rejectionOf(tier.load(await fixture('broken'), loadOptions()));
    assert.equal(error.code, 'PLUGBAY_LOAD_FAILED');
    assert.equal(error.plugin, 'broken');
  });

  test('close() aborts the stop() signal when it overruns, and still closes', async () => {
    const { instance, log } = await started('basic', { hangInStop: true });
    await instance.close({ timeoutMs: 20 });
    assert.equal(instance.state, 'closed');
    assert.equal((await log.waitFor('stop aborted')).fields?.code, 'PLUGBAY_TIMEOUT');
  });

  test('attribution off installs no process listeners', async () => {
    const before = process.listenerCount('uncaughtException');
    const instance = await createInlineTier({ attribution: 'off' }).load(
      await fixture('basic'),
      loadOptions(),
    );
    opened.push(instance);
    await instance.start({ signal: noSignal, config: {} });
    assert.equal(process.listenerCount('uncaughtException'), before);
    assert.equal(await instance.call('add', { a: 1, b: 2 }, testCall()), 3);
  });

  test('destroy() is idempotent and stops calls at once', async () => {
    const { instance } = await started('basic');
    const first = instance.destroy();
    assert.equal(instance.destroy(), first);
    await first;
    assert.equal(instance.state, 'closed');
    assert.equal((await rejectionOf(instance.call('echo', 1, testCall()))).code, 'PLUGBAY_CLOSED');
    await instance.close();
  });
});
