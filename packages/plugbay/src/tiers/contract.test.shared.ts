// The behaviour every Tier must have, run against each tier by its own contract.test.ts (the idea of
// store/contract.test.shared.ts). Calls go through core/call.ts as the host makes them: its deadline, the caller's
// AbortSignal, and `settlesOnAbort` decide who rejects an aborted call. Nothing here sleeps: the cases wait on the
// answers, on state events and on the plugin's own "in flight" log line.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Call } from '../core/call.js';
import { Deadlines } from '../core/deadlines.js';
import { isThenable, PlugbayError } from '../core/errors.js';
import type { CheckedPlugin, Instance, InstanceState, Leak, Tier } from '../core/types.js';
import { canTransition, leftDegraded } from './base.js';
import { loadOptions, noSignal, RecordingLog } from './test-support.js';

/** The cases, by the name a tier's `skip` and `todo` use. */
export type ContractCase =
  | 'call'
  | 'plugin-error'
  | 'log'
  | 'health'
  | 'start-failure'
  | 'stop'
  | 'deadline'
  | 'abort'
  | 'runaway'
  | 'crash'
  | 'crashloop'
  | 'close-during-call'
  | 'destroy'
  | 'idempotent'
  | 'memoised'
  | 'life'
  | 'leaks';

/** Restart options every tier under the suite uses, so that a restart is quick and three crashes make a loop. */
export const fastRestart = {
  initialDelayMs: 1,
  maxDelayMs: 1,
  crashloopCount: 3,
  crashloopWindowMs: 60_000,
  coolDownMs: 60_000,
} as const;

/**
 * What test-fixtures/tiers/contract offers a tier that runs it in a worker or a process: each of its functions,
 * its stop(), and a start() that fails on `{ failStart: true }`.
 */
export const workerFixture = {
  fns: {
    echo: 'echo',
    fail: 'fail',
    log: 'log',
    hang: 'hang',
    slow: 'slow',
    spin: 'spin',
    crash: 'exit',
    leak: 'leak',
  },
  pluginCodes: true,
  stops: true,
  pluginHealth: true,
  failStart: { failStart: true },
  concurrent: true,
  exitOnCrash: true,
  reportsLeaks: false,
} as const;

/** One plugin version for one test, in the tier under test. */
export interface ContractSetup {
  tier: Tier;
  plugin: CheckedPlugin;
  /** Given to start(). Default `{}`. */
  config?: unknown;
  /** Resolves once call `id` runs in the plugin. Default: the plugin logged `in flight` with `{ id }`. */
  inFlight?(log: RecordingLog, id: number): Promise<void>;
  /** Removes what setup made (after the instance is destroyed). */
  cleanup?(): Promise<void> | void;
}

export interface TierContract {
  /**
   * The plugin's functions, each called with a number (the call's id). `echo` answers its input; `fail` fails (see
   * `pluginCodes`); `hang` runs until its call is aborted; `slow` answers its input by itself soon after it started;
   * `spin` never yields; `crash` kills what runs the plugin (worker, process, sandbox), which then restarts; `leak`
   * leaves a timer alive; `log` logs `hello` with `{ n: 1 }` and answers the call's `{ traceId, key }`. A case that needs a function the plugin lacks is skipped.
   */
  fns: {
    echo: string;
    log?: string;
    fail?: string;
    hang?: string;
    slow?: string;
    spin?: string;
    crash?: string;
    leak?: string;
  };
  /**
   * `fail` throws an Error with the plugin's own code `E_BOOM`, but one with a registry code for input `coded` and
   * rejects for `reject` (false: it just fails, as the wasm corpus's does).
   */
  pluginCodes: boolean;
  /** close() runs the plugin's stop(), which logs `stopped` a turn of the event loop after it began. */
  stops: boolean;
  /** health() asks the plugin, whose health() answers `{ status: config.health ?? 'ok', message: 'from plugin' }`. */
  pluginHealth: boolean;
  /** A start() config that makes the plugin's start() fail; absent: the case is skipped. */
  failStart?: unknown;
  /** Several calls run at once, so a crash meets other calls in flight. */
  concurrent: boolean;
  /** A crash emits 'exit' with the crash's error. */
  exitOnCrash: boolean;
  /** Instance.leaks lists what the plugin left alive once closed (otherwise it stays undefined: all is reclaimed). */
  reportsLeaks: boolean;
  /** What the crash-loop case calls again and again: `crash` (default), or `spin` where a trap restarts nothing. */
  crashloopVia?: 'crash' | 'spin';
  /** Cases that cannot apply to this tier, with why. */
  skip?: Partial<Record<ContractCase, string>>;
  /** Cases known to fail today, with why: node:test reports them as todo. */
  todo?: Partial<Record<ContractCase, string>>;
  setup(): Promise<ContractSetup>;
  /** Releases the tier after the last case. */
  close?(): Promise<void>;
}

