// Issue 2's benchmark: host.call in the inline and thread tiers beside their raw boundaries and piscina.
// run.ts starts one process per mode, so that one mode's setup cannot tax another's figures (on Node 20 an
// inline instance with AsyncLocalStorage attribution turns on promise hooks for the whole process):
//   inline        a direct async call vs inline host.call (attribution: async-context, opt-in before Node 24) pinned
//   inline-stack  the same with attribution: 'stack' (the default before Node 24: no AsyncLocalStorage)   pinned
//   thread        a bare MessagePort round trip vs thread host.call vs piscina, sequential             pinned
//   pipelined     the same three with 64 calls in flight                                               all cores
//   thread-start  start to first call: a bare Worker's first round trip vs a new host's load + first call   pinned
import { syncBuiltinESMExports } from 'node:module';
import workerThreads from 'node:worker_threads';
import { pino } from 'pino';
import { Piscina } from 'piscina';
import { createHost, createInlineTier, createThreadTier } from 'plugbay';
import { payload, writeEchoPlugin } from './echo-plugin.js';
import { median, type Pipelined, pipelined, rawEchoWorker, type Sequential, sequential } from './harness.js';

const mode = process.argv[2] ?? 'inline';
const quick = process.env.BENCH_QUICK === '1';
const n = (full: number) => (quick ? Math.ceil(full / 20) : full);
const dir = await writeEchoPlugin();
const logger = pino({ level: 'warn' });

async function inlineMode(attribution: 'async-context' | 'stack'): Promise<Sequential[]> {
  const host = createHost({
    logger,
    tiers: { inline: createInlineTier({ attribution }) },
    tierFor: () => 'inline',
  });
  await host.load(dir);
  const direct = async (input: { text: string }) => ({ text: input.text });
  const results = [
    await sequential('raw: direct async call', () => direct(payload), { calls: n(2_000_000), batch: 1000 }),
    await sequential(`inline host.call (${attribution})`, () => host.call('echo', 'echo', payload), {
      calls: n(1_000_000),
      batch: 1000,
    }),
  ];
  await host.close();
  return results;
}

async function threadModes(kind: 'thread' | 'pipelined'): Promise<(Sequential | Pipelined)[]> {
  const host = createHost({ logger, tiers: { thread: createThreadTier() }, tierFor: () => 'thread' });
  await host.load(dir);
  const raw = rawEchoWorker(payload);
  const roundTrip = raw.call;
  const pool = new Piscina({
    filename: new URL('./piscina-echo.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    atomics: 'disabled',
  });
  const thread = () => host.call('echo', 'echo', payload);
  const piscina = () => pool.run(payload);
  // Rounds alternate between the paths and each path reports its median round: on a shared VM one long run per
  // path measures whatever else the machine did meanwhile, more than the path.
  const paths: [string, () => Promise<unknown>][] = [
    ['raw: MessagePort round trip', roundTrip],
    ['thread host.call', thread],
    ['piscina run (peer)', piscina],
  ];
  const rounds = quick ? 1 : 5;
  const results: (Sequential | Pipelined)[] = [];
  const byPath = new Map<string, (Sequential | Pipelined)[]>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, call] of paths) {
      const r =
        kind === 'thread'
          ? await sequential(name, call, { calls: n(10_000) })
          : await pipelined(name, call, { calls: n(40_000), inflight: 64 });
      byPath.set(name, [...(byPath.get(name) ?? []), r]);
    }
  }
  for (const [name] of paths) results.push(medianRound(byPath.get(name) ?? []));
  await Promise.all([host.close(), raw.worker.terminate(), pool.destroy()]);
  return results;
}

/** The round with the median figure (p50 for sequential rounds, calls/s for pipelined ones). */
function medianRound<T extends Sequential | Pipelined>(rounds: T[]): T {
  const key = (r: T) => ('p50' in r ? r.p50 : r.callsPerSec);
  const sorted = [...rounds].sort((a, b) => key(a) - key(b));
  const middle = sorted[sorted.length >> 1];
  if (middle === undefined) throw new Error('no rounds ran');
  return middle;
}

export interface StartRow {
  name: string;
  /** Median of the rounds, ms. */
  medianMs: number;
  roundsMs: number[];
  /** Where the time went: the median ms of each phase, in order (see threadStart). */
  phasesMs: Record<string, number>;
}

/** When each Worker made in this process was created, came online and sent its first message (performance.now()). */
interface WorkerMilestones {
  created: number;
  online?: number;
  firstMessage?: number;
}
const spawned: WorkerMilestones[] = [];

/**
 * Records the milestones of every Worker this process makes, the host's included: the Worker class is replaced by
 * a subclass, and syncBuiltinESMExports() updates the ESM bindings that modules imported already hold.
 */
function watchWorkers(): void {
  const Base = workerThreads.Worker;
  workerThreads.Worker = class extends Base {
    constructor(...args: ConstructorParameters<typeof Base>) {
      const m: WorkerMilestones = { created: performance.now() };
      super(...args);
      spawned.push(m);
      this.once('online', () => {
        m.online = performance.now();
      });
      this.once('message', () => {
        m.firstMessage = performance.now();
      });
    }
  };
  syncBuiltinESMExports();
}

/**
 * Start to first call, in alternating rounds: `new Worker` to its first answered message vs a fresh host's
 * `load` (manifest, checks, worker boot, plugin import, start) to its first answered `host.call`. Each is cut
 * into phases at its worker's milestones; ours: the host's checks up to `new Worker`, Node's worker boot up to
 * 'online', loading the worker's runtime, the SDK and the plugin up to its Loaded message, then start and the
 * first call.
 */
async function threadStart(): Promise<StartRow[]> {
  watchWorkers();
  const bare: number[][] = [];
  const ours: number[][] = [];
  const rounds = quick ? 3 : 9;
  for (let round = 0; round < rounds; round++) {
    let t0 = performance.now();
    const raw = rawEchoWorker(payload);
    await raw.call();
    const b = spawned.at(-1)!;
    bare.push([performance.now() - t0, b.online! - t0, b.firstMessage! - b.online!]);
    await raw.worker.terminate();

    t0 = performance.now();
    const host = createHost({ logger, tiers: { thread: createThreadTier() }, tierFor: () => 'thread' });
    await host.load(dir);
    const loaded = performance.now();
    await host.call('echo', 'echo', payload);
    const o = spawned.at(-1)!;
    ours.push([
      performance.now() - t0,
      o.created - t0,
      o.online! - o.created,
      o.firstMessage! - o.online!,
      loaded - o.firstMessage!,
      performance.now() - loaded,
    ]);
    await host.close();
  }
  const row = (name: string, rows: number[][], phases: string[]): StartRow => ({
    name,
    medianMs: median(rows.map((r) => r[0]!)),
    roundsMs: rows.map((r) => r[0]!),
    phasesMs: Object.fromEntries(phases.map((p, i) => [p, median(rows.map((r) => r[i + 1]!))])),
  });
  return [
    row('raw: new Worker → first round trip', bare, ['worker boot', 'first round trip']),
    row('thread host.load → first host.call', ours, [
      'checks',
      'worker boot',
      'runtime, SDK and plugin import',
      'start',
      'first call',
    ]),
  ];
}

const results =
  mode === 'inline' || mode === 'inline-stack'
    ? await inlineMode(mode === 'inline' ? 'async-context' : 'stack')
    : mode === 'thread-start'
      ? await threadStart()
      : await threadModes(mode === 'pipelined' ? 'pipelined' : 'thread');
process.stdout.write(`${JSON.stringify({ mode, results })}\n`);
