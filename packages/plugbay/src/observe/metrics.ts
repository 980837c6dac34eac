/**
 * Prometheus metrics of a host. The call path never touches prom-client: a prom-client child re-hashes its labels
 * on every inc()/observe() (~0.3 µs), which alone would spend the whole budget. Instead each loaded version gets
 * plain number cells per function at load (`FnCells`), the call path does `cells.ok++` and one bucket increment,
 * and the registry reads the cells when it is scraped (`collect`/`get`). Everything not on the call path (state,
 * signature, in-flight, memory) is read from the host at scrape time.
 */
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import type { InstanceResources, TierKind } from '../core/types.js';
import { noSeries, type SeriesRecorder, SeriesRing } from './series.js';

export type { InstanceResources };

/** Upper bounds (seconds) of the call duration histogram: 50 µs to 10 s. */
export const durationBuckets = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
] as const;
const bucketCount = durationBuckets.length;

/**
 * The counters of one function of one loaded version; the call path writes them directly. `series` is the
 * function's 15-minute ring (series.ts), fed by observe() and fail() so the call path has nothing more to call.
 */
export class FnCells {
  readonly fn: string;
  readonly series: SeriesRecorder;
  ok = 0;
  /** Failed calls by outcome (the error code in lower case without the prefix, e.g. `timeout`). */
  readonly failed = new Map<string, number>();
  /** Per-bucket counts (not cumulative); the last cell is +Inf. */
  readonly buckets = new Float64Array(bucketCount + 1);
  sum = 0;
  count = 0;

  constructor(fn: string, series: SeriesRecorder) {
    this.fn = fn;
    this.series = series;
  }