const crashed = 'PLUGBAY_PLUGIN_CRASHED';

/** What a test sees of one started instance. */
interface Subject {
  tier: Tier;
  plugin: CheckedPlugin;
  instance: Instance;
  log: RecordingLog;
  /** Every 'state' event so far, as [next, previous]. */
  states: [InstanceState, InstanceState][];
  /** Every 'exit' event so far. */
  exits: PlugbayError[];
  /** Resolves once call `id` runs in the plugin. */
  inFlight(id: number): Promise<void>;
}

/** The rejection of `answer`, as a PlugbayError (fails when it resolves or rejects with something else). */
async function failure(answer: Promise<unknown>): Promise<PlugbayError> {
  try {
    await answer;
  } catch (error) {
    assert.ok(error instanceof PlugbayError, `expected a PlugbayError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail, it answered');
}

/** Resolves at the instance's next 'state' event. */
function nextState(instance: Instance): Promise<void> {
  return new Promise((resolve) => instance.once('state', () => resolve()));
}

export function tierContract(name: string, contract: TierContract): void {
  describe(`${name}: Tier contract`, () => {
    const deadlines = new Deadlines();
    after(async () => {
      deadlines.clear();
      await contract.close?.();
    });

    /** Calls as the host does: a Call with its deadline and the caller's signal; `settlesOnAbort` says who races. */
    function invoke(
      instance: Instance,
      fn: string,
      input: unknown,
      opts: { timeoutMs?: number; signal?: AbortSignal; traceparent?: string; key?: string } = {},
    ): Promise<unknown> {
      const timeoutMs = opts.timeoutMs ?? 60_000;
      const call = new Call(deadlines, timeoutMs, opts.traceparent, opts.key, opts.signal);
      const answer = instance.call(fn, input, call);
      const settled =
        answer instanceof Promise
          ? instance.settlesOnAbort === true
            ? call.arm(answer)
            : call.run(answer)
          : isThenable(answer)
            ? call.run(Promise.resolve(answer))
            : Promise.resolve(answer);
      const done = settled.finally(() => call.settle());
      done.catch(() => {}); // handled: a case may await a failed call only after what made it fail
      return done;
    }

    /** Loads and starts a fresh instance, runs `body`, checks every state event, and destroys the instance. */
    async function withInstance(body: (s: Subject) => Promise<void>, start = true): Promise<void> {
      const setup = await contract.setup();
      const log = new RecordingLog();
      const instance = await setup.tier.load(setup.plugin, loadOptions(log));
      const states: Subject['states'] = [];
      const exits: PlugbayError[] = [];
      const wrong: string[] = [];
      let last = instance.state;
      instance.on('state', (next, previous) => {
        if (previous !== last) wrong.push(`${previous} → ${next} while the state was ${last}`);
        else if (!canTransition(previous, next)) wrong.push(`${previous} → ${next}`);
        states.push([next, previous]);
        last = next;
      });
      instance.on('exit', (error) => exits.push(error));
      const inFlight = (id: number): Promise<void> =>
        setup.inFlight?.(log, id) ??
        log.waitFor('in flight', (l) => l.fields?.id === id).then(() => undefined);
      try {
        if (start) await instance.start({ signal: noSignal, config: setup.config ?? {} });
        await body({ tier: setup.tier, plugin: setup.plugin, instance, log, states, exits, inFlight });
        assert.deepEqual(wrong, [], 'every state event is one the state machine allows');
      } finally {
        await instance.destroy();
        await setup.cleanup?.();
      }
    }

    /** Registers a case; it is skipped when it needs a function the tier's plugin does not have. */
    function test(
      id: ContractCase,
      title: string,
      needs: (keyof TierContract['fns'])[],
      body: (s: Subject) => Promise<void>,
      opts: { start?: boolean; unless?: string | false } = {},
    ): void {
      const missing = needs.filter((fn) => contract.fns[fn] === undefined);
      const skip =
        contract.skip?.[id] ??
        (missing.length > 0 ? `the tier's plugin has no ${missing.join(', ')} function` : undefined) ??
        (opts.unless || undefined);
      const todo = contract.todo?.[id];
      it(
        title,
        { timeout: 30_000, ...(skip === undefined ? {} : { skip }), ...(todo === undefined ? {} : { todo }) },
        () => withInstance(body, opts.start ?? true),
      );
    }

    const fns = contract.fns as Required<TierContract['fns']>;

    test('call', 'a call answers; an unknown function is PLUGBAY_UNKNOWN_FUNCTION', [], async (s) => {
      const { instance } = s;
      assert.equal(instance.state, 'ready');
      assert.equal(instance.tier, s.tier.kind);
      assert.ok(instance.exportedFunctions.includes(fns.echo), 'exportedFunctions names what the code has');
      assert.deepEqual(await invoke(instance, fns.echo, { n: 1, text: 'héllo' }), { n: 1, text: 'héllo' });
      assert.equal((await failure(invoke(instance, 'no-such-function', 1))).code, 'PLUGBAY_UNKNOWN_FUNCTION');
      assert.equal(await invoke(instance, fns.echo, 2), 2);
      assert.equal(instance.state, 'ready');
    });

    test(
      'plugin-error',
      "a plugin's throw or rejection is its call's error, with plugin and version; the instance still serves",
      ['fail'],
      async (s) => {
        const { instance } = s;
        const source = { plugin: s.plugin.manifest.name, version: s.plugin.manifest.version };
        const thrown = await failure(invoke(instance, fns.fail, 'boom'));
        assert.deepEqual(
          [thrown.code, thrown.plugin, thrown.version],
          ['PLUGBAY_PLUGIN_ERROR', source.plugin, source.version],
        );
        if (contract.pluginCodes) {
          assert.equal(thrown.details?.pluginCode, 'E_BOOM');
          const coded = await failure(invoke(instance, fns.fail, 'coded'));
          assert.deepEqual([coded.code, coded.plugin], ['PLUGBAY_INVALID_ARGUMENT', source.plugin]);
          const rejected = await failure(invoke(instance, fns.fail, 'reject'));
          assert.deepEqual([rejected.code, rejected.version], ['PLUGBAY_PLUGIN_ERROR', source.version]);
        }
        assert.equal(await invoke(instance, fns.echo, 1), 1);
        assert.equal(instance.state, 'ready');
      },
    );

    test(
      'log',
      "the plugin's log lines reach the tier's sink with the call's traceparent; its ctx has trace id and key",
      ['log'],
      async ({ instance, log }) => {
        const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const out = await invoke(instance, fns.log, null, { traceparent, key: 'user-1' });
        assert.deepEqual(out, { traceId: '0af7651916cd43dd8448eb211c80319c', key: 'user-1' });
        const line = await log.waitFor('hello');
        assert.equal(line.traceparent, traceparent);
        assert.deepEqual(line.fields, { n: 1 });
      },
    );

    test(
      'health',
      'health() asks the plugin',
      [],
      async ({ instance }) => {
        await instance.start({ signal: noSignal, config: { health: 'degraded' } });
        assert.deepEqual(await instance.health(noSignal), { status: 'degraded', message: 'from plugin' });
      },
      { start: false, unless: !contract.pluginHealth && "the tier's plugin has no health() of its own" },
    );

    test(
      'start-failure',
      'a start() that fails is PLUGBAY_START_FAILED naming the plugin; the instance is failed and takes no calls',
      [],
      async (s) => {
        const { instance } = s;
        const error = await failure(instance.start({ signal: noSignal, config: contract.failStart }));
        assert.deepEqual(
          [error.code, error.plugin, error.version],
          ['PLUGBAY_START_FAILED', s.plugin.manifest.name, s.plugin.manifest.version],
        );
        assert.equal(instance.state, 'failed');
        assert.equal((await failure(invoke(instance, fns.echo, 1))).code, 'PLUGBAY_NO_INSTANCE');
        await instance.close();
        assert.equal(instance.state, 'closed');
      },
      { start: false, unless: contract.failStart === undefined && 'the tier has no start() that can fail' },
    );

    test(
      'stop',
      "close() runs the plugin's stop() and waits for it",
      [],
      async ({ instance, log }) => {
        await instance.close({ timeoutMs: 5000 });
        assert.ok(
          log.lines.some((l) => l.msg === 'stopped'),
          'stop() finished before close() resolved',
        );
      },
      { unless: !contract.stops && 'the tier runs no stop() of the plugin' },
    );

    test(
      'deadline',
      'a call past its deadline fails with PLUGBAY_TIMEOUT; the instance still answers',
      ['hang'],
      async (s) => {
        const { instance } = s;
        const answer = invoke(instance, fns.hang, 1, { timeoutMs: 100 });
        assert.equal((await failure(answer)).code, 'PLUGBAY_TIMEOUT');
        assert.equal(await invoke(instance, fns.echo, 2), 2);
        assert.equal(instance.state, 'ready');
      },
    );

    test(
      'abort',
      "the caller's abort fails the call with PLUGBAY_CANCELLED; the instance still answers",
      ['hang'],
      async (s) => {
        const { instance } = s;
        const controller = new AbortController();
        // A budget of its own that is not far off: a tier that must end a runaway call does so at that budget.
        const answer = invoke(instance, fns.hang, 1, { timeoutMs: 3000, signal: controller.signal });
        await s.inFlight(1);
        controller.abort();
        assert.equal((await failure(answer)).code, 'PLUGBAY_CANCELLED');
        assert.equal(await invoke(instance, fns.echo, 2), 2);
        assert.equal(instance.state, 'ready');
      },
    );

    test(
      'runaway',
      'a call that never yields is stopped at its deadline; the instance answers again',
      ['spin'],
      async (s) => {
        const { instance } = s;
        const answer = invoke(instance, fns.spin, 1, { timeoutMs: 100 });
        assert.equal((await failure(answer)).code, 'PLUGBAY_TIMEOUT');
        assert.equal(await invoke(instance, fns.echo, 2), 2);
        assert.equal(instance.state, 'ready');
      },
    );

    test(
      'crash',
      'a crash fails the calls in flight with PLUGBAY_PLUGIN_CRASHED; the instance restarts and answers',
      ['crash'],
      async (s) => {
        const { instance } = s;
        const other =
          contract.concurrent && contract.fns.hang !== undefined
            ? invoke(instance, fns.hang, 1, { timeoutMs: 5000 })
            : undefined;
        if (other !== undefined) await s.inFlight(1);
        const crash = invoke(instance, fns.crash, 2);
        // Made the moment the crash is known: a call that was not in flight must wait for the restart, not fail.
        const next = crash.then(
          () => assert.fail('the crash call answered'),
          () => invoke(instance, fns.echo, 3),
        );
        assert.equal((await failure(crash)).code, crashed);
        if (other !== undefined)
          assert.equal((await failure(other)).code, crashed, 'the other call in flight');
        assert.equal(await next, 3, 'a call after the crash waits for the restart');
        if (contract.exitOnCrash)
          assert.deepEqual(
            s.exits.map((e) => e.code),
            [crashed],
          );
        assert.equal(instance.state, 'ready');
      },
    );

    test(
      'crashloop',
      'crashing again and again ends in crashloop: calls fail with PLUGBAY_PLUGIN_CRASHED; recover() brings it back',
      [contract.crashloopVia ?? 'crash'],
      async (s) => {
        const { instance } = s;
        const via = contract.crashloopVia === 'spin' ? fns.spin : fns.crash;
        for (let i = 0; i < fastRestart.crashloopCount; i++) {
          if (instance.state === 'degraded') await leftDegraded(instance);
          assert.equal(instance.state, 'ready', `before crash ${i + 1}`);
          const seen = nextState(instance);
          await invoke(instance, via, i, { timeoutMs: 100 }).catch(() => {});
          await seen; // the crash itself is seen (degraded or crashloop), not only its call's failure
        }
        if (instance.state === 'degraded') await leftDegraded(instance);
        assert.equal(instance.state, 'crashloop');
        const refused = await failure(invoke(instance, fns.echo, 1));
        assert.equal(refused.code, crashed);
        assert.equal(refused.details?.state, 'crashloop');
        assert.equal((await instance.health(noSignal)).status, 'failing');
        assert.ok(instance.recover !== undefined, 'a tier with crash loops offers recover()');
        await instance.recover();
        assert.equal(instance.state, 'ready');
        assert.equal(await invoke(instance, fns.echo, 2), 2);
      },
    );

    test(
      'close-during-call',
      'close() during a call lets it finish or fails it with PLUGBAY_CLOSED, and ends closed',
      ['slow'],
      async (s) => {
        const { instance } = s;
        const answer = invoke(instance, fns.slow, 1).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        await s.inFlight(1);
        await instance.close({ timeoutMs: 5000 });
        assert.equal(instance.state, 'closed');
        const outcome = await answer;
        if ('value' in outcome) assert.equal(outcome.value, 1);
        else {
          assert.ok(outcome.error instanceof PlugbayError, String(outcome.error));
          assert.equal(outcome.error.code, 'PLUGBAY_CLOSED');
        }
        assert.equal((await failure(invoke(instance, fns.echo, 2))).code, 'PLUGBAY_CLOSED');
        assert.deepEqual(s.states.slice(-2), [
          ['draining', 'ready'],
          ['closed', 'draining'],
        ]);
      },
    );

    test(
      'destroy',
      'destroy() fails the calls in flight with PLUGBAY_CLOSED now, and ends closed',
      ['hang'],
      async (s) => {
        const { instance } = s;
        const answer = invoke(instance, fns.hang, 1, { timeoutMs: 2000 }); // a tier failing no call: TIMEOUT
        await s.inFlight(1);
        await instance.destroy(new Error('shutting down'));
        assert.equal(instance.state, 'closed');
        assert.equal((await failure(answer)).code, 'PLUGBAY_CLOSED');
        assert.equal((await failure(invoke(instance, fns.echo, 2))).code, 'PLUGBAY_CLOSED');
      },
    );

    test(
      'idempotent',
      'close() and destroy() are idempotent and may race: closed once, calls refused',
      [],
      async (s) => {
        const { instance } = s;
        await Promise.all([instance.close(), instance.destroy(), instance.close(), instance.destroy()]);
        await Promise.all([instance.close(), instance.destroy()]);
        assert.equal(instance.state, 'closed');
        assert.equal(s.states.filter(([next]) => next === 'closed').length, 1, 'one closed event');
        assert.equal((await failure(invoke(instance, fns.echo, 1))).code, 'PLUGBAY_CLOSED');
      },
    );

    test('memoised', 'close() and destroy() each return one memoised promise', [], async ({ instance }) => {
      const closing = instance.close();
      assert.equal(instance.close(), closing);
      const destroying = instance.destroy();
      assert.equal(instance.destroy(), destroying);
      await Promise.all([closing, destroying]);
      assert.equal(instance.state, 'closed');
      assert.equal(await instance.close(), undefined, 'after the end, close() and destroy() resolve at once');
      assert.equal(await instance.destroy(), undefined);
    });

    test('life', 'a normal life is loading → starting → ready → draining → closed', [], async (s) => {
      const { instance } = s;
      assert.equal(await invoke(instance, fns.echo, 1), 1);
      await instance.close();
      assert.deepEqual(s.states, [
        ['starting', 'loading'],
        ['ready', 'starting'],
        ['draining', 'ready'],
        ['closed', 'draining'],
      ]);
    });

    test(
      'leaks',
      contract.reportsLeaks
        ? 'leaks: what the plugin left alive is listed once closed, with where it was made'
        : 'leaks: none to report (the tier reclaims everything), so Instance.leaks stays undefined',
      [],
      async ({ instance }) => {
        assert.equal(instance.leaks, undefined, 'nothing to say before close');
        if (contract.fns.leak !== undefined) await invoke(instance, contract.fns.leak, 1);
        await instance.close();
        if (!contract.reportsLeaks) {
          assert.equal(instance.leaks, undefined);
          return;
        }
        const leaks: readonly Leak[] = (instance as { leaks?: readonly Leak[] }).leaks ?? []; // narrowed above
        assert.ok(
          leaks.some((l) => l.kind === 'interval' && l.stack !== ''),
          `an interval with its stack: ${JSON.stringify(leaks)}`,
        );
      },
    );
  });
}
