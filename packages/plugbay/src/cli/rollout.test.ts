// `plugbay serve` with --state and --rollout as a real process, driven by the real CLI (routes, activate,
// rollback, audit): exit codes, restart with the same state, a corrupt or locked state file, directory watching.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { exitOf, runPlugbay, servePlugbay, startPlugbay, waitForLog } from '../test-support/cli.js';
import { tempDir, writeSvcVersion } from '../test-support/plugins.js';

/** Starts `plugbay serve` on root with that state file and waits until it is ready. */
function serve(t: TestContext, root: string, state: string, extra: string[] = []) {
  // The test plugins are unsigned: signatures are not what is tested here.
  return servePlugbay(t, root, ['--signatures', 'off', ...extra], state);
}

async function stop(child: ReturnType<typeof startPlugbay>): Promise<void> {
  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
}

async function who(url: string, key?: string): Promise<string | null> {
  const res = await fetch(`${url}/v1/call/svc/who`, {
    method: 'POST',
    headers: key === undefined ? {} : { 'x-plugbay-key': key },
  });
  assert.equal(res.status, 200);
  return res.headers.get('x-plugbay-served-by');
}

test('the CLI drives a running gateway; a restart on the same --state keeps the route and the audit log', async (t) => {
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  await writeSvcVersion(root, '1.1.0');
  const state = join(await tempDir(t), 'state.db');
  const first = await serve(t, root, state);
  const url = ['--url', first.url];

  const set = await runPlugbay([
    'routes',
    'set',
    'svc',
    '{"stable":"1.0.0","canary":{"version":"1.1.0","percent":10}}',
    ...url,
  ]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /canary\s+1\.1\.0 \(10 %\)/);

  const refused = await runPlugbay([
    'routes',
    'set',
    'svc',
    '{"stable":"1.0.0","canary":{"version":"1.1.0","percent":150}}',
    ...url,
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /PLUGBAY_INVALID_ARGUMENT/);
  assert.match(refused.stderr, /canary\.percent/);
  const notLoaded = await runPlugbay(['activate', 'svc', '7.0.0', ...url]);
  assert.equal(notLoaded.code, 1);
  assert.match(notLoaded.stderr, /PLUGBAY_VERSION_NOT_LOADED/);
  assert.equal(
    (await runPlugbay(['activate', 'svc', ...url])).code,
    2,
    'a missing argument is a usage error',
  );
  assert.equal((await runPlugbay(['routes', 'get', 'svc', '--url', 'nope'])).code, 2);

  const routeFile = join(await tempDir(t), 'route.json');
  await writeFile(routeFile, '{"stable":"1.0.0","canary":{"version":"1.1.0","percent":20}}');
  assert.equal(
    (await runPlugbay(['routes', 'set', 'svc', `@${routeFile}`, ...url, '--actor', 'bob'])).code,
    0,
  );

  const activated = await runPlugbay(['activate', 'svc', '1.1.0', ...url, '--reason', 'canary looked good']);
  assert.equal(activated.code, 0, activated.stderr);
  assert.match(activated.stdout, /activated 1\.1\.0 \(was 1\.0\.0\)/);
  assert.equal(await who(first.url), 'svc@1.1.0');
  const rolledBack = await runPlugbay(['rollback', 'svc', ...url]);
  assert.equal(rolledBack.code, 0, rolledBack.stderr);
  assert.equal(await who(first.url), 'svc@1.0.0');
  const route = JSON.parse((await runPlugbay(['routes', 'get', 'svc', ...url, '--json'])).stdout) as {
    route: unknown;
  };
  assert.deepEqual(route.route, { stable: '1.0.0' });
  const auditBefore = await (await fetch(`${first.url}/v1/audit?plugin=svc`)).json();
  await stop(first.child);

  const second = await serve(t, root, state);
  const again = JSON.parse(
    (await runPlugbay(['routes', 'get', 'svc', '--url', second.url, '--json'])).stdout,
  ) as {
    route: unknown;
  };
  assert.deepEqual(again.route, { stable: '1.0.0' });
  type Audit = { entries: { action: string; actor: string; version?: string; reason?: string }[] };
  // The restart's own loads come on top of the kept log (every load is audited, the starting set too).
  const auditAfter = (await (await fetch(`${second.url}/v1/audit?plugin=svc`)).json()) as Audit;
  const kept = (auditBefore as Audit).entries;
  const fresh = auditAfter.entries.slice(0, auditAfter.entries.length - kept.length);
  assert.deepEqual(auditAfter.entries.slice(fresh.length), kept);
  assert.deepEqual(fresh.map((e) => [e.action, e.actor, e.version]).sort(), [
    ['load', 'watcher', '1.0.0'],
    ['load', 'watcher', '1.1.0'],
  ]);
  const entries = kept.filter((e) => e.action !== 'load');
  assert.deepEqual(
    entries.slice(0, 3).map((e) => [e.action, e.actor]),
    [
      ['rollback', 'cli'],
      ['activate', 'cli'],
      ['route', 'bob'],
    ],
  );
  assert.equal(entries[1]?.reason, 'canary looked good');
  // A second gateway on the same state file while this one runs: refused at startup, file untouched.
  const locked = startPlugbay(['serve', root, '--port', '0', '--state', state]);
  const fatal = await waitForLog(locked, (l) => l.level === 60);
  assert.match(String(fatal.msg), /locked/);
  assert.equal(await exitOf(locked), 1);
  assert.equal(await who(second.url), 'svc@1.0.0');
  await stop(second.child);
});

test('a corrupt state file stops plugbay serve with a clear error and is never reset', async (t) => {
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  const state = join(await tempDir(t), 'state.db');
  const garbage = 'this is not an SQLite database, and it must stay exactly as it is\n'.repeat(100);
  await writeFile(state, garbage);
  const result = await runPlugbay(['serve', root, '--port', '0', '--state', state]);
  assert.equal(result.code, 1);
  const fatal = result.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { code?: string } })
    .find((l) => l.level === 60);
  assert.equal(fatal?.err?.code, 'PLUGBAY_STATE_UNAVAILABLE');
  assert.match(fatal?.msg ?? '', /corrupt/);
  assert.equal(await readFile(state, 'utf8'), garbage);
  const bad = await runPlugbay(['serve', root, '--rollout', 'canary:150']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--rollout/);
});

test('serve --dev watches the directory: a version dropped in is loaded and activated, with audit entries', async (t) => {
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  const state = join(await tempDir(t), 'state.db');
  const { child, url } = await serve(t, root, state, [
    '--dev',
    '--settle-ms',
    '50',
    '--watch-interval-ms',
    '100',
  ]);
  const activated = waitForLog(child, (l) => String(l.msg).startsWith('watcher: rollout activate'));
  await writeSvcVersion(root, '1.1.0');
  await activated;
  assert.equal(await who(url, 'k'), 'svc@1.1.0');
  const audit = (await (await fetch(`${url}/v1/audit?plugin=svc`)).json()) as {
    entries: { action: string; actor: string; version: string }[];
  };
  assert.ok(
    audit.entries.some((e) => e.action === 'activate' && e.actor === 'watcher' && e.version === '1.1.0'),
  );
  assert.ok(audit.entries.some((e) => e.action === 'load' && e.actor === 'watcher' && e.version === '1.1.0'));
  await stop(child);
});
