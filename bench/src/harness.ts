// Measurement helpers shared by the benchmarks: sequential per-call time and pipelined throughput, both run
// beside a raw baseline of the same boundary in the same process, so results are read as ratios.
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

export interface Sequential {
  name: string;
  /** Median per-call time in microseconds. */
  p50: number;
  /** 99th percentile per-call time in microseconds (of batch means when batch > 1). */
  p99: number;
  callsPerSec: number;
}

export interface Pipelined {
  name: string;
  inflight: number;
  callsPerSec: number;
}

/**
 * Times `calls` sequential awaited calls. Fast boundaries are timed in batches (reading the clock costs ~50 ns),
 * so percentiles are of batch means there; slow ones call by call.
 */
export async function sequential(
  name: string,
  fn: () => Promise<unknown>,
  opts: { calls: number; batch?: number; warmup?: number },
): Promise<Sequential> {
  const batch = opts.batch ?? 1;
  for (let i = 0; i < (opts.warmup ?? Math.min(opts.calls, 20_000)); i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  for (let done = 0; done < opts.calls; done += batch) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    samples.push(((performance.now() - t0) * 1000) / batch);
  }
  const elapsed = performance.now() - start;
  samples.sort((a, b) => a - b);
  return {
    name,
    p50: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    callsPerSec: (samples.length * batch * 1000) / elapsed,
  };
}

/** Keeps `inflight` calls outstanding until `calls` have completed; returns the throughput. */
export async function pipelined(
  name: string,
  fn: () => Promise<unknown>,
  opts: { calls: number; inflight: number },
): Promise<Pipelined> {
  let started = 0;
  const lane = async () => {
    while (started < opts.calls) {
      started++;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: opts.inflight }, lane)); // warm-up round
  started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.inflight }, lane));
  return { name, inflight: opts.inflight, callsPerSec: (opts.calls * 1000) / (performance.now() - t0) };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Formats rows as a markdown table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number) => (typeof v === 'number' ? fmt(v) : v);
  const lines = [headers, headers.map(() => '---'), ...rows.map((r) => r.map(cell))];
  return lines.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

/** The raw thread boundary: a bare worker echoing `[id, message]`; `call()` is one MessagePort round trip. */
export function rawEchoWorker(message: unknown): { call: () => Promise<unknown>; worker: Worker } {
  const worker = new Worker(new URL('./raw-echo-worker.js', import.meta.url));
  const pending = new Map<number, (v: unknown) => void>();
  worker.on('message', ([id, value]: [number, unknown]) => {
    pending.get(id)?.(value);
    pending.delete(id);
  });
  let nextId = 0;
  const call = () =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage([id, message]);
    });
  return { call, worker };
}

/** One row of the closing summary of `npm run bench`: a measure, its value, its target and whether it is met. */
export interface SummaryRow {
  measure: string;
  value: string;
  target: string;
  /** undefined when the measure has no target (shown for context, or skipped on this machine). */
  met: boolean | undefined;
}

/** The summary as a markdown table (the same rows go to bench/results/summary.json). */
export function summaryTable(rows: SummaryRow[]): string {
  const met = (m: boolean | undefined) => (m === undefined ? '—' : m ? 'yes' : 'NO');
  return table(
    ['measure', 'value', 'target', 'met'],
    rows.map((r) => [r.measure, r.value, r.target, met(r.met)]),
  );
}