  /**
   * Records one call of `seconds` that ended at monotonic `now` (performance.now(), the call path's own clock read):
   * a linear scan of 16 bounds, no allocation, and the ring's slot.
   */
  observe(seconds: number, now: number): void {
    let i = 0;
    while (i < bucketCount && seconds > durationBuckets[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
    this.series.record(seconds, now);
  }

  /** The call observe() just recorded failed with `code` (the ring counts the error in that call's second). */
  fail(code: string): void {
    const outcome = outcomeOf(code);
    this.failed.set(outcome, (this.failed.get(outcome) ?? 0) + 1);
    this.series.fail(code);
  }

  /** Duration quantile estimated from the buckets (linear inside a bucket), for /v1/stats; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i <= bucketCount; i++) {
      const n = this.buckets[i]!;
      if (seen + n >= rank && n > 0) {
        const lower = i === 0 ? 0 : durationBuckets[i - 1]!;
        const upper = i < bucketCount ? durationBuckets[i]! : lower;
        return lower + ((upper - lower) * (rank - seen)) / n;
      }
      seen += n;
    }
    return durationBuckets[bucketCount - 1];
  }
}

/**
 * One plugin's route decisions by arm. The call path counts with one string comparison while the arm repeats
 * (arms are the router's shared strings), instead of a Map get and set per call.
 */
export class RouteDecisions {
  readonly #cells = new Map<string, { n: number }>();
  #lastArm: string | undefined;
  #last: { n: number } = { n: 0 };

  count(arm: string): void {
    if (arm !== this.#lastArm) {
      let cell = this.#cells.get(arm);
      if (cell === undefined) {
        cell = { n: 0 };
        this.#cells.set(arm, cell);
      }
      this.#lastArm = arm;
      this.#last = cell;
    }
    this.#last.n++;
  }

  /** The count of each arm chosen so far. */
  *counts(): IterableIterator<[arm: string, n: number]> {
    for (const [arm, cell] of this.#cells) yield [arm, cell.n];
  }
}

/** `PLUGBAY_TIMEOUT` → `timeout`: a small, fixed label set (codes come from one registry). */
export function outcomeOf(code: string): string {
  return code.startsWith('PLUGBAY_') ? code.slice(8).toLowerCase() : 'error';
}

/** Metrics of one loaded version, bound at load. */
export class VersionCells {
  readonly plugin: string;
  readonly version: string;
  readonly tier: TierKind;
  readonly fns = new Map<string, FnCells>();
  restarts = 0;
  faults = 0;
  exits = 0;
  readonly health = new Map<string, number>();
  validationFailures = { input: 0, output: 0 };

  readonly #series: () => SeriesRecorder;

  constructor(
    plugin: string,
    version: string,
    tier: TierKind,
    functions: Iterable<string>,
    series: () => SeriesRecorder = () => new SeriesRing(),
  ) {
    this.plugin = plugin;
    this.version = version;
    this.tier = tier;
    this.#series = series;
    this.add(functions);
  }

  /** Cells for the functions not yet known (a version loaded again may have more). */
  add(functions: Iterable<string>): void {
    for (const fn of functions) if (!this.fns.has(fn)) this.fns.set(fn, new FnCells(fn, this.#series()));
  }

  labels(): { plugin: string; version: string; tier: TierKind } {
    return { plugin: this.plugin, version: this.version, tier: this.tier };
  }
}

/** What the host tells the metrics at scrape time about the versions it has now. */
export interface VersionSnapshot {
  cells: VersionCells;
  state: string;
  inflight: number;
  signature: string;
  resources?: InstanceResources | undefined;
}

const instanceStates = [
  'loading',
  'starting',
  'ready',
  'degraded',
  'draining',
  'closed',
  'failed',
  'crashloop',
] as const;

export interface HostMetricsOptions {
  registry?: Registry;
  /** Versions loaded now; called at scrape time. */
  snapshot: () => VersionSnapshot[];
  /** Keep each function's 15-minute ring (series.ts). Default true. */
  series?: boolean;
}

/**
 * The host's metrics. Cells of unloaded versions are kept (counters never go backwards while the process lives)
 * until the same plugin@version is loaded again, which continues them.
 */
export class HostMetrics {
  readonly registry: Registry;
  readonly #snapshot: () => VersionSnapshot[];
  /** Every version ever loaded, by `plugin@version`. */
  readonly #versions = new Map<string, VersionCells>();
  /** Route decisions by plugin. */
  readonly #routes = new Map<string, RouteDecisions>();
  readonly #series: () => SeriesRecorder;

  constructor(options: HostMetricsOptions) {
    this.registry = options.registry ?? new Registry();
    this.#snapshot = options.snapshot;
    // Without rings every FnCells holds the one no-op recorder: a host has one kind or the other, so the call
    // site in observe() stays monomorphic.
    this.#series = options.series === false ? () => noSeries : () => new SeriesRing();
    this.#register();
  }

  /** The cells of a version being loaded (continued when it was loaded before in this process). */
  version(plugin: string, version: string, tier: TierKind, functions: Iterable<string>): VersionCells {
    const key = `${plugin}@${version}`;
    const existing = this.#versions.get(key);
    if (existing !== undefined && existing.tier === tier) {
      existing.add(functions);
      return existing;
    }
    const cells = new VersionCells(plugin, version, tier, functions, this.#series);
    this.#versions.set(key, cells);
    return cells;
  }

  /** The per-arm counters of one plugin's route decisions (the host caches them with the route). */
  routeDecisions(plugin: string): RouteDecisions {
    let decisions = this.#routes.get(plugin);
    if (decisions === undefined) {
      decisions = new RouteDecisions();
      this.#routes.set(plugin, decisions);
    }
    return decisions;
  }

  /** The cells of plugin@version if it was ever loaded in this process. */
  find(plugin: string, version: string): VersionCells | undefined {
    return this.#versions.get(`${plugin}@${version}`);
  }

  /** All versions ever loaded (for /v1/stats). */
  allVersions(): VersionCells[] {
    return [...this.#versions.values()];
  }

  #register(): void {
    const r = this.registry;
    // Set by `plugbay serve` while it follows a shared state (cli/commands/serve-rollout.ts); 0 everywhere else.
    new Gauge({
      name: 'plugbay_state_stale',
      help: '1 while this gateway serves its last-known routes because the shared state (PostgreSQL) is unreachable; 0 otherwise.',
      registers: [r],
    }).set(0);
    const versions = () => [...this.#versions.values()];
    const versionLabels = ['plugin', 'version', 'tier'];
    scraped(
      r,
      'counter',
      'plugbay_calls_total',
      'Calls answered by a plugin version, by function and outcome (ok, or the error code without PLUGBAY_).',
      [...versionLabels, 'fn', 'outcome'],
      function* () {
        for (const v of versions()) {
          for (const f of v.fns.values()) {
            const base = { ...v.labels(), fn: f.fn };
            yield [{ ...base, outcome: 'ok' }, f.ok];
            for (const [outcome, n] of f.failed) yield [{ ...base, outcome }, n];
          }
        }
      },
    );
    r.registerMetric(durationHistogram(versions) as unknown as Metric);
    scraped(r, 'gauge', 'plugbay_inflight', 'Calls in progress per loaded version.', versionLabels, () =>
      this.#snapshot().map((s) => [s.cells.labels(), s.inflight]),
    );
    scraped(
      r,
      'gauge',
      'plugbay_instance_state',
      'State of each loaded version: 1 for its current state, 0 for the others.',
      [...versionLabels, 'state'],
      () =>
        this.#snapshot().flatMap((s) =>
          instanceStates.map((state): Sample => [{ ...s.cells.labels(), state }, state === s.state ? 1 : 0]),
        ),
    );
    scraped(
      r,
      'gauge',
      'plugbay_signature_status',
      'Signature verification of each loaded version at load (off: not checked); always 1.',
      [...versionLabels, 'status'],
      () => this.#snapshot().map((s) => [{ ...s.cells.labels(), status: s.signature }, 1]),
    );
    const perVersion: [name: string, help: string, read: (v: VersionCells) => number][] = [
      [
        'plugbay_restarts_total',
        'Restarts of an instance after its worker or process died.',
        (v) => v.restarts,
      ],
      ['plugbay_crashes_total', 'Unexpected exits of an instance (worker/process death).', (v) => v.exits],
      [
        'plugbay_plugin_faults_total',
        'Errors that escaped plugin code outside any call (own timers, unhandled rejections).',
        (v) => v.faults,
      ],
    ];
    for (const [name, help, read] of perVersion) {
      scraped(r, 'counter', name, help, versionLabels, () => versions().map((v) => [v.labels(), read(v)]));
    }
    scraped(
      r,
      'counter',
      'plugbay_health_checks_total',
      'Health checks run by the host, by result status.',
      [...versionLabels, 'status'],
      () =>
        versions().flatMap((v) => [...v.health].map(([status, n]): Sample => [{ ...v.labels(), status }, n])),
    );
    scraped(
      r,
      'counter',
      'plugbay_validation_failures_total',
      'Calls refused because the input or the output did not match the function schema.',
      [...versionLabels, 'side'],
      () =>
        versions().flatMap((v): Sample[] => [
          [{ ...v.labels(), side: 'input' }, v.validationFailures.input],
          [{ ...v.labels(), side: 'output' }, v.validationFailures.output],
        ]),
    );
    scraped(
      r,
      'counter',
      'plugbay_route_decisions_total',
      'Versions chosen by the router, by arm (pinned, experiment:<name>:<variant>, canary, stable, fallback).',
      ['plugin', 'arm'],
      () =>
        [...this.#routes].flatMap(([plugin, decisions]) =>
          [...decisions.counts()].map(([arm, n]): Sample => [{ plugin, arm }, n]),
        ),
    );
    // Instances that cannot measure a resource have no sample of it.
    const perInstance: [name: string, help: string, read: (x: InstanceResources) => number | undefined][] = [
      [
        'plugbay_instance_heap_used_bytes',
        'JS heap in use by the instance (tiers that can measure it).',
        (x) => x.heapUsedBytes,
      ],
      [
        'plugbay_instance_rss_bytes',
        'Resident memory of the instance process (process tier).',
        (x) => x.rssBytes,
      ],
      [
        'plugbay_instance_cpu_seconds',
        'CPU time used by the instance (tiers that can measure it).',
        (x) => x.cpuSeconds,
      ],
      [
        'plugbay_instance_wasm_memory_pages',
        'WebAssembly memory pages (64 KiB) of the instance.',
        (x) => x.wasmMemoryPages,
      ],
      [
        'plugbay_instance_event_loop_utilization',
        'Event loop utilisation (0..1) of the instance own loop (thread tier).',
        (x) => x.eventLoopUtilization,
      ],
    ];
    for (const [name, help, read] of perInstance) {
      scraped(r, 'gauge', name, help, versionLabels, () =>
        this.#snapshot().flatMap((s) => {
          const value = s.resources === undefined ? undefined : read(s.resources);
          return value === undefined ? [] : [[s.cells.labels(), value] as Sample];
        }),
      );
    }
    scraped(
      r,
      'gauge',
      'plugbay_host_rss_bytes',
      'Resident memory of the host process (inline plugins count here).',
      [],
      () => [[{}, process.memoryUsage.rss()]],
    );
    scraped(
      r,
      'counter',
      'plugbay_host_cpu_seconds_total',
      'CPU time of the host process, user + system (inline plugins count here).',
      [],
      () => {
        const u = process.cpuUsage();
        return [[{}, (u.user + u.system) / 1e6]];
      },
    );
  }
}

type Sample = [labels: Record<string, string | number>, value: number];

/**
 * Registers a metric whose values are all read at scrape time: `samples` gives every (labels, value) pair. A
 * counter is refilled the same way; it still only goes up, because the cells it reads do.
 */
function scraped(
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: string[],
  samples: () => Iterable<Sample>,
): void {
  const config = { name, help, labelNames, registers: [registry] };
  if (kind === 'counter') {
    new Counter({
      ...config,
      collect() {
        this.reset();
        for (const [labels, value] of samples()) this.inc(labels, value);
      },
    });
  } else {
    new Gauge({
      ...config,
      collect() {
        this.reset();
        for (const [labels, value] of samples()) this.set(labels, value);
      },
    });
  }
}

/**
 * plugbay_call_duration_seconds as a prom-client metric object: prom-client's Histogram cannot take bucket counts
 * kept elsewhere, so this produces the same `get()` shape from the cells.
 */
function durationHistogram(versions: () => VersionCells[]) {
  const name = 'plugbay_call_duration_seconds';
  return {
    name,
    help: 'Duration of calls as the host sees them (tier call, without routing and input check).',
    type: 'histogram',
    // As prom-client metrics have it; read by the generated metrics reference (docs/operating-the-gateway.md).
    labelNames: ['plugin', 'version', 'tier', 'fn'],
    aggregator: 'sum',
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const v of versions()) {
        for (const f of v.fns.values()) {
          const labels = { ...v.labels(), fn: f.fn };
          let cumulative = 0;
          for (let i = 0; i <= bucketCount; i++) {
            cumulative += f.buckets[i]!;
            const le = i < bucketCount ? durationBuckets[i]! : '+Inf';
            values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${name}_bucket` });
          }
          values.push({ labels, value: f.sum, metricName: `${name}_sum` });
          values.push({ labels, value: f.count, metricName: `${name}_count` });
        }
      }
      return { name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
    reset() {},
  };
}
