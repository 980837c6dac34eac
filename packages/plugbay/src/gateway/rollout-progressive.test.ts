// Progressive rollouts over real HTTP: a real gateway, thread-tier plugin versions, steady client load. The
// rollout's scheduler is driven by the test: it fires the pending judgement once the canary has answered enough
// calls in the step, so no test waits on wall-clock time and none depends on how busy the machine is.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import type { RolloutRecord } from '../host/rollout-spec.js';
import type { PluginHost } from '../host/types.js';
import { SqliteStateStore } from '../store/sqlite.js';
import { HandScheduler } from '../test-support/hand-scheduler.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createGateway } from './server.js';

const quiet = pino({ level: 'silent' });

/**
 * svc@version: `who` answers the version after `delayMs`; with `failEvery`, every n-th call of the instance
 * throws an error marked `injected` (so a test tells the plugin's own failures from any other).
 */
async function writeSvc(root: string, version: string, delayMs: number, failEvery = 0): Promise<void> {
  await writePlugin(root, `svc@${version}`, {
    manifest: manifest({ name: 'svc', version, functions: { who: { input: {}, output: {} } } }),
    files: {
      'index.mjs': `let n = 0;
export default { name: 'svc', version: '${version}', functions: {
  who: { input: {}, output: {}, handler: async () => {
    n++;
    await new Promise((r) => setTimeout(r, ${delayMs}));
    if (${failEvery} > 0 && n % ${failEvery} === 0) throw new Error('injected failure ' + n);
    return '${version}';
  } } } };\n`,
    },
  });
}

interface Seen {
  ok: Map<string, number>;
  failures: { status: number; code: string; version: string | undefined; message: string }[];
}

/** One client's answer, as the load thread posts it. */
type Answer =
  | { ok: true; version: string }
  | { ok: false; status: number; code: string; version: string | undefined; message: string };

// The clients run in a thread of their own: their work does not delay the gateway's event loop, whose lag would
// otherwise show in the latencies the rollout judges.
const loadThread = `
const { parentPort, workerData } = require('node:worker_threads');
let stopped = false;
parentPort.on('message', () => { stopped = true; });
let key = 0;
const lane = async () => {
  while (!stopped) {
    const res = await fetch('http://127.0.0.1:' + workerData.port + '/v1/call/svc/who', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-plugbay-key': 'k' + key++ },
      body: '{}',
    });
    const body = await res.json();
    if (res.status === 200)
      parentPort.postMessage({ ok: true, version: String(res.headers.get('x-plugbay-served-by')).slice(4) });
    else
      parentPort.postMessage({ ok: false, status: res.status, code: body.error.code, version: body.error.version,
        message: body.error.message });
  }
};
Promise.all(Array.from({ length: workerData.lanes }, lane)).then(() => parentPort.close());
`;

/** Steady load: `lanes` keep-alive clients calling svc.who with a fresh key each, until stopped. */
function load(port: number, lanes = 24) {
  const seen: Seen = { ok: new Map(), failures: [] };
  const waiters: (() => void)[] = [];
  const worker = new Worker(loadThread, { eval: true, workerData: { port, lanes } });
  worker.on('message', (a: Answer) => {
    if (a.ok) seen.ok.set(a.version, (seen.ok.get(a.version) ?? 0) + 1);
    else seen.failures.push({ status: a.status, code: a.code, version: a.version, message: a.message });
    for (const w of waiters.splice(0)) w();
  });
  const exited = once(worker, 'exit');
  return {
    seen,
    /** Answers of `version` so far, ok and failed. */
    count: (version: string) =>
      (seen.ok.get(version) ?? 0) + seen.failures.filter((f) => f.version === version).length,
    /** Resolves once `version` has answered `n` more calls than now (woken by each answer, not by a timer). */
    async more(version: string, n: number) {
      const target = this.count(version) + n;
      while (this.count(version) < target) await new Promise<void>((r) => waiters.push(r));
    },
    /** Lets each lane finish its call in flight, then ends the thread (every answer has been counted). */
    async stop() {
      if (worker.threadId === -1) return;
      worker.postMessage('stop');
      await exited;
    },
  };
}

