// The charts' geometry (geometry.ts) on a real host's ring: a thread-tier plugin under load for a few seconds,
// read back as the dashboard reads it, plus the pure edge cases (gaps, lone points, round axis tops).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
// The package by its own name (this file runs from dist/dashboard-test, so no relative path fits both places).
import { createHost, createThreadTier } from 'plugbay';
import {
  completePoints,
  completeUntil,
  frame,
  linePath,
  niceMax,
  pathPoints,
  type Sample,
  type SeriesReport,
  SeriesWindow,
  samples,
  timeTicks,
  windowMs,
  xOf,
  yOf,
} from './geometry.js';

/** `svc@1.0.0`: `work` answers; with `fail` it throws (the plugin's own error, counted by the ring). */
async function loadedHost(t: TestContext) {
  const root = await mkdtemp(join(tmpdir(), 'plugbay-geometry-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'svc');
  await mkdir(dir);
  const functions = { work: { input: {}, output: {} } };
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({ name: 'svc', version: '1.0.0', runtime: 'node', entry: 'index.mjs', functions }),
  );
  await writeFile(
    join(dir, 'index.mjs'),
    `export default { name: 'svc', version: '1.0.0', functions: { work: { input: {}, output: {},
      handler: (input) => { if (input.fail) throw new Error('injected'); return 1; } } } };\n`,
  );
  const host = createHost({ logger: pino({ level: 'silent' }), tiers: { thread: createThreadTier() } });
  t.after(() => host.close());
  const report = await host.loadDirectory(root);
  assert.equal(report.loaded.length, 1, JSON.stringify(report));
  return host;
}

test('real ring under load: whole seconds only, lines off the floor to the last second, incremental polls add up', async (t) => {
  const host = await loadedHost(t);
  const started = Date.now();
  // Load through three second boundaries, one call in five failing; counted here as the ring should count them.
  let calls = 0;
  let errors = 0;
  const end = (Math.floor(started / 1000) + 3) * 1000 + 300;
  const win = new SeriesWindow();
  let firstPoll: SeriesReport | undefined;
  while (Date.now() < end) {
    const fail = calls % 5 === 4;
    await host.call('svc', 'work', fail ? { fail: true } : {}).catch(() => {});
    calls++;
    if (fail) errors++;
    // A poll in the middle, as the dashboard's first: the rest comes incrementally below.
    if (firstPoll === undefined && Date.now() >= end - 1800) {
      firstPoll = host.series('svc', { sinceMs: win.nextSince(Date.now()), stepMs: 1000 });
      win.merge(firstPoll);
    }
  }
  assert.ok(firstPoll !== undefined);
  const report = host.series('svc', { sinceMs: win.nextSince(Date.now()), stepMs: 1000 });
  const [version] = report.versions;
  assert.ok(version !== undefined);
  // The incremental poll starts where the first one stopped: at the second that was still filling.
  assert.equal(version.points[0]?.t, completeUntil(firstPoll.at));
  assert.ok(version.points.length <= 3, `${version.points.length} points in the second poll`);
  win.merge(report);

  // The report ends with the second still filling: it is left out, whatever it holds.
  const filling = version.points.at(-1)!;
  assert.equal(filling.t, completeUntil(report.at));
  assert.deepEqual(completePoints(version.points, report.at, report.stepMs).at(-1)?.t, filling.t - 1000);

  const points = win.versions()[0]!.points;
  assert.equal(points.at(-1)!.t, completeUntil(report.at) - 1000);
  // Every call is in a kept second or in the one still filling: nothing lost, nothing counted twice.
  const kept = points.reduce((n, p) => n + p.calls, 0);
  const keptErrors = points.reduce((n, p) => n + p.errors, 0);
  assert.equal(kept + filling.calls, calls);
  assert.equal(keptErrors + filling.errors, errors);
  // The seconds wholly under load: calls in each, the last one included (no dip to zero at the right edge).
  const loaded = points.filter((p) => p.t >= Math.ceil(started / 1000) * 1000);
  assert.ok(loaded.length >= 2, `${loaded.length} whole seconds under load`);
  for (const p of loaded) assert.ok(p.calls > 0 && p.p99Ms !== undefined, JSON.stringify(p));

  const to = win.until!;
  const scaleOf = (values: Sample[]) => ({
    from: to - windowMs,
    to,
    yMax: niceMax(Math.max(...values.map((s) => s.v ?? 0))),
  });
  const rate = samples(points, 'callsPerSecond', 1000);
  const rateScale = scaleOf(rate);
  const drawn = pathPoints(linePath(rate, rateScale, 1000));
  assert.equal(drawn.length, points.length, 'one vertex per kept second (zero-filled before the load)');
  const floor = yOf(0, rateScale);
  const lastDrawn = drawn.slice(-loaded.length);
  for (const p of lastDrawn) assert.ok(p.y < floor - 1, `a loaded second drawn at y ${p.y}, floor ${floor}`);
  // The last vertex stands at the middle of the last whole second, half a second left of the plot's right edge.
  assert.ok(Math.abs(drawn.at(-1)!.x - xOf(to - 500, rateScale)) < 0.11);
  assert.ok(drawn.at(-1)!.x < frame.width - frame.right);
  // Its height is the second's own rate: calls in that second over the axis top.
  const last = loaded.at(-1)!;
  assert.ok(Math.abs(drawn.at(-1)!.y - yOf(last.calls, rateScale)) < 0.11);

  // Error rate: one call in five fails, so the loaded seconds sit near 20 % (a second holds hundreds of calls).
  const errorRate = samples(loaded, 'errorRatePercent', 1000);
  for (const s of errorRate) assert.ok(s.v !== undefined && s.v > 15 && s.v < 25, `error rate ${s.v} %`);
  // Before the load, no calls: no error rate and no latency (gaps), while calls/s is a real 0.
  const quiet = points.filter((p) => p.t + 1000 <= Math.floor(started / 1000) * 1000);
  assert.ok(quiet.length > 0);
  for (const s of samples(quiet, 'p99Ms', 1000)) assert.equal(s.v, undefined);
  for (const s of samples(quiet, 'callsPerSecond', 1000)) assert.equal(s.v, 0);
  const latency = linePath(samples(points, 'p99Ms', 1000), scaleOf(samples(points, 'p99Ms', 1000)), 1000);
  assert.equal(latency.match(/M/g)?.length, 1, 'one run of latency, starting where the load started');
});

test('a window merge keeps an unloaded version until its points leave the window, and whole seconds only', () => {
  const win = new SeriesWindow();
  const at = 1_700_000_000_500;
  const point = (t: number) => ({ t, calls: 1, errors: 0, p50Ms: 1, p99Ms: 2 });
  win.merge({
    at,
    stepMs: 1000,
    versions: [
      {
        plugin: 'a',
        version: '1.0.0',
        points: [point(at - 500 - windowMs - 1000), point(at - 1500), point(at - 500)],
      },
      { plugin: 'a', version: '2.0.0', points: [point(at - 1500), point(at - 500)] },
    ],
  });
  const shown = () => win.versions().map((v) => [v.version, v.loaded, v.points.map((p) => p.t)]);
  assert.deepEqual(shown(), [
    ['1.0.0', true, [at - 1500]],
    ['2.0.0', true, [at - 1500]],
  ]);
  assert.equal(win.nextSince(0), at - 500);
  // 2.0.0 is unloaded (a rolled-back canary): its seconds stay readable, marked so, with the one still filling
  // at the last report (the host dropped its ring: that is all there will ever be).
  win.merge({
    at: at + 1000,
    stepMs: 1000,
    versions: [{ plugin: 'a', version: '1.0.0', points: [point(at - 500)] }],
  });
  assert.deepEqual(shown(), [
    ['1.0.0', true, [at - 1500, at - 500]],
    ['2.0.0', false, [at - 1500, at - 500]],
  ]);
  // 15 minutes on, they have left the window, and so has the version.
  win.merge({
    at: at + windowMs + 1000,
    stepMs: 1000,
    versions: [{ plugin: 'a', version: '1.0.0', points: [] }],
  });
  assert.deepEqual(shown(), [['1.0.0', true, []]]);
});

test('time ticks: round steps counted back from the end, at most four', () => {
  const labels = (span: number) => timeTicks(1_000_000 - span, 1_000_000).map((x) => x.label);
  assert.deepEqual(labels(15 * 60_000), ['−15 min', '−10 min', '−5 min', 'now']);
  assert.deepEqual(labels(60_000), ['−1 min', '−30 s', 'now']);
  assert.deepEqual(labels(75_000), ['−1 min', '−30 s', 'now']);
  for (const span of [20_000, 60_000, 125_000, 300_000, 900_000])
    assert.ok(labels(span).length <= 4, `${span}`);
});

test('paths: a gap starts a new run, a lone point still shows, values above the top are clipped', () => {
  const s = { from: 0, to: 10_000, yMax: 10 };
  const d = linePath(
    [
      { t: 0, v: 5 },
      { t: 1000, v: 20 },
      { t: 2000, v: undefined },
      { t: 3000, v: 2 },
      { t: 4000, v: undefined },
      { t: 12_000, v: 1 },
    ],
    s,
    1000,
  );
  const runs = d.split('M').filter(Boolean);
  assert.equal(runs.length, 2);
  const pts = pathPoints(d);
  assert.equal(pts.length, 4, d); // 2 + the lone point drawn as a tiny segment; t = 12 000 is outside
  assert.equal(pts[1]!.y, yOf(10, s)); // 20 clipped at the top
  assert.ok(pts[3]!.x > pts[2]!.x && pts[3]!.y === pts[2]!.y);
  assert.deepEqual([0, 0.3, 1, 3, 7, 12, 99, 100, 101].map(niceMax), [1, 0.5, 1, 5, 10, 20, 100, 100, 200]);
});
