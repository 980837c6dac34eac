/**
 * Stored XSS through the dashboard, in a real browser (Debian's chromium via playwright-core): everything a plugin
 * or an admin caller controls that the page renders carries markup that would run script if it were parsed as
 * HTML: a function's description (the try-it form), a thrown error's message (the try-it output), an admin
 * caller's rollout reasons (the audit log, the rollout's decisions). The page must show each as text and run none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../../host/host.js';
import { manifest, tempDir, writePlugin } from '../../test-support/plugins.js';
import { createInlineTier } from '../../tiers/index.js';
import { createGateway } from '../server.js';
import { openPage } from './test-support.js';

// No double quotes: the try-it output shows the error body as JSON, which would escape them.
const payload = (tag: string) => `<img src=x onerror=window.__xss='${tag}'>`;

test('dashboard: markup from plugins and callers shows as text and never runs', async (t) => {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `evil@${version}`, {
      manifest: manifest({
        name: 'evil',
        version,
        functions: { boom: { input: {}, output: {}, description: payload('description') } },
      }),
      files: {
        'index.mjs': `export default { name: 'evil', version: '${version}', functions: {
          boom: { input: {}, output: {}, handler: () => { throw new Error(${JSON.stringify(payload('error'))}); } } } };\n`,
      },
    });
  }
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tierFor: () => 'inline',
    tiers: { inline: createInlineTier() },
  });
  t.after(() => host.close());
  await host.loadDirectory(root);
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  const json = { 'content-type': 'application/json' };
  const started = await fetch(`${url}/v1/admin/rollouts`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({
      plugin: 'evil',
      version: '1.1.0',
      stable: '1.0.0',
      interval: '10m',
      reason: payload('start-reason'),
      checks: [{ type: 'promql', name: payload('check'), url: 'http://127.0.0.1:9', query: 'up', max: 1 }],
    }),
  });
  assert.equal(started.status, 201, await started.clone().text());
  const aborted = await fetch(`${url}/v1/admin/rollouts/evil/abort`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ reason: payload('abort-reason') }),
  });
  assert.equal(aborted.status, 200);
  const page = await openPage(t);
  page.setDefaultTimeout(10_000);
  await page.goto(url);
  // Each shows literally: the markup is the text of the page.
  await page.getByText(payload('description')).first().waitFor();
  const tryIt = page.getByRole('form', { name: 'Try evil.boom' });
  await tryIt.getByRole('button', { name: 'Call evil.boom' }).click();
  await tryIt.getByText(payload('error'), { exact: false }).waitFor(); // the 500's message
  await page.locator('#audit-body').getByText(payload('abort-reason'), { exact: false }).first().waitFor();
  await page.locator('#rollouts-list').getByText(payload('abort-reason'), { exact: false }).first().waitFor();
  // No element was made of it, and no handler ran (an <img src=x> fails to load at once, firing onerror).
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.evaluate('window.__xss'), undefined);
});

test('dashboard: no other page may frame it (clickjacking its controls), and its scripts are its own', async (t) => {
  const host = createHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  const res = await fetch(url);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');

  // Without a token (loopback), a framed dashboard's buttons would act with the gateway's origin: the page of
  // another origin (about:blank's is opaque) gets no dashboard in its frame.
  const page = await openPage(t);
  page.setDefaultTimeout(10_000);
  await page.setContent(`<iframe id="victim" src="${url}/"></iframe>`);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame !== undefined);
  assert.equal(await frame.locator('#plugins-body').count(), 0);
  // The page itself still works under its policy.
  await page.goto(url);
  await page.getByText('Updated', { exact: false }).waitFor();
});