async function serve(t: TestContext, roots: string[], scheduler: HandScheduler, stateFile?: string) {
  const store = stateFile === undefined ? undefined : new SqliteStateStore({ file: stateFile });
  const host = createHost({
    logger: quiet,
    tierFor: () => 'thread',
    rolloutScheduler: scheduler,
    ...(store === undefined ? {} : { store }),
  });
  for (const root of roots) await host.loadDirectory(root);
  const gateway = createGateway({ host, port: 0, logger: quiet });
  const { port } = await gateway.listen();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await gateway.close();
    await host.close();
    store?.close();
  };
  t.after(close);
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  return { host, port, admin, close };
}

const thresholds = { minCalls: 100, maxErrorRateIncrease: 1, maxP99Ratio: 1.5, p99SlackMs: 30 };
/**
 * The stable's work per call; the slow canary takes 3× as long. Long enough that the scheduling delays of a busy
 * machine (tens of ms, added to both sides' tails) do not squeeze a 3× ratio under the threshold.
 */
const workMs = 100;

/**
 * svc@1.0.0 serving steady load as the stable, and the canary loaded beside it (not yet routed), so that no
 * version starts inside a step's window. Waits for some stable answers: the step's window starts warm.
 */
async function setUp(t: TestContext, canary: { delayMs: number; failEvery?: number; stableMs?: number }) {
  const root = await tempDir(t);
  const canaryRoot = await tempDir(t);
  await writeSvc(root, '1.0.0', canary.stableMs ?? workMs);
  await writeSvc(canaryRoot, '1.1.0', canary.delayMs, canary.failEvery);
  const sched = new HandScheduler();
  const served = await serve(t, [root], sched);
  await served.host.activate('svc', '1.0.0');
  await served.host.load(join(canaryRoot, 'svc@1.1.0'));
  const l = load(served.port);
  t.after(() => l.stop());
  await l.more('1.0.0', 200);
  return { ...served, sched, l };
}
/**
 * The 3×-slower run has the stable take 300 ms and the canary 900 ms: on an overloaded machine the scheduling
 * stalls added to both tails reach several hundred ms, which would squeeze 100 vs 300 ms under any ratio.
 *
 * The healthy runs judge p99 loosely (×3): each version runs in its own worker thread, and on an overloaded
 * machine (load average 7–15 on 2 cores seen here) one thread descheduled for 200 ms slows every call it holds,
 * a few percent of a step's 300 canary calls — enough to move a p99 bound of so few calls. The p99 rule itself is
 * held to the default ×1.5 by the 3×-slower test, at confidence 0.95 (the canary's p99 taken as its lower bound,
 * p97.7 of its 150 calls, against the stable's p99), where the canary's whole body of calls is slow.
 */
const healthyThresholds = { ...thresholds, maxP99Ratio: 3 };
const slowThresholds = { ...thresholds, confidence: 0.95 };

/** Canary answers a step waits for before the test lets its timer fire: past minCalls, so a step can be judged. */
const perStep = 150;

/** Fires the rollout's timers, each after `perStep` more canary answers, until it leaves `stepIndex` or running. */
async function judgeStep(
  host: PluginHost,
  sched: HandScheduler,
  l: ReturnType<typeof load>,
  version: string,
) {
  const before = host.rollouts.get('svc')!;
  let fires = 0;
  for (;;) {
    await l.more(version, perStep);
    await sched.fire();
    fires++;
    const now = host.rollouts.get('svc')!;
    if (now.state !== 'running' || now.stepIndex !== before.stepIndex) return { record: now, fires };
    assert.ok(fires < 6, `step ${before.stepIndex} still undecided after ${fires} judgements`);
  }
}

/** Every failure a client saw is the canary's own injected one: none comes from the switching. */
function onlyInjected(seen: Seen, canary: string) {
  for (const f of seen.failures) {
    assert.equal(f.code, 'PLUGBAY_PLUGIN_ERROR', JSON.stringify(f));
    assert.equal(f.version, canary, JSON.stringify(f));
    assert.match(f.message, /injected failure/);
  }
}

/** The decisions in words, for assertion messages. */
const reasons = (r: RolloutRecord) => r.history.map((d) => `${d.verdict}: ${d.reason}`).join('\n');

function assertEvidence(r: RolloutRecord, verdict: string) {
  const d = r.history.findLast((h) => h.verdict === verdict);
  assert.ok(d !== undefined, `no ${verdict} decision in ${JSON.stringify(r.history.map((h) => h.verdict))}`);
  assert.ok(d.canary.calls >= thresholds.minCalls, `canary calls ${d.canary.calls}`);
  assert.ok(d.stable.calls > 0);
  assert.equal(typeof d.canary.p99Ms, 'number');
  assert.equal(typeof d.stable.p99Ms, 'number');
  assert.equal(typeof d.errorRateIncrease, 'number');
  return d;
}

