// Issue 2's benchmark: host.call in the inline and thread tiers beside their raw boundaries and piscina.
// Run by run.ts in two processes: `sequential` pinned to one core (taskset -c 0), `pipelined` on all cores.
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { Piscina } from 'piscina';
import { createHost } from 'plugbay';
import { payload, writeEchoPlugin } from './echo-plugin.js';
import { type Pipelined, pipelined, type Sequential, sequential } from './harness.js';

const mode = process.argv[2] === 'pipelined' ? 'pipelined' : 'sequential';
const quick = process.env.BENCH_QUICK === '1';
const n = (full: number) => (quick ? Math.ceil(full / 20) : full);

const dir = await writeEchoPlugin();
const logger = pino({ level: 'warn' });
const inlineHost = createHost({ logger, tierFor: () => 'inline' });
const threadHost = createHost({ logger, tierFor: () => 'thread' });
await inlineHost.load(dir);
await threadHost.load(dir);

// Raw baselines.
const direct = async (input: { text: string }) => ({ text: input.text });
const raw = new Worker(new URL('./raw-echo-worker.js', import.meta.url));
const pending = new Map<number, (v: unknown) => void>();
raw.on('message', ([id, value]: [number, unknown]) => {
  pending.get(id)?.(value);
  pending.delete(id);
});
let nextId = 0;
const roundTrip = () =>
  new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    raw.postMessage([id, payload]);
  });
const pool = new Piscina({
  filename: new URL('./piscina-echo.js', import.meta.url).href,
  minThreads: 1,
  maxThreads: 1,
  atomics: 'disabled',
});

const inline = () => inlineHost.call('echo', 'echo', payload);
const thread = () => threadHost.call('echo', 'echo', payload);
const piscina = () => pool.run(payload);

let results: Sequential[] | Pipelined[];
if (mode === 'sequential') {
  results = [
    await sequential('raw: direct async call', () => direct(payload), { calls: n(2_000_000), batch: 1000 }),
    await sequential('inline host.call', inline, { calls: n(1_000_000), batch: 1000 }),
    await sequential('raw: MessagePort round trip', roundTrip, { calls: n(50_000) }),
    await sequential('thread host.call', thread, { calls: n(50_000) }),
    await sequential('piscina run (peer)', piscina, { calls: n(50_000) }),
  ];
} else {
  const opts = { calls: n(200_000), inflight: 64 };
  results = [
    await pipelined('raw: MessagePort round trip', roundTrip, opts),
    await pipelined('thread host.call', thread, opts),
    await pipelined('piscina run (peer)', piscina, opts),
  ];
}
process.stdout.write(`${JSON.stringify({ mode, results })}\n`);
await Promise.all([inlineHost.close(), threadHost.close(), raw.terminate(), pool.destroy()]);
