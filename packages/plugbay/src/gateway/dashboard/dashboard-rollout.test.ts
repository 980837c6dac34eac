/**
 * A progressive rollout driven from the dashboard, as a person would: in Debian's Chromium against a real gateway
 * and host (thread tier) under steady client load, start a rollout of a version that fails one call in five
 * through the form, pause and resume it with the keyboard, and wait for the engine's automatic rollback to show.
 * The charts must hold real data (SVG paths with points above zero), the thresholds must be drawn, an open circuit
 * must show its reason, and at 375 px the page must not scroll sideways. Screenshots at 1280 and 375 px go to
 * test-output/. Then, at phone width, a rollout is aborted and another promoted now from their buttons.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { createHost } from '../../host/host.js';
import type { PluginHost } from '../../host/types.js';
import { repoRoot } from '../../test-support/cli.js';
import { createInlineTier, createThreadTier } from '../../tiers/index.js';
import { createGateway } from '../server.js';
import { openPage } from './test-support.js';

const intervalMs = 2000;

/** `svc@<version>`: `work` spins ~0.2 ms and answers its version; with `failEvery` its every n-th call throws. */
async function writeSvc(root: string, version: string, failEvery?: number): Promise<void> {
  const dir = join(root, `svc@${version}`);
  await mkdir(dir);
  const functions = { work: { input: {}, output: {} } };
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({ name: 'svc', version, runtime: 'node', entry: 'index.mjs', functions }),
  );
  const fail =
    failEvery === undefined ? '' : `if (++n % ${failEvery} === 0) throw new Error('injected failure');`;
  await writeFile(
    join(dir, 'index.mjs'),
    `let n = 0;
    export default { name: 'svc', version: '${version}', functions: { work: { input: {}, output: {}, handler: () => {
      ${fail}
      const end = performance.now() + 0.2; while (performance.now() < end);
      return '${version}';
    } } } };\n`,
  );
}