test('a healthy canary steps up by itself to 100 % and is promoted; 0 failed calls; audited with evidence', async (t) => {
  const { host, admin, sched, l } = await setUp(t, { delayMs: workMs });
  const started = await admin('POST', '/v1/admin/rollouts', {
    plugin: 'svc',
    version: '1.1.0',
    steps: [20, 50, 100],
    interval: '400ms',
    thresholds: healthyThresholds,
  });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  assert.deepEqual(host.route('svc')?.canary, { version: '1.1.0', percent: 20 });
  const first = await judgeStep(host, sched, l, '1.1.0');
  assert.equal(first.record.stepIndex, 1, reasons(first.record));
  assert.deepEqual(host.route('svc')?.canary, { version: '1.1.0', percent: 50 });
  const second = await judgeStep(host, sched, l, '1.1.0');
  await l.stop();
  assert.equal(second.record.state, 'promoted', reasons(second.record));
  assert.equal(host.route('svc')?.stable, '1.1.0');
  assert.equal(host.route('svc')?.canary, undefined);
  assert.deepEqual(
    second.record.history.map((h) => h.verdict),
    ['start', 'pass', 'pass', 'promote'],
  );
  assertEvidence(second.record, 'pass');
  assert.deepEqual(l.seen.failures, [], 'no call failed');
  const audit = host.audit({ plugin: 'svc' }).filter((e) => e.action.startsWith('rollout-'));
  assert.deepEqual(audit.map((e) => e.action).reverse(), [
    'rollout-start',
    'rollout-pass',
    'rollout-pass',
    'rollout-promote',
  ]);
  const pass = audit.find((e) => e.action === 'rollout-pass')!;
  assert.ok(((pass.details?.canary as { calls: number } | undefined)?.calls ?? 0) >= thresholds.minCalls);
  t.diagnostic(reasons(second.record));
  const read = await admin('GET', '/v1/admin/rollouts/svc');
  assert.equal((read.body as RolloutRecord).state, 'promoted');
});

