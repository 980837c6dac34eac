// docs/deploying.md runs as a test: its sh blocks in order, as one bash script (the servers are its background
// jobs), with free ports in place of the page's 5432 (PostgreSQL), 5000 (registry) and 7071-7073 (gateways),
// `plugbay` on PATH as this CLI. initdb and the server refuse root: under root the work directory goes to `nobody`,
// and initdb and pg_ctl run as nobody (setpriv), as test-support/postgres.ts does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, repoRoot } from '../test-support/cli.js';
import { postgresSkipReason } from '../test-support/postgres.js';
import { registryAvailable } from '../test-support/registry.js';
import { codeBlocks, freePort } from './test-support.js';

const run = promisify(execFile);
const skip =
  (await postgresSkipReason()) ??
  (registryAvailable ? undefined : 'docker-registry is not installed (scripts/setup.sh installs it)');

test('docs/deploying.md: three gateways, one PostgreSQL, one registry; every sh block runs', {
  skip,
}, async (t) => {
  const page = await readFile(join(repoRoot, 'docs/deploying.md'), 'utf8');
  const work = await mkdtemp(join(tmpdir(), 'plugbay-deploying-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const bin = join(work, '.bin');
  await mkdir(bin);
  await writeFile(join(bin, 'plugbay'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`, {
    mode: 0o755,
  });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chown(work, 65534, 65534);
  const ports = new Map<string, string>();
  for (const port of ['5432', '5000', '7071', '7072', '7073']) ports.set(port, String(await freePort()));
  let script = codeBlocks(page)
    .filter((b) => b.lang === 'sh')
    .map((b) => b.code)
    .join('\n');
  for (const [from, to] of ports) script = script.replaceAll(from, to);
  const asNobody = (cmd: string) =>
    `${cmd}() { setpriv --reuid=65534 --regid=65534 --clear-groups "$(type -P ${cmd})" "$@"; }`;
  const prelude = [
    'set -euo pipefail',
    'set -m',
    `export PATH="${bin}:$PATH"`,
    ...(asRoot ? [asNobody('initdb'), asNobody('pg_ctl')] : []),
    // Whatever fails, nothing is left running: the gateways and the registry (jobs), the daemonised PostgreSQL.
    `trap 'for j in $(jobs -p); do kill -- -$j 2>/dev/null || true; done; ` +
      `if [ -f "${work}/pgdata/postmaster.pid" ]; then pg_ctl -D "${work}/pgdata" -m immediate stop > /dev/null 2>&1 || true; fi' EXIT`,
  ].join('\n');
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  let output: string;
  try {
    output = (await run('bash', ['-c', `${prelude}\n${script}`], { cwd: work, env, timeout: 240_000 }))
      .stdout;
  } catch (err) {
    const logs: string[] = [];
    for (const log of ['gw-7071.log', 'registry.log', 'postgres.log']) {
      const file = join(
        work,
        log.replace(/\d{4}/, (p) => ports.get(p) ?? p),
      );
      logs.push(`--- ${log}\n${(await readFile(file, 'utf8').catch(() => '(none)')).slice(-3000)}`);
    }
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`the page's script failed:\n${e.stderr ?? err}\n${e.stdout ?? ''}\n${logs.join('\n')}`);
  }
  // Section 5: both other gateways serve the version routed through the first.
  for (const port of ['7072', '7073']) {
    assert.ok(
      output.includes(`${ports.get(port)}: {"text":"Hello, Ada! (1.1.0)"}`),
      `expected ${port} to serve 1.1.0 in:\n${output}`,
    );
  }
  // Section 6: the fleet lists the three gateways, fresh, on PostgreSQL.
  const fleet = /\{"state":"postgres".*?\]\}/.exec(output);
  assert.ok(fleet, `no /v1/fleet answer in:\n${output}`);
  const report = JSON.parse(fleet[0]) as { gateways: { listen: string; stale: boolean; self: boolean }[] };
  assert.deepEqual(
    report.gateways.map((g) => g.listen).sort(),
    ['7071', '7072', '7073'].map((p) => `http://127.0.0.1:${ports.get(p)}`).sort(),
  );
  assert.ok(report.gateways.every((g) => !g.stale));
  assert.equal(report.gateways.filter((g) => g.self).length, 1);
});
