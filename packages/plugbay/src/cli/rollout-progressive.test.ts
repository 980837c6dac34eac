// `plugbay rollout` against a real `plugbay serve` process: start, status, pause, abort, and the refusals.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPlugbay, servePlugbay } from '../test-support/cli.js';
import { tempDir, writeSvcVersion } from '../test-support/plugins.js';

test('plugbay rollout start|status|pause|abort drive a running gateway; refusals exit 1 with the code, bad flags 2', async (t) => {
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  await writeSvcVersion(root, '1.1.0');
  const state = join(await tempDir(t), 'state.db');
  const { url } = await servePlugbay(t, root, ['--signatures', 'off'], state);
  const u = ['--url', url];

  // 1.1.0 is the newest, so it answers by default: the stable to compare with must be named.
  const noStable = await runPlugbay(['rollout', 'start', 'svc', '1.1.0', ...u]);
  assert.equal(noStable.code, 1, noStable.stderr);
  assert.match(noStable.stderr, /PLUGBAY_INVALID_ARGUMENT[\s\S]*field: stable/);

  // An interval of an hour: nothing is judged while the test runs.
  const start = [
    'rollout',
    'start',
    'svc',
    '1.1.0',
    '--stable',
    '1.0.0',
    '--steps',
    '10,50,100',
    '--interval',
    '1h',
  ];
  const started = await runPlugbay([...start, '--max-error-rate-increase', '2', '--min-calls', '20', ...u]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /rollout of svc started/);
  assert.match(started.stdout, /canary 1\.1\.0 vs stable 1\.0\.0, running at step 1\/3 \(10 %\)/);
  assert.match(started.stdout, /error rate \+2 points, p99 ×1\.5, 20 calls/);

  const again = await runPlugbay([...start, ...u]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /PLUGBAY_ROLLOUT_CONFLICT \(HTTP 409\)/);
  assert.equal((await runPlugbay([...start, '--steps', '10,x', ...u])).code, 2);
  assert.equal((await runPlugbay([...start, '--min-calls', 'many', ...u])).code, 2);
  assert.equal((await runPlugbay(['rollout', 'sideways', 'svc', ...u])).code, 2);

  const list = await runPlugbay(['rollout', 'status', ...u]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^PLUGIN\s+CANARY\s+STABLE\s+STATE\s+STEP/m);
  assert.match(list.stdout, /svc\s+1\.1\.0\s+1\.0\.0\s+running\s+10 % \(1\/3\)/);

  const paused = await runPlugbay(['rollout', 'pause', 'svc', '--reason', 'lunch', ...u]);
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(paused.stdout, /rollout of svc: paused/);
  const status = await runPlugbay(['rollout', 'status', 'svc', '--json', ...u]);
  const record = JSON.parse(status.stdout) as {
    state: string;
    history: { verdict: string; reason: string }[];
  };
  assert.equal(record.state, 'paused');
  assert.deepEqual(
    record.history.map((d) => d.verdict),
    ['start', 'pause'],
  );
  assert.equal(record.history[1]?.reason, 'lunch');

  const aborted = await runPlugbay(['rollout', 'abort', 'svc', ...u]);
  assert.equal(aborted.code, 0, aborted.stderr);
  assert.match(aborted.stdout, /rollout of svc: aborted/);
  const route = (await (await fetch(`${url}/v1/routes/svc`)).json()) as { route: unknown };
  assert.deepEqual(route.route, { stable: '1.0.0' });
  const audit = await runPlugbay(['audit', 'svc', ...u]);
  assert.match(audit.stdout, /rollout-start/);
  assert.match(audit.stdout, /rollout-abort/);
  assert.equal((await runPlugbay(['rollout', 'resume', 'nope', ...u])).code, 1);
});
