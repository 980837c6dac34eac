// The browser of the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Page } from 'playwright-core';

/** Headless Debian Chromium on a fresh profile, closed (and the profile removed) after the test. */
export async function openPage(
  t: TestContext,
  viewport: { width: number; height: number } = { width: 1366, height: 900 },
  // Playwright polls a waitForFunction predicate with eval, which the dashboard's script-src 'self' refuses.
  options: { bypassCSP?: boolean } = {},
): Promise<Page> {
  const profile = await mkdtemp(join(tmpdir(), 'plugbay-chromium-'));
  // Chromium's helpers may still be writing the profile as close() returns: rm retries instead of failing.
  t.after(() => rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // Without these it keeps reaching out (refused here) and writing to its profile.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // DNS rebinding without DNS: this name resolves to the gateway's loopback address.
      '--host-resolver-rules=MAP rebound.example 127.0.0.1',
    ],
    viewport,
    bypassCSP: options.bypassCSP ?? false,
  });
  t.after(() => browser.close());
  return browser.pages()[0] ?? (await browser.newPage());
}