for (const [name, canary] of [
  ['fails 20 % of its calls', { delayMs: workMs, failEvery: 5, why: /error rate/ }],
  ['is 3× slower at p99', { stableMs: 3 * workMs, delayMs: 9 * workMs, failEvery: 0, why: /p99/ }],
] as const) {
  test(`a canary that ${name} is rolled back at the step where it was exposed, with evidence; no switching failure`, async (t) => {
    const { host, admin, sched, l } = await setUp(t, {
      delayMs: canary.delayMs,
      ...('stableMs' in canary ? { stableMs: canary.stableMs } : {}),
      failEvery: canary.failEvery,
    });
    const started = await admin('POST', '/v1/admin/rollouts', {
      plugin: 'svc',
      version: '1.1.0',
      steps: [20, 50, 100],
      intervalMs: 400,
      thresholds: canary.failEvery > 0 ? thresholds : slowThresholds,
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const { record, fires } = await judgeStep(host, sched, l, '1.1.0');
    // Calls after the rollback all go to stable.
    const stableBefore = l.seen.ok.get('1.0.0') ?? 0;
    await l.more('1.0.0', 50);
    await l.stop();
    t.diagnostic(reasons(record));
    assert.equal(record.state, 'rolled-back', reasons(record));
    const fail = assertEvidence(record, 'fail');
    assert.equal(fail.step, 0, 'rolled back at the step where it was exposed');
    // Within one interval: the first judgement with minCalls of evidence (an early check) decides it.
    assert.equal(fires, 1, reasons(record));
    assert.match(fail.reason, canary.why);
    if (canary.failEvery > 0) {
      assert.ok(fail.canary.errors > 0 && fail.errorRateIncrease! >= 10, JSON.stringify(fail));
      assert.ok(l.seen.failures.length > 0);
    } else assert.ok(fail.p99Ratio! > thresholds.maxP99Ratio, JSON.stringify(fail));
    assert.deepEqual(host.route('svc'), { stable: '1.0.0' });
    assert.ok((l.seen.ok.get('1.0.0') ?? 0) >= stableBefore + 50);
    onlyInjected(l.seen, '1.1.0');
    const audited = host.audit({ plugin: 'svc' }).find((e) => e.action === 'rollout-fail');
    assert.equal((audited?.details?.canary as { calls: number } | undefined)?.calls, fail.canary.calls);
    assert.equal(typeof (audited?.details?.stable as { p99Ms: number } | undefined)?.p99Ms, 'number');
  });
}

test('a rollout survives a restart: the next host resumes it at its step, with its start time, and promotes', async (t) => {
  const root = await tempDir(t);
  const stateFile = join(await tempDir(t), 'state.db');
  await writeSvc(root, '1.0.0', workMs);
  await writeSvc(root, '1.1.0', workMs);
  const first = await serve(t, [root], new HandScheduler(), stateFile);
  await first.host.activate('svc', '1.0.0');
  const started = await first.admin('POST', '/v1/admin/rollouts', {
    plugin: 'svc',
    version: '1.1.0',
    steps: [20, 50, 100],
    interval: '400ms',
    thresholds: healthyThresholds,
  });
  assert.equal(started.status, 201);
  const atStart = first.host.rollouts.get('svc')!;
  await first.close();

  const sched = new HandScheduler();
  const second = await serve(t, [root], sched, stateFile);
  const resumed = second.host.rollouts.get('svc')!;
  assert.equal(resumed.state, 'running');
  assert.equal(resumed.stepStartedAt, atStart.stepStartedAt);
  assert.equal(sched.pending.size, 1, 'the resumed rollout has its timer');
  assert.deepEqual(second.host.route('svc')?.canary, { version: '1.1.0', percent: 20 });
  const l = load(second.port);
  await judgeStep(second.host, sched, l, '1.1.0');
  const { record } = await judgeStep(second.host, sched, l, '1.1.0');
  await l.stop();
  t.diagnostic(reasons(record));
  assert.equal(record.state, 'promoted', reasons(record));
  assert.deepEqual(l.seen.failures, []);
});

test('admin calls: pause holds the step, resume restarts it, abort returns all traffic to stable; conflicts are 409', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, '1.0.0', 1);
  await writeSvc(root, '1.1.0', 1);
  const sched = new HandScheduler();
  const { host, admin } = await serve(t, [root], sched);
  await host.activate('svc', '1.0.0');
  const spec = { plugin: 'svc', version: '1.1.0', steps: [10, 100], intervalMs: 400, thresholds };
  assert.equal((await admin('POST', '/v1/admin/rollouts', spec)).status, 201);
  const again = await admin('POST', '/v1/admin/rollouts', spec);
  assert.equal(again.status, 409);
  assert.equal((again.body as { error: { code: string } }).error.code, 'PLUGBAY_ROLLOUT_CONFLICT');
  const paused = await admin('POST', '/v1/admin/rollouts/svc/pause', { reason: 'lunch' });
  assert.equal((paused.body as RolloutRecord).state, 'paused');
  assert.equal(sched.pending.size, 0, 'a paused rollout judges nothing');
  assert.equal((await admin('POST', '/v1/admin/rollouts/svc/pause')).status, 409);
  assert.equal(
    ((await admin('POST', '/v1/admin/rollouts/svc/resume')).body as RolloutRecord).state,
    'running',
  );
  assert.equal(sched.pending.size, 1);
  const aborted = await admin('POST', '/v1/admin/rollouts/svc/abort');
  assert.equal((aborted.body as RolloutRecord).state, 'aborted');
  assert.deepEqual(host.route('svc'), { stable: '1.0.0' });
  assert.equal((await admin('POST', '/v1/admin/rollouts/nope/abort')).status, 404);
  const bad = await admin('POST', '/v1/admin/rollouts', { ...spec, steps: [50, 20, 100] });
  assert.equal(bad.status, 400);
  assert.equal((bad.body as { error: { details: { field: string } } }).error.details.field, 'steps.1');
  const list = await admin('GET', '/v1/admin/rollouts');
  assert.deepEqual(
    (list.body as { rollouts: RolloutRecord[] }).rollouts.map((r) => [r.plugin, r.state]),
    [['svc', 'aborted']],
  );
  // A promote of a new rollout activates the canary at once.
  assert.equal((await admin('POST', '/v1/admin/rollouts', spec)).status, 201);
  const promoted = await admin('POST', '/v1/admin/rollouts/svc/promote');
  assert.equal((promoted.body as RolloutRecord).state, 'promoted');
  assert.equal(host.route('svc')?.stable, '1.1.0');
});
