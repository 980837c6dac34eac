/**
 * The dashboard in a real browser (Debian's /usr/bin/chromium driven by playwright-core) against a real gateway
 * and host serving examples/plugins: see the plugins, activate, change a canary through the form, check the route
 * through the API, roll back, see the audit entries. The screenshot goes to test-output/dashboard.png.
 * Then pages of other origins try the admin API: a cross-site form and fetch, and a DNS-rebound page.
 */
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../../host/host.js';
import { repoRoot } from '../../test-support/cli.js';
import { createGateway } from '../server.js';
import { openPage } from './test-support.js';

test('dashboard: plugins, canary change, rollback and audit through the UI', async (t) => {
  const examples = join(repoRoot, 'examples/plugins');
  await stat(join(examples, 'greeter@1.0.0/plugin.json')).catch(() =>
    assert.fail('examples are not built: run `npm run build` first'),
  );
  const host = createHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  await host.loadDirectory(examples);
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  // Some traffic, so the live table has figures.
  for (let i = 0; i < 5; i++)
    await fetch(`${url}/v1/call/greeter/greet`, { method: 'POST', body: '{"name":"Ada"}' });

  const page = await openPage(t);
  await page.goto(url);
  const plugins = page.locator('#plugins-body');
  await plugins.getByText('greeter').first().waitFor();
  await plugins.getByText('ticker').first().waitFor();
  await page.getByText('broken-manifest', { exact: false }).first().waitFor(); // its load diagnostic

  // A 25 % canary of 1.1.0 through the form (the stable becomes 1.0.0, the other loaded version).
  const form = page.getByRole('form', { name: 'Canary of greeter' });
  // Focus first: the page's 2 s refresh re-renders the routes unless one of their fields has the focus, and
  // selectOption alone does not focus, so a refresh between it and fill() would reset the choice.
  await form.getByLabel('Canary version').focus();
  await form.getByLabel('Canary version').selectOption('1.1.0');
  await form.getByLabel('Canary %').fill('25');
  await form.getByRole('button', { name: 'Set canary' }).click();
  await page.getByRole('status').getByText('route greeter: done').waitFor();
  const route = (await (await fetch(`${url}/v1/routes/greeter`)).json()) as {
    route: { stable: string; canary?: { version: string; percent: number } };
  };
  assert.deepEqual(route.route.canary, { version: '1.1.0', percent: 25 });
  assert.equal(route.route.stable, '1.0.0');
  await page.getByText('1.1.0 at 25 %').waitFor();

  // Activate 1.1.0 with the keyboard, then roll back with a click: 1.0.0 is the stable again.
  await page.getByRole('button', { name: 'Activate greeter 1.1.0' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('status').getByText('activate greeter@1.1.0: done').waitFor();
  await page.getByRole('button', { name: 'Roll back greeter' }).click();
  await page.getByRole('status').getByText('rollback greeter: done').waitFor();
  const after = (await (await fetch(`${url}/v1/routes/greeter`)).json()) as { route: { stable: string } };
  assert.equal(after.route.stable, '1.0.0');
  const audit = page.locator('#audit-body');
  await audit.getByText('rollback').first().waitFor();
  await audit.getByText('dashboard').first().waitFor(); // the actor header the dashboard sends
  await page.locator('#stats-body').getByText('greeter@1.0.0').waitFor();

  // Try it: the form of slugify.slugify is prefilled from its manifest's example; its call shows the output, and
  // a refused input shows the error code.
  const tryIt = page.getByRole('form', { name: 'Try slugify.slugify' });
  const input = tryIt.getByLabel('Input of slugify.slugify (JSON)');
  assert.equal(await input.inputValue(), '"Hello, World!"');
  await tryIt.getByRole('button', { name: 'Call slugify.slugify' }).click();
  await tryIt.getByText('"hello-world"').waitFor();
  await tryIt.getByText('200 from slugify@1.0.0').waitFor();
  const greet = page.getByRole('form', { name: 'Try greeter.greet' });
  await greet.getByLabel('Input of greeter.greet (JSON)').fill('{"name": ""}');
  await greet.getByRole('button', { name: 'Call greeter.greet' }).click();
  await greet.getByText('PLUGBAY_INVALID_INPUT').waitFor();

  // The calls made above are drawn (a plugin nobody called is one line instead of three empty charts).
  await page.locator('#series-greeter-rate path.line').first().waitFor({ state: 'attached' });
  await page
    .getByRole('region', { name: 'Time series of ticker' })
    .getByText('no calls in the last 15 min')
    .waitFor();

  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  await page.screenshot({ path: join(repoRoot, 'test-output/dashboard.png'), fullPage: true });
  // A phone: nothing wider than the screen (long paths in the diagnostics, wide tables, the try-it forms).
  await page.setViewportSize({ width: 375, height: 812 });
  await page.waitForFunction('innerWidth === 375');
  const widths = (await page.evaluate('[document.documentElement.scrollWidth, innerWidth]')) as number[];
  assert.ok(widths[0]! <= widths[1]!, `no horizontal overflow at 375 px: ${widths}`);
  await page.screenshot({ path: join(repoRoot, 'test-output/dashboard-375.png'), fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });

  // Another origin: the same gateway through `localhost` is not the origin of `127.0.0.1`.
  const entries = async () =>
    ((await (await fetch(`${url}/v1/audit`)).json()) as { entries: unknown[] }).entries.length;
  const before = await entries();
  const other = await page.context().newPage();
  await other.goto(`${url.replace('127.0.0.1', 'localhost')}/healthz`);
  // A no-cors fetch is sent (the page just cannot read the answer); the gateway must refuse it itself.
  await other.evaluate(
    (target) => fetch(target, { method: 'POST', mode: 'no-cors', body: '{"version":"1.1.0"}' }),
    `${url}/v1/plugins/greeter/activate`,
  );
  // A form posted to the gateway: the browser shows its answer, so the refusal is readable here.
  await Promise.all([
    other.waitForURL(`${url}/v1/plugins/greeter/rollback`),
    // A string: this file is compiled without the DOM types.
    other.evaluate(`{
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = ${JSON.stringify(`${url}/v1/plugins/greeter/rollback`)};
      form.enctype = 'text/plain';
      document.body.append(form);
      form.submit();
    }`),
  ]);
  assert.match((await other.locator('body').textContent()) ?? '', /PLUGBAY_FORBIDDEN_ORIGIN/);
  assert.equal(await entries(), before, 'the cross-site requests changed nothing');

  // A rebound page is same-origin for the browser, so it could read answers: its Host gives it away.
  const rebound = await page.context().newPage();
  const port = new URL(url).port;
  const answer = await rebound.goto(`http://rebound.example:${port}/`);
  assert.equal(answer?.status(), 403);
  const sent = await rebound.evaluate(async () => {
    const res = await fetch('/v1/plugins/greeter/rollback', { method: 'POST' });
    return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
  });
  assert.deepEqual(sent, { status: 403, code: 'PLUGBAY_FORBIDDEN_ORIGIN' });
  assert.equal(await entries(), before, 'the rebound page changed nothing');
});

test('dashboard with an admin token: it asks for the token, refuses a wrong one, then works with it', async (t) => {
  const host = createHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  await host.loadDirectory(join(repoRoot, 'examples/plugins'));
  const token = 'dashboard-token-0123456789';
  const gateway = createGateway({ host, port: 0, adminToken: token });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();

  const page = await openPage(t);
  await page.goto(url);
  const login = page.getByRole('form', { name: 'Admin token' });
  await login.getByText('asks for its admin token').waitFor();
  await login.getByLabel('Admin token').fill('wrong-token-0123456789abc');
  await login.getByRole('button', { name: 'Sign in' }).click();
  await login.getByText('refused that token').waitFor();

  await login.getByLabel('Admin token').fill(token);
  await login.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#plugins-body').getByText('greeter').first().waitFor();
  await page.getByRole('button', { name: 'Activate greeter 1.0.0' }).click();
  await page.getByRole('status').getByText('activate greeter@1.0.0: done').waitFor();
  const route = await fetch(`${url}/v1/routes/greeter`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(((await route.json()) as { route: { stable: string } }).route.stable, '1.0.0');
  assert.equal(await login.isHidden(), true);
});
