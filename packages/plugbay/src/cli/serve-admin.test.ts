// `plugbay serve`'s admin options through the real CLI: a token is required beyond loopback, the admin API gets
// its own listener, and the admin commands send the token.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, runPlugbay, servePlugbay, startPlugbay, waitForLog } from '../test-support/cli.js';
import { tempDir } from '../test-support/plugins.js';

const token = 'admin-token-0123456789abcdef';

test('plugbay serve beyond loopback without an admin token refuses to start (exit 2, naming --admin-token)', async (t) => {
  const root = await tempDir(t);
  for (const extra of [
    ['--host', '0.0.0.0'],
    ['--host', '::'],
    ['--admin-port', '0', '--admin-host', '0.0.0.0'],
  ]) {
    const child = startPlugbay(['serve', root, '--port', '0', '--state', join(root, 'state.db'), ...extra]);
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const listening = waitForLog(child, (l) => typeof l.port === 'number').then(
      () => 'listening',
      () => 'exited',
    );
    const first = await Promise.race([listening, exitOf(child).then(() => 'exited')]);
    assert.equal(first, 'exited', `${extra.join(' ')}: it started listening`);
    assert.equal(await exitOf(child), 2, extra.join(' '));
    assert.match(stderr, /--admin-token/, extra.join(' '));
  }
});

test('plugbay serve --host 0.0.0.0 --admin-token-file --admin-port: admin API apart and token-guarded; routes/audit send --token or PLUGBAY_ADMIN_TOKEN', async (t) => {
  const root = await tempDir(t);
  const tokenFile = join(root, 'admin-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const { child, url, adminUrl } = await servePlugbay(
    t,
    root,
    ['--host', '0.0.0.0', '--admin-token-file', tokenFile, '--admin-port', '0'],
    join(root, 'state.db'),
  );
  assert.notEqual(adminUrl, url);
  assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the admin listener stays on loopback');

  const traffic = await fetch(`${url}/v1/audit`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(traffic.status, 404, 'no admin routes on the traffic port');
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const refused = await fetch(`${adminUrl}/v1/audit`);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PLUGBAY_UNAUTHORIZED');

  const noToken = await runPlugbay(['audit', '--url', adminUrl], { env: { PLUGBAY_ADMIN_TOKEN: '' } });
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /PLUGBAY_UNAUTHORIZED \(HTTP 401\)/);
  assert.match(noToken.stderr, /PLUGBAY_ADMIN_TOKEN/, 'the refusal says how to send the token');

  const fromEnv = await runPlugbay(['audit', '--url', adminUrl], { env: { PLUGBAY_ADMIN_TOKEN: token } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.match(fromEnv.stdout, /time\s+actor\s+action/);

  const fromFlag = await runPlugbay(['routes', 'set', 'nope', '{}', '--url', adminUrl, '--token', token], {
    env: { PLUGBAY_ADMIN_TOKEN: 'not-the-token-0123456789' },
  });
  assert.equal(fromFlag.code, 1, 'past the token, the unknown plugin is refused');
  assert.match(fromFlag.stderr, /PLUGBAY_UNKNOWN_PLUGIN \(HTTP 404\)/);

  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});
