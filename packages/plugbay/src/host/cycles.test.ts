import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import type { Tier } from '../core/types.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';

// Hot reload happens in the thread, process and wasm tiers because their code is released with the worker or
// process; an ES module imported on the host thread can never be unloaded (DESIGN.md, "Node facts").

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const source = `export default { name: 'cyc', version: '1.0.0', functions: {
  echo: { input: {}, output: {}, handler: (i) => ({ ...i, big: 'x'.repeat(10000) }) } } };`;

/** Full collections until the heap settles, so that what is unreachable is gone. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** The OS threads of this process (a Worker that was not released keeps one). */
function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

// The memory target itself (500 cycles grow RSS by ≤ 10 MB) is measured by `npm run bench` (bench/src/cycles.ts):
// RSS moves with the allocator and the machine. This test asserts what a leak would leave behind instead, object by
// object: every instance the tier made is collected, and no handle or thread outlives its cycle.
test('load/unload cycles of a thread-tier plugin leave nothing behind: instances collected, no handle or thread kept', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'cyc', {
    manifest: manifest({ name: 'cyc' }),
    files: { 'index.mjs': source },
  });
  const thread = createThreadTier();
  const made: WeakRef<object>[] = [];
  // The real tier, observed: each instance it loads is remembered weakly.
  const observed: Tier = {
    kind: thread.kind,
    load: async (plugin, opts) => {
      const instance = await thread.load(plugin, opts);
      made.push(new WeakRef(instance));
      return instance;
    },
  };
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { thread: observed },
    tierFor: () => 'thread',
  });
  t.after(() => host.close());
  const cycle = async () => {
    await host.load(dir);
    assert.equal((await host.call('cyc', 'echo', { text: 'hi' })) !== undefined, true);
    await host.unload('cyc', '1.0.0');
  };
  await cycle(); // warm up: pools and caches at their working size
  await collect();
  const resources = process.getActiveResourcesInfo().sort();
  const threadsBefore = threads();
  for (let i = 0; i < 40; i++) await cycle();
  await collect();
  assert.equal(made.length, 41);
  assert.deepEqual(
    made.map((ref, i) => (ref.deref() === undefined ? undefined : i)).filter((i) => i !== undefined),
    [],
    'instances still reachable after their unload',
  );
  assert.deepEqual(process.getActiveResourcesInfo().sort(), resources);
  assert.equal(threads(), threadsBefore);
  assert.deepEqual(host.versions(), []);
});

test('inline: loading an entry again reuses the imported module and warns (ES modules cannot be unloaded)', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'cyc', {
    manifest: manifest({ name: 'cyc' }),
    files: { 'index.mjs': source },
  });
  const lines: { msg: string; level: number }[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const host = createHost({ logger, tiers: { inline: createInlineTier() }, tierFor: () => 'inline' });
  t.after(() => host.close());
  await host.load(dir);
  await host.unload('cyc', '1.0.0');
  assert.equal(lines.filter((l) => /cannot be unloaded/.test(l.msg)).length, 0);
  await host.load(dir);
  assert.equal(lines.filter((l) => /cannot be unloaded/.test(l.msg)).length, 1);
});
