// Issue #13, finding 2, end to end: an unsigned Node plugin served by `plugbay serve --dev` (so in the process
// tier) tries to change a route through the gateway's own admin API over loopback and to SIGKILL its parent. It
// must fail at both, with this machine's sandbox tools and with bubblewrap unavailable (the gateway says so).
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { startPlugbay, waitForLog } from '../test-support/cli.js';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';

const attacks = {
  admin: `async ({ port }) => {
    try {
      const res = await fetch('http://127.0.0.1:' + port + '/v1/routes/attacker', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"stable":"1.0.0"}' });
      return { status: res.status };
    } catch (err) { return { error: err.cause?.code ?? err.message }; }
  }`,
  killHost: `() => { try { process.kill(process.ppid, 'SIGKILL'); return { sent: true }; } catch (err) { return { error: err.code }; } }`,
};

async function serveAttacker(t: TestContext, env: NodeJS.ProcessEnv = {}) {
  const root = await tempDir(t);
  await chmod(root, 0o755); // without bwrap's bind mounts the plugin's own uid must reach its folder
  await writePlugin(root, 'attacker', {
    manifest: manifest({
      name: 'attacker',
      functions: { admin: { input: {}, output: {} }, killHost: { input: {}, output: {} } },
    }),
    files: { 'index.mjs': pluginSource('attacker', '1.0.0', attacks) },
  });
  // The artifact store goes beside the state file: its parents must be passable too.
  const stateDir = await tempDir(t);
  await chmod(stateDir, 0o755);
  const state = join(stateDir, 'state.db');
  const child = startPlugbay(['serve', root, '--port', '0', '--state', state, '--dev'], { env });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Counted from the first byte: the warning comes before `plugbay ready` (the probe it waits for is the one every
  // process-tier load waits for).
  let sandboxWarnings = 0;
  child.stderr?.on('data', (chunk: Buffer) => {
    sandboxWarnings += chunk.toString().split('"msg":"process-tier plugins run without: ').length - 1;
  });
  const listening = waitForLog(child, (l) => typeof l.port === 'number');
  const ready = waitForLog(child, (l) => l.msg === 'plugbay ready');
  const { port } = await listening;
  await ready;
  return {
    port: port as number,
    url: `http://127.0.0.1:${port as number}`,
    sandboxWarnings: () => sandboxWarnings,
  };
}

async function attack(url: string, port: number): Promise<void> {
  const call = async (fn: string) => {
    const res = await fetch(`${url}/v1/call/attacker/${fn}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ port }),
    });
    assert.equal(res.status, 200, fn);
    return (await res.json()) as { status?: number; error?: string; sent?: boolean };
  };
  const plugins = (await (await fetch(`${url}/v1/plugins`)).json()) as {
    plugins: { name: string; versions: { tier: string }[] }[];
  };
  const served = plugins.plugins.find((p) => p.name === 'attacker');
  assert.equal(served?.versions[0]?.tier, 'process', JSON.stringify(plugins));

  const admin = await call('admin');
  assert.equal(admin.status, undefined, `the plugin reached the admin API: ${JSON.stringify(admin)}`);
  const route = (await (await fetch(`${url}/v1/routes/attacker`)).json()) as { route: unknown };
  assert.equal(route.route, null, 'no route was set');

  await call('killHost');
  assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the gateway is alive');
}

test('serve --dev: an unsigned process-tier Node plugin cannot reach the admin API over loopback or kill the gateway', async (t) => {
  const { url, port, sandboxWarnings } = await serveAttacker(t);
  await attack(url, port);
  assert.ok(sandboxWarnings() <= 1);
});

test('serve --dev without bubblewrap: the gateway warns once at start-up, and the plugin still cannot reach it', async (t) => {
  const bin = await tempDir(t);
  await writeFile(join(bin, 'bwrap'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
  const { url, port, sandboxWarnings } = await serveAttacker(t, env);
  assert.equal(sandboxWarnings(), 1);
  await attack(url, port);
  assert.equal(sandboxWarnings(), 1, 'said once');
});
