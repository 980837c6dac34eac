// Progressive rollouts: moves a canary through its steps on a timer, judging it against stable at the end of each
// step from the host's own per-version window (host.window) and any custom checks; pass → next step, the step of
// 100 % → promote (activate), fail → back to stable at once. An early check between judgements rolls back as soon
// as a failure is significant. Every decision is saved in the store (compare-and-set) with its evidence and
// written to the audit log in the same transaction; running rollouts found in the store resume on start.
import type { Logger } from 'pino';
import { PlugbayError } from '../core/errors.js';
import type { StateStore, StoredRollout } from '../store/types.js';
import { judgeCanary, p99Levels, type WindowStats } from './canary-analysis.js';
import { createCheck, maxCheckTimeoutMs } from './rollout-checks.js';
import {
  activeStates,
  type CheckOutcome,
  type Decision,
  type DecisionVerdict,
  normaliseSpec,
  type RolloutRecord,
  type RolloutSpec,
} from './rollout-spec.js';
import type { Route } from './router/index.js';
import type { ActivateOptions, ChangeOptions } from './types.js';

/** When to judge: real timers in production, a hand-driven clock in tests. */
export interface RolloutScheduler {
  /** Calls `fn` once after `ms`; returns the function that cancels it. */
  after(ms: number, fn: () => void | Promise<void>): () => void;
}