/** Clients calling svc.work until stopped; every failure is kept to be accounted for. */
function load(url: string, clients: number) {
  let stopped = false;
  let ok = 0;
  const failures: { status: number; code: string; version: string | undefined }[] = [];
  const one = async () => {
    while (!stopped) {
      const res = await fetch(`${url}/v1/call/svc/work`, { method: 'POST', body: '{}' });
      const body = (await res.json()) as { error?: { code: string; version?: string } };
      if (res.ok) ok++;
      else failures.push({ status: res.status, code: body.error?.code ?? '?', version: body.error?.version });
      // Paced: steady traffic that leaves the browser its share of the two cores.
      await new Promise((r) => setTimeout(r, 4));
    }
  };
  const running = Promise.all(Array.from({ length: clients }, one));
  return {
    get ok() {
      return ok;
    },
    failures,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

/** How many vertices of an SVG path stand above its chart's zero line. Runs in the page (hence plain types). */
function countAboveZero(
  path: { getAttribute(name: string): string | null; ownerSVGElement: unknown } | null,
) {
  if (path === null) return 0;
  const svg = path.ownerSVGElement as {
    querySelector(s: string): { getAttribute(n: string): string | null } | null;
  };
  const zero = Number(svg.querySelector('line.axis')?.getAttribute('y1'));
  const ys = [...(path.getAttribute('d') ?? '').matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) =>
    Number(m[2]),
  );
  return ys.filter((y) => y < zero - 0.5).length;
}

/** countAboveZero of every path under `selector`. */
async function pointsAboveZero(page: Page, selector: string): Promise<number[]> {
  const count = `(paths) => paths.map((p) => (${countAboveZero.toString()})(p))`;
  return (await page.$$eval(selector, new Function(`return ${count}`)() as never)) as number[];
}

async function setUp(t: TestContext) {
  const root = await mkdtemp(join(tmpdir(), 'plugbay-dashboard-rollout-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeSvc(root, '1.0.0');
  await writeSvc(root, '2.0.0', 5);
  // `stuck` (inline) never answers within its 20 ms budget: its timeouts open its circuit, held open for the test.
  const stuck = join(root, 'stuck');
  await mkdir(stuck);
  const functions = { wait: { input: {}, output: {}, timeoutMs: 20 } };
  await writeFile(
    join(stuck, 'plugin.json'),
    JSON.stringify({ name: 'stuck', version: '1.0.0', runtime: 'node', entry: 'index.mjs', functions }),
  );
  await writeFile(
    join(stuck, 'index.mjs'),
    `export default { name: 'stuck', version: '1.0.0', functions: { wait: { input: {}, output: {},
      handler: () => new Promise(() => {}) } } };\n`,
  );
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { thread: createThreadTier(), inline: createInlineTier() },
    tierFor: (p) => (p.manifest.name === 'stuck' ? 'inline' : 'thread'),
    circuit: { failureThreshold: 5, coolDownMs: 600_000, maxCoolDownMs: 600_000 },
  });
  t.after(() => host.close());
  await host.load(stuck);
  // 1.0.0 is the stable, then 2.0.0 is loaded beside it (a route change releases the versions it stops serving,
  // so 2.0.0 comes after the route that does not name it).
  await host.load(join(root, 'svc@1.0.0'));
  await host.activate('svc', '1.0.0');
  await host.load(join(root, 'svc@2.0.0'));
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  return { url, host, root };
}

test('dashboard: a rollout started from the page is rolled back by itself; charts with data at 1280 and 375 px', async (t) => {
  const { url, host, root } = await setUp(t);
  const page = await openPage(t, { width: 1280, height: 900 }, { bypassCSP: true }); // its waitForFunction polls
  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  try {
    await drive(t, url, page);
    await abortAndPromote(url, page, host, root);
  } catch (err) {
    // What the page showed when a step failed: the first thing to look at.
    await page.screenshot({
      path: join(repoRoot, 'test-output/dashboard-rollout-failed.png'),
      fullPage: true,
    });
    throw err;
  }
});

async function drive(t: TestContext, url: string, page: Page): Promise<void> {
  await page.goto(url);
  const status = page.getByRole('status');

  // Traffic on the stable first, until the calls chart (1-minute span) shows a few whole seconds of it.
  const clients = load(url, 4);
  t.after(() => clients.stop());
  await page.getByRole('radio', { name: '1 min' }).check();
  const stableCalls = '#series-svc-rate path.line[data-series="1.0.0"]';
  await page.waitForFunction(
    `(${countAboveZero.toString()})(document.querySelector(${JSON.stringify(stableCalls)})) >= 4`,
  );

  // Stable 1.0.0 and canary 2.0.0 named in the form.
  const start = page.getByRole('form', { name: 'Start a rollout' });
  await start.getByLabel('Plugin').selectOption('svc');
  await start.getByLabel('Stable version').selectOption('1.0.0');
  await start.getByLabel('Canary version').selectOption('2.0.0');
  await start.getByLabel('Steps (%)').fill('20,50,100');
  await start.getByLabel('Interval').fill(`${intervalMs / 1000}s`);
  await start.getByLabel('Max error rate increase (points)').fill('2');
  await start.getByLabel('Max p99 ratio').fill('3');
  await start.getByLabel('Min calls per step').fill('20');
  await start.getByRole('button', { name: 'Start rollout' }).click();
  await status.getByText('rollout svc@2.0.0: done').waitFor();

  const card = page.getByRole('region', { name: 'Rollout of svc' });
  await card.getByText('Stable 1.0.0: 80 % · canary 2.0.0: 20 %').waitFor();
  // Paused with the keyboard: held at its step; resumed the same way.
  await card.getByRole('button', { name: 'Pause rollout of svc' }).focus();
  await page.keyboard.press('Enter');
  await status.getByText('pause rollout svc: done').waitFor();
  await card.locator('.badge.rollout-paused').waitFor();
  await card.getByRole('button', { name: 'Resume rollout of svc' }).focus();
  await page.keyboard.press('Enter');
  await status.getByText('resume rollout svc: done').waitFor();

  // The engine sees one canary call in five fail and sends all traffic back to 1.0.0 by itself.
  await card.locator('.badge.rollout-rolled-back').waitFor({ timeout: 30_000 });
  await card.getByText('Stable 1.0.0: 100 % · canary 2.0.0: 0 %').waitFor();
  // 2.0.0 was released with the rollback: the start form no longer offers it.
  await page.locator('#rollout-start').getByText('needs a plugin with two loaded versions').waitFor();
  const failRow = card.locator('tr', { has: page.locator('.verdict-fail') });
  await failRow.first().waitFor();
  assert.match(
    (await failRow.first().textContent()) ?? '',
    /calls, \d+ errors/,
    'the evidence of the failure',
  );
  const rollout = (await (await fetch(`${url}/v1/admin/rollouts/svc`)).json()) as {
    state: string;
    history: { verdict: string; at: number; step: number }[];
  };
  assert.equal(rollout.state, 'rolled-back');
  const fail = rollout.history.find((d) => d.verdict === 'fail')!;
  // Judged within one interval of the step where it was exposed (that step started at its last resume or start).
  const exposed = rollout.history.findLast(
    (d) => d.at <= fail.at && (d.verdict === 'resume' || d.verdict === 'start'),
  )!;
  assert.equal(fail.step, 0);
  // A step that ended with too few canary calls is extended by one interval (a recorded 'wait'); 500 ms for the
  // timer and the judgement on a busy machine.
  const waits = rollout.history.filter((d) => d.verdict === 'wait' && d.at > exposed.at).length;
  const allowed = intervalMs * (1 + waits) + 500;
  assert.ok(
    fail.at - exposed.at <= allowed,
    `rolled back ${fail.at - exposed.at} ms into the step (${waits} waits)`,
  );
  const route = (await (await fetch(`${url}/v1/routes/svc`)).json()) as {
    route: { stable: string; canary?: unknown };
  };
  assert.deepEqual([route.route.stable, route.route.canary], ['1.0.0', undefined]);
  // A few whole seconds of the stable alone after the rollback, drawn.
  const before = await pointsAboveZero(page, stableCalls);
  await page.waitForFunction(
    `(${countAboveZero.toString()})(document.querySelector(${JSON.stringify(stableCalls)})) >= ${(before[0] ?? 0) + 3}`,
  );

  // Charts with real data: the calls chart of both versions, the canary's error rate, the side-by-side panel.
  await page.locator('#series-svc-rate path.line').first().waitFor();
  const rates = await pointsAboveZero(page, '#series-svc-rate path.line');
  assert.equal(rates.length, 2, 'a calls line per version');
  for (const n of rates) assert.ok(n > 0, `calls/s points above zero: ${rates}`);
  // The p99 line of each version: a p50 of a fraction of a ms can sit within half a pixel of the axis when a stall
  // of a loaded machine sets the scale.
  const latency = await pointsAboveZero(page, '#series-svc-latency path.line[data-series$=" p99"]');
  assert.ok(latency.length === 2 && latency.every((n) => n > 0), `p99 lines above zero: ${latency}`);
  // The canary's error rate in the rollout panel: per second from the series, and the window each decision judged
  // (the series loses the last seconds of a canary released before the next poll; the judged windows stay).
  const sideErrors = await pointsAboveZero(page, '#rollout-svc-canary-errors path.line');
  assert.ok(
    (await pointsAboveZero(page, '#rollout-svc-canary-errors path.line[data-series="2.0.0 judged"]'))[0]! > 0,
    `the failed window's error rate is drawn above zero: ${sideErrors}`,
  );
  assert.equal(await page.locator('#rollout-svc-canary-errors line.threshold').count(), 1, 'threshold drawn');
  assert.equal(
    await page.locator('#rollout-svc-stable-p99 line.threshold').count(),
    1,
    'p99 threshold drawn',
  );

  // An open circuit with its reason: five timeouts in a row, the last error, when it lets a call through again.
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${url}/v1/call/stuck/wait`, { method: 'POST', body: '{}' });
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PLUGBAY_TIMEOUT');
  }
  const stuckRow = page.locator('#plugins-body tr', { hasText: 'stuck' });
  await stuckRow.getByText('open (skipped)').waitFor();
  await stuckRow.getByText('5 failed calls in a row').waitFor();
  await stuckRow.getByText('PLUGBAY_TIMEOUT').waitFor();

  await page.screenshot({ path: join(repoRoot, 'test-output/dashboard-rollout-1280.png'), fullPage: true });
  // Strings: this file is compiled without the DOM types.
  const widths = 'Promise.resolve([document.documentElement.scrollWidth, innerWidth])';
  const wide = (await page.evaluate(widths)) as number[];
  assert.ok(wide[0]! <= wide[1]!, `no horizontal overflow at 1280 px: ${wide}`);

  await page.setViewportSize({ width: 375, height: 812 });
  // Laid out again at the phone's width (the next refresh redraws too).
  await page.waitForFunction('innerWidth === 375');
  const narrow = (await page.evaluate(widths)) as number[];
  assert.ok(narrow[0]! <= narrow[1]!, `no horizontal overflow at 375 px: ${narrow}`);
  await page.screenshot({ path: join(repoRoot, 'test-output/dashboard-rollout-375.png'), fullPage: true });

  await clients.stop();
  // Every failure the clients saw is 2.0.0's own injected error: none came from the switching.
  assert.ok(clients.failures.length > 0, 'the canary did fail some calls');
  for (const f of clients.failures)
    assert.deepEqual(f, { status: 502, code: 'PLUGBAY_PLUGIN_ERROR', version: '2.0.0' });
}

/** Abort and promote now, from the page at phone width: each on a healthy version loaded for it. */
async function abortAndPromote(url: string, page: Page, host: PluginHost, root: string): Promise<void> {
  const status = page.getByRole('status');
  const start = page.getByRole('form', { name: 'Start a rollout' });
  const card = page.getByRole('region', { name: 'Rollout of svc' });
  const state = async () =>
    ((await (await fetch(`${url}/v1/admin/rollouts/svc`)).json()) as { state: string }).state;
  const route = async () =>
    ((await (await fetch(`${url}/v1/routes/svc`)).json()) as { route: { stable?: string; canary?: unknown } })
      .route;
  for (const [version, action, label, ending] of [
    ['2.1.0', 'abort', 'Abort', 'aborted'],
    ['2.2.0', 'promote', 'Promote now', 'promoted'],
  ] as const) {
    await writeSvc(root, version);
    await host.load(join(root, `svc@${version}`));
    // The form offers the new version as the canary by default, the route's stable as the stable.
    await start
      .getByLabel('Canary version')
      .locator(`option[value="${version}"]`)
      .waitFor({ state: 'attached' });
    assert.equal(await start.getByLabel('Canary version').inputValue(), version);
    await start.getByRole('button', { name: 'Start rollout' }).click();
    await status.getByText(`rollout svc@${version}: done`).waitFor();
    await card.getByRole('heading', { name: `svc: 1.0.0 → ${version}` }).waitFor();
    await card.getByRole('button', { name: `${label} rollout of svc` }).click();
    await status.getByText(`${action} rollout svc: done`).waitFor();
    await card.locator(`.badge.rollout-${ending}`).waitFor();
    assert.equal(await state(), ending);
  }
  const after = await route();
  assert.deepEqual([after.stable, after.canary], ['2.2.0', undefined]);
}
