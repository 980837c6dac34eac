/**
 * Child process for attribution.test.ts: process-level error listeners must be tested in a process of their own
 * (node:test installs its own). Runs one scenario (argv[2]) and prints one JSON line of facts on stdout.
 */
import { once } from 'node:events';
import type { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { fixture, loadOptions, noSignal, RecordingLog, testCall } from '../test-support.js';
import { type Attribution, createInlineTier } from './tier.js';

const tier = createInlineTier({ attribution: (process.argv[3] ?? 'async-context') as Attribution });

async function load(): Promise<{ instance: Instance; log: RecordingLog }> {
  const log = new RecordingLog();
  const instance = await tier.load(await fixture('basic'), loadOptions(log));
  await instance.start({ signal: noSignal, config: {} });
  return { instance, log };
}

function report(facts: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(facts)}\n`);
}

const scenarios: Record<string, () => Promise<void>> = {
  async attributed() {
    const a = await load();
    const b = await load();
    const bystander = await load();
    const faultA = once(a.instance, 'fault') as Promise<[PlugbayError]>;
    await a.instance.call('throwsInTimer', null, testCall());
    const [errA] = await faultA;
    const faultB = once(b.instance, 'fault') as Promise<[PlugbayError]>;
    await b.instance.call('rejectsUnawaited', null, testCall());
    const [errB] = await faultB;
    const afterFault = await Promise.resolve(a.instance.call('echo', 1, testCall())).then(
      () => 'served',
      (e: PlugbayError) => e.code,
    );
    report({
      a: {
        code: errA.code,
        plugin: errA.plugin,
        version: errA.version,
        origin: errA.details?.origin,
        state: a.instance.state,
      },
      b: { code: errB.code, origin: errB.details?.origin, state: b.instance.state },
      aLogged: a.log.lines.some((l) => l.level === 'error' && l.fields?.origin === 'uncaughtException'),
      stack: typeof errA.stack === 'string' && errA.stack.includes('thrown in the plugin timer'),
      afterFault,
      bystander: await bystander.instance.call('add', { a: 1, b: 2 }, testCall()),
      bystanderState: bystander.instance.state,
    });
    await Promise.all([a.instance.destroy(), b.instance.destroy(), bystander.instance.destroy()]);
    report({
      listeners: process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection'),
    });
  },

  /** Faults from a timer, an unawaited rejection and a microtask; prints what each instance saw. */
  async kinds() {
    const results: Record<string, unknown> = {};
    for (const fn of ['throwsInTimer', 'rejectsUnawaited', 'throwsInMicrotask']) {
      const { instance } = await load();
      const fault = once(instance, 'fault') as Promise<[PlugbayError]>;
      await instance.call(fn, null, testCall());
      const [error] = await fault;
      results[fn] = { code: error.code, origin: error.details?.origin, state: instance.state };
      await instance.destroy();
    }
    report(results);
  },

  async 'unattributed-throw'() {
    await load();
    setTimeout(() => {
      throw new Error('host bug outside any plugin');
    }, 0);
  },

  async 'unattributed-rejection'() {
    await load();
    void Promise.reject(new Error('host rejection outside any plugin'));
  },

  async 'application-handler'() {
    const { instance } = await load();
    const seen = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
    setTimeout(() => {
      throw new Error('the application handles this');
    }, 0);
    const error = await seen;
    report({ appSaw: error.message, state: instance.state });
    await instance.destroy();
  },
};

await scenarios[process.argv[2] ?? '']?.();