/** setTimeout, unref'd: a rollout in progress does not keep the process alive (it resumes from the store). */
export const timerScheduler: RolloutScheduler = {
  after(ms, fn) {
    const timer = setTimeout(() => void fn(), ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** What the engine needs of the host. */
export interface RolloutHostParts {
  store: StateStore;
  log: Logger;
  scheduler: RolloutScheduler;
  /** Calls, errors and latency of one version over a window. */
  window(plugin: string, version: string, range: { sinceMs: number; untilMs: number }): WindowStats;
  /** The q-quantile of one version's latency (ms) over a window; undefined without calls. */
  quantileMs(
    plugin: string,
    version: string,
    range: { sinceMs: number; untilMs: number },
    q: number,
  ): number | undefined;
  route(plugin: string): Route | undefined;
  setRoute(plugin: string, route: Route, options: ChangeOptions): Promise<Route>;
  activate(plugin: string, version: string, options: ActivateOptions): Promise<unknown>;
  /** The version stable calls get now (the route's, or the default selection). */
  currentStable(plugin: string): string | undefined;
  loaded(plugin: string, version: string): boolean;
  /** Loads a version known from a plugin directory if it is not loaded, and checks its health. */
  prepare(plugin: string, version: string): Promise<void>;
}

/** How many early checks run per step (besides the judgement at its end). */
const earlyChecksPerStep = 4;

export class ProgressiveRollouts {
  readonly #h: RolloutHostParts;
  /** Pending timer of each running rollout. */
  readonly #timers = new Map<string, () => void>();
  /** One operation per plugin at a time (a judgement and an admin call never interleave). */
  readonly #queues = new Map<string, Promise<unknown>>();
  #closed = false;

  constructor(parts: RolloutHostParts) {
    this.#h = parts;
  }

  /** Schedules every rollout the store has running (after a restart: its step keeps its start time). */
  resumeStored(): string[] {
    const resumed: string[] = [];
    for (const stored of this.#h.store.rollouts()) {
      const r = stored as unknown as RolloutRecord;
      if (r.state !== 'running') continue;
      this.#schedule(r);
      resumed.push(r.plugin);
    }
    if (resumed.length > 0)
      this.#h.log.info({ plugins: resumed }, 'progressive rollouts resumed from the store');
    return resumed;
  }

  /**
   * Catches up with rollouts another gateway changed in a shared store (PostgreSQL): a running one this engine does
   * not time yet gets its timer, one that stopped running elsewhere loses it. The compare-and-set makes only one
   * gateway's judgement of a step land; the others re-read. Returns the plugins now timed here.
   */
  refreshFromStore(plugin?: string): string[] {
    const records = plugin === undefined ? this.list() : [this.get(plugin)].flatMap((r) => r ?? []);
    for (const r of records) {
      if (r.state !== 'running') this.#cancel(r.plugin);
      else if (!this.#timers.has(r.plugin)) this.#schedule(r);
    }
    return [...this.#timers.keys()];
  }

  list(): RolloutRecord[] {
    return this.#h.store.rollouts() as unknown as RolloutRecord[];
  }

  get(plugin: string): RolloutRecord | undefined {
    return this.#h.store.rollout(plugin) as RolloutRecord | undefined;
  }

  start(spec: RolloutSpec, options: ChangeOptions = {}): Promise<RolloutRecord> {
    const s = normaliseSpec(spec);
    return this.#serial(s.plugin, async () => {
      const previous = this.get(s.plugin);
      if (previous !== undefined && activeStates.has(previous.state)) {
        throw new PlugbayError(
          'PLUGBAY_ROLLOUT_CONFLICT',
          `${s.plugin} already has a rollout ${previous.state} (${previous.version}); abort it first`,
          { plugin: s.plugin, details: { field: 'plugin', rule: 'one-active', current: previous } },
        );
      }
      const stable = s.stable ?? this.#h.currentStable(s.plugin);
      if (stable === undefined) {
        throw new PlugbayError(
          'PLUGBAY_VERSION_NOT_LOADED',
          `rollout stable: ${s.plugin} has no stable version`,
          {
            plugin: s.plugin,
            details: { field: 'stable', rule: 'loaded' },
          },
        );
      }
      // Both sides loaded (from their plugin directory if released) and healthy before any traffic moves.
      for (const version of [s.version, stable]) await this.#h.prepare(s.plugin, version);
      if (stable === s.version) {
        throw new PlugbayError(
          'PLUGBAY_INVALID_ARGUMENT',
          `rollout version ${s.version} already answers as stable; name the stable to compare with`,
          { plugin: s.plugin, details: { field: 'stable', rule: 'differs' } },
        );
      }
      const now = Date.now();
      const record: RolloutRecord = {
        ...s,
        stable: stable!,
        stepIndex: 0,
        state: 'running',
        stepStartedAt: now,
        stepEndsAt: now + s.intervalMs,
        history: [],
        createdAt: new Date(now).toISOString(),
        updatedAt: '',
      };
      const actor = options.actor ?? 'api';
      const reason = options.reason ?? `canary ${s.version} at ${s.steps[0]} %`;
      // Saved before the route changes: a second start (another admin, another gateway) conflicts here.
      const saved = this.#save(record, previous?.updatedAt ?? null, 'start', actor, reason, now);
      try {
        await this.#weigh(saved, s.steps[0]!, actor, reason);
      } catch (err) {
        // The route refused the canary: the rollout never ran; it must not stay `running` in the store.
        this.#save(
          { ...saved, state: 'aborted' },
          saved.updatedAt,
          'abort',
          actor,
          `route refused: ${(err as Error).message}`,
        );
        throw err;
      }
      this.#schedule(saved);
      return saved;
    });
  }

  pause(plugin: string, options: ChangeOptions = {}): Promise<RolloutRecord> {
    return this.#operator(plugin, 'pause', ['running'], options, async (r, actor, reason) => {
      this.#cancel(plugin);
      return this.#save({ ...r, state: 'paused' }, r.updatedAt, 'pause', actor, reason);
    });
  }

  resume(plugin: string, options: ChangeOptions = {}): Promise<RolloutRecord> {
    return this.#operator(plugin, 'resume', ['paused'], options, async (r, actor, reason) => {
      // The step starts again: what happened while paused is not the evidence of a running step.
      const now = Date.now();
      const saved = this.#save(
        { ...r, state: 'running', stepStartedAt: now, stepEndsAt: now + r.intervalMs },
        r.updatedAt,
        'resume',
        actor,
        reason,
        now,
      );
      this.#schedule(saved);
      return saved;
    });
  }

  promote(plugin: string, options: ChangeOptions = {}): Promise<RolloutRecord> {
    return this.#operator(plugin, 'promote', ['running', 'paused'], options, (r, actor, reason) =>
      this.#promote(r, actor, reason),
    );
  }

  abort(plugin: string, options: ChangeOptions = {}): Promise<RolloutRecord> {
    return this.#operator(plugin, 'abort', ['running', 'paused'], options, (r, actor, reason) =>
      this.#toStable(r, 'abort', 'aborted', actor, reason),
    );
  }

  /** Stops every timer; rollouts stay in the store as they are and resume with the next host. */
  close(): void {
    this.#closed = true;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
  }

  // ---- the engine ---------------------------------------------------------------------------------------------

  #operator(
    plugin: string,
    verdict: DecisionVerdict,
    allowed: RolloutRecord['state'][],
    options: ChangeOptions,
    fn: (r: RolloutRecord, actor: string, reason: string) => Promise<RolloutRecord>,
  ): Promise<RolloutRecord> {
    return this.#serial(plugin, async () => {
      const r = this.get(plugin);
      if (r === undefined) {
        throw new PlugbayError('PLUGBAY_NOT_FOUND', `${plugin} has no rollout`, {
          plugin,
          details: { field: 'plugin', rule: 'has-rollout' },
        });
      }
      if (!allowed.includes(r.state)) {
        throw new PlugbayError(
          'PLUGBAY_ROLLOUT_CONFLICT',
          `cannot ${verdict} the rollout of ${plugin}: it is ${r.state}`,
          {
            plugin,
            details: { field: 'state', rule: allowed.join('|'), current: r },
          },
        );
      }
      return fn(r, options.actor ?? 'api', options.reason ?? `${verdict} by ${options.actor ?? 'api'}`);
    });
  }

  /** Arms the rollout's next timer: an early check, or the judgement at the end of its step. */
  #schedule(r: RolloutRecord, retry = false): void {
    this.#cancel(r.plugin);
    if (this.#closed) return;
    const end = r.stepEndsAt ?? r.stepStartedAt + r.intervalMs;
    const left = end - Date.now();
    const every = Math.max(50, Math.floor(r.intervalMs / (earlyChecksPerStep + 1)));
    const final = left <= every;
    // A retry (versions still loading, a store that failed) waits an early check's time, never 0 ms in a loop.
    const delay = retry ? every : Math.max(0, final ? left : every);
    const cancel = this.#h.scheduler.after(delay, () => {
      if (this.#timers.get(r.plugin) !== cancel) return; // replaced meanwhile
      this.#timers.delete(r.plugin);
      return this.#serial(r.plugin, () => this.#judge(r.plugin, final)).catch((err: unknown) => {
        this.#h.log.error({ err, plugin: r.plugin }, `rollout of ${r.plugin}: judgement failed; retrying`);
        const again = this.get(r.plugin);
        if (again?.state === 'running') this.#schedule(again, true);
      });
    });
    this.#timers.set(r.plugin, cancel);
  }

  #cancel(plugin: string): void {
    this.#timers.get(plugin)?.();
    this.#timers.delete(plugin);
  }

  async #judge(plugin: string, final: boolean): Promise<void> {
    const r = this.get(plugin);
    if (r === undefined || r.state !== 'running' || this.#closed) return;
    if (!this.#h.loaded(plugin, r.version) || !this.#h.loaded(plugin, r.stable)) {
      // After a restart the versions may still be loading: judge when they are.
      this.#schedule(r, true);
      return;
    }
    const untilMs = Date.now();
    const range = { sinceMs: r.stepStartedAt, untilMs };
    const canary = this.#h.window(plugin, r.version, range);
    const stable = this.#h.window(plugin, r.stable, range);
    // The canary's p99 is judged by its lower confidence bound (its few calls' 3rd-slowest is no evidence), the
    // stable's by its estimate: it has the larger share of calls, and its own upper bound would be its slowest
    // hiccup, hiding a slow canary on a busy machine.
    const bounds = {
      canaryP99LowMs: this.#h.quantileMs(
        plugin,
        r.version,
        range,
        p99Levels(canary.calls, r.thresholds.confidence).low,
      ),
    };
    const j = judgeCanary(canary, stable, r.thresholds, final, bounds);
    const weight = r.steps[r.stepIndex]!;
    let checks: CheckOutcome[] | undefined;
    let verdict = j.verdict;
    let reason = j.reason;
    if (verdict === 'pass' && r.checks.length > 0) {
      const ctx = {
        plugin,
        version: r.version,
        stable: r.stable,
        weight,
        ...range,
        signal: AbortSignal.timeout(maxCheckTimeoutMs),
      };
      checks = await Promise.all(
        r.checks.map(async (spec) => {
          const check = createCheck(spec);
          const out = await check
            .evaluate(ctx)
            .catch((err: unknown) => ({ ok: false, reason: (err as Error).message }));
          return { name: check.name, ...out };
        }),
      );
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        verdict = 'fail';
        reason = `check ${failed.map((c) => `${c.name}: ${c.reason}`).join('; ')}`;
      }
    }
    const evidence = {
      canary,
      stable,
      errorRateIncrease: j.errorRateIncrease,
      p99Ratio: j.p99Ratio,
      p99Bounds: bounds,
      checks,
    };
    if (verdict === 'fail') {
      await this.#toStable(r, 'fail', 'rolled-back', 'rollout', reason, evidence);
      return;
    }
    if (verdict === 'wait') {
      // An early check that finds nothing wrong is not recorded (it would flood the history); a step extended
      // at its end for want of evidence is.
      // The step is extended by one interval; its window keeps its start, so the evidence adds up.
      const saved = final
        ? this.#save(
            { ...r, stepEndsAt: untilMs + r.intervalMs },
            r.updatedAt,
            'wait',
            'rollout',
            reason,
            untilMs,
            evidence,
          )
        : r;
      this.#schedule(saved);
      return;
    }
    const next = r.stepIndex + 1;
    const passed = this.#save(
      r,
      r.updatedAt,
      'pass',
      'rollout',
      `step ${weight} %: ${reason}`,
      untilMs,
      evidence,
    );
    if (r.steps[next] === 100 || next >= r.steps.length) {
      await this.#promote(passed, 'rollout', `all steps passed; ${r.version} is stable`);
      return;
    }
    const now = Date.now();
    const stepped = this.#saveRaw(
      { ...passed, stepIndex: next, stepStartedAt: now, stepEndsAt: now + r.intervalMs },
      passed.updatedAt,
    );
    await this.#weigh(stepped, r.steps[next]!, 'rollout', `canary ${r.version} at ${r.steps[next]} %`);
    this.#schedule(this.get(plugin)!);
  }

  /** Sets the route's canary weight (the route keeps its other arms). */
  async #weigh(r: RolloutRecord, percent: number, actor: string, reason: string): Promise<void> {
    const route = { ...this.#h.route(r.plugin), stable: r.stable, canary: { version: r.version, percent } };
    await this.#h.setRoute(r.plugin, route, { actor, reason });
  }

  async #promote(r: RolloutRecord, actor: string, reason: string): Promise<RolloutRecord> {
    this.#cancel(r.plugin);
    const now = Date.now();
    // Before the switch: activating drains and releases the old stable, whose window goes with it.
    const evidence = this.#evidence(r, now);
    await this.#h.activate(r.plugin, r.version, { actor, reason });
    return this.#save(
      { ...r, state: 'promoted', stepIndex: r.steps.length - 1 },
      r.updatedAt,
      'promote',
      actor,
      reason,
      now,
      evidence,
    );
  }

  /** All traffic back to stable: the canary arm leaves the route. */
  async #toStable(
    r: RolloutRecord,
    verdict: 'fail' | 'abort',
    state: 'rolled-back' | 'aborted',
    actor: string,
    reason: string,
    evidence?: Partial<Decision>,
  ): Promise<RolloutRecord> {
    this.#cancel(r.plugin);
    const now = Date.now();
    // Before the switch: the canary no route serves any more is drained and released, its window with it.
    const ev = evidence ?? this.#evidence(r, now);
    const { canary: _dropped, ...rest } = this.#h.route(r.plugin) ?? {};
    await this.#h.setRoute(r.plugin, { ...rest, stable: r.stable }, { actor, reason });
    if (verdict === 'fail')
      this.#h.log.warn(
        { plugin: r.plugin, version: r.version, reason },
        `rollout of ${r.plugin} rolled back`,
      );
    return this.#save({ ...r, state }, r.updatedAt, verdict, actor, reason, now, ev);
  }

  /** Both sides' window of the current step, as evidence of an operator's decision. */
  #evidence(r: RolloutRecord, untilMs: number): Partial<Decision> {
    const range = { sinceMs: r.stepStartedAt, untilMs };
    const loaded = (v: string) => this.#h.loaded(r.plugin, v);
    const empty: WindowStats = {
      calls: 0,
      errors: 0,
      errorRate: 0,
      errorsByCode: {},
      fromMs: range.sinceMs,
      toMs: untilMs,
    };
    return {
      canary: loaded(r.version) ? this.#h.window(r.plugin, r.version, range) : empty,
      stable: loaded(r.stable) ? this.#h.window(r.plugin, r.stable, range) : empty,
    };
  }

  /** Appends the decision, saves (compare-and-set on `expected`) and audits it in one store write. */
  #save(
    r: RolloutRecord,
    expected: string | null,
    verdict: DecisionVerdict,
    actor: string,
    reason: string,
    at = Date.now(),
    evidence: Partial<Decision> = this.#evidence(r, at),
  ): RolloutRecord {
    const decision: Decision = {
      at,
      step: r.stepIndex,
      weight: r.steps[r.stepIndex]!,
      verdict,
      reason,
      actor,
      canary: evidence.canary!,
      stable: evidence.stable!,
      ...(evidence.errorRateIncrease === undefined ? {} : { errorRateIncrease: evidence.errorRateIncrease }),
      ...(evidence.p99Ratio === undefined ? {} : { p99Ratio: evidence.p99Ratio }),
      ...(evidence.p99Bounds === undefined ? {} : { p99Bounds: evidence.p99Bounds }),
      ...(evidence.checks === undefined ? {} : { checks: evidence.checks }),
    };
    const record = { ...r, history: [...r.history, decision] };
    const { updatedAt: _token, ...body } = record;
    const saved = this.#h.store.saveRollout(body, expected, {
      actor,
      action: `rollout-${verdict}`,
      plugin: r.plugin,
      version: r.version,
      reason,
      details: {
        ...decision,
        state: r.state,
        stableVersion: r.stable,
        steps: r.steps,
        thresholds: r.thresholds,
      } as unknown as Record<string, unknown>,
    });
    return saved as unknown as RolloutRecord;
  }

  #saveRaw(r: RolloutRecord, expected: string): RolloutRecord {
    const { updatedAt: _token, ...body } = r;
    return this.#h.store.saveRollout(body, expected) as StoredRollout as unknown as RolloutRecord;
  }

  /** Runs `fn` after every earlier operation on the plugin's rollout (whatever their outcome). */
  #serial<T>(plugin: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(plugin) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.#queues.set(plugin, tail);
    void tail.then(() => {
      if (this.#queues.get(plugin) === tail) this.#queues.delete(plugin);
    });
    return run;
  }
}
