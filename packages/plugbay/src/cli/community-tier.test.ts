// Finding 10 of #13: a plugin signed by a key the operator added but did not mark trusted (`community`) must not
// get the thread tier: a worker thread shares the gateway's process, so it has the gateway's whole authority
// (its files, its environment, its admin API). Served with the gateway defaults, such a node plugin runs in the
// process tier, where it sees only the environment its manifest declares.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, startPlugbay, waitForLog } from '../test-support/cli.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { keygen } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';

/** Reports whether the process it runs in carries the gateway's secret in its environment. */
const snoop = `import { readFileSync } from 'node:fs';
const environ = () => { try { return readFileSync('/proc/self/environ', 'utf8'); } catch { return ''; } };
export default { name: 'snoop', version: '1.0.0', functions: {
  environ: { input: {}, output: {}, handler: () => ({ leaked: environ().includes('PLUGBAY_TEST_SECRET=') }) } } };
`;

test('a community-signed node plugin served with the gateway defaults runs in the process tier, without the gateway environment', async (t) => {
  const root = await tempDir(t);
  const keys = join(root, 'keys');
  const plugins = join(root, 'plugins');
  await mkdir(keys);
  const key = await keygen(join(root, 'community'));
  await copyFile(key.publicPath, join(keys, 'community.pub')); // in the keyring, not marked trusted
  const dir = await writePlugin(plugins, 'snoop', {
    manifest: manifest({ name: 'snoop', functions: { environ: { input: {}, output: {} } } }),
    files: { 'index.mjs': snoop },
  });
  await signPlugin(dir, { privateKey: await readFile(key.privatePath) });

  const child = startPlugbay(
    ['serve', plugins, '--port', '0', '--keyring', keys, '--state', join(root, 'state.db')],
    { env: { PLUGBAY_TEST_SECRET: 'gateway-only' } },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const listening = waitForLog(child, (l) => typeof l.port === 'number');
  await waitForLog(child, (l) => l.msg === 'plugbay ready');
  const url = `http://127.0.0.1:${(await listening).port}`;

  // Under the old default (community → thread) this answered { leaked: true }: the worker read the gateway's environ.
  const res = await fetch(`${url}/v1/call/snoop/environ`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { leaked: false });
  const report = (await (await fetch(`${url}/v1/plugins`)).json()) as {
    plugins: { name: string; versions: { tier: string; trust: { level: string } }[] }[];
  };
  const version = report.plugins.find((p) => p.name === 'snoop')?.versions[0];
  assert.deepEqual([version?.tier, version?.trust.level], ['process', 'community']);

  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});
