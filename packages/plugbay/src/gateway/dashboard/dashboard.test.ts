/**
 * The dashboard in a real browser (Debian's /usr/bin/chromium driven by playwright-core) against a real gateway
 * and host serving examples/plugins: see the plugins, activate, change a canary through the form, check the route
 * through the API, roll back, see the audit entries. The screenshot goes to test-output/dashboard.png.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { createHost } from '../../host/host.js';
import { repoRoot } from '../../test-support/cli.js';
import { createGateway } from '../server.js';

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

  const profile = await mkdtemp(join(tmpdir(), 'plugbay-chromium-'));
  t.after(() => rm(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1366, height: 900 },
  });
  t.after(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
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

  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  await page.screenshot({ path: join(repoRoot, 'test-output/dashboard.png'), fullPage: true });
});
