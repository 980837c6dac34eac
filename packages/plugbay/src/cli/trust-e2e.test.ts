// Signing end to end, through the real CLI and gateway: keys made by `plugbay keygen`, plugins signed by
// `plugbay sign`, then damaged in every way the verifier knows; `plugbay check --keyring` and `plugbay serve
// --keyring` (signatures required, the gateway default) must refuse each with the right status and rule, and still
// serve the plugins that are fine. A contract registered with --contracts keeps a version that breaks it out.
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Diagnostic } from '../core/types.js';
import { exitOf, runPlugbay, startPlugbay, waitForLog } from '../test-support/cli.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';

const echoSource = (name: string, version = '1.0.0') =>
  `export default { name: '${name}', version: '${version}', functions: { echo: { input: {}, output: {}, handler: (i) => i } } };\n`;

/** A node plugin with an entry, two library files and a symlink to one of them (all signed). */
async function plugin(root: string, folder: string, overrides: Record<string, unknown> = {}) {
  const name = (overrides.name as string | undefined) ?? folder;
  const dir = await writePlugin(root, folder, {
    manifest: manifest({ name, ...overrides }),
    files: {
      'index.mjs': echoSource(name, (overrides.version as string | undefined) ?? '1.0.0'),
      'lib/a.mjs': 'export const a = 1;\n',
      'lib/b.mjs': 'export const b = 2;\n',
    },
  });
  await symlink('lib/a.mjs', join(dir, 'link.mjs'));
  return dir;
}

async function ok(args: string[]) {
  const res = await runPlugbay(args);
  assert.equal(res.code, 0, `plugbay ${args.join(' ')}\n${res.stdout}${res.stderr}`);
  return res;
}

interface PluginsReport {
  plugins: {
    name: string;
    versions: { version: string; tier: string; trust: { status: string; level: string; keyId?: string } }[];
    diagnostics: Diagnostic[];
  }[];
}

test('plugbay sign + serve --keyring: every kind of bad signature is refused with its status and rule, the rest is served', async (t) => {
  const root = await tempDir(t);
  const keys = join(root, 'keys');
  const plugins = join(root, 'plugins');
  const contracts = join(root, 'contracts');
  await mkdir(keys);
  await mkdir(plugins);
  await mkdir(contracts);

  // Keys: trusted and community in the keyring, a revoked one, and a stranger's that the keyring never saw.
  await Promise.all(['trusted', 'community', 'revoked'].map((k) => ok(['keygen', '--out', join(keys, k)])));
  await ok(['keygen', '--out', join(root, 'stranger')]);
  await writeFile(
    join(keys, 'keyring.json'),
    JSON.stringify({ keys: { 'trusted.pub': { trust: 'trusted' }, revoked: { revoked: true } } }),
  );

  const byTrusted = [
    'good',
    'tampered',
    'added',
    'removed',
    'symlink',
    'truncated',
    'malformed',
    'donor',
    'copied',
  ];
  for (const folder of byTrusted) await plugin(plugins, folder);
  await plugin(plugins, 'community-ok');
  await plugin(plugins, 'community-inline');
  await plugin(plugins, 'wrong-key');
  await plugin(plugins, 'revoked-key');
  await plugin(plugins, 'unsigned');
  // One contract, two versions claiming it: 1.0.0 fits, 1.1.0 adds a required input the contract never sends.
  const echoing = manifest().functions as { echo: { input: object; output: object } };
  await writeFile(
    join(contracts, 'echoing.json'),
    JSON.stringify({ name: 'echoing', version: '1.0.0', functions: { echo: echoing.echo } }),
  );
  await plugin(plugins, 'contracted@1.0.0', { name: 'contracted', implements: { echoing: '^1.0.0' } });
  await plugin(plugins, 'contracted@1.1.0', {
    name: 'contracted',
    version: '1.1.0',
    implements: { echoing: '^1.0.0' },
    functions: {
      echo: {
        input: { ...echoing.echo.input, required: ['text', 'lang'] },
        output: echoing.echo.output,
      },
    },
  });

  const at = (folder: string) => join(plugins, folder);
  await ok([
    'sign',
    ...byTrusted.map(at),
    at('contracted@1.0.0'),
    at('contracted@1.1.0'),
    '--key',
    join(keys, 'trusted.key'),
  ]);
  await ok(['sign', at('community-ok'), at('community-inline'), '--key', join(keys, 'community.key')]);
  await ok(['sign', at('wrong-key'), '--key', join(root, 'stranger.key')]);
  await ok(['sign', at('revoked-key'), '--key', join(keys, 'revoked.key')]);

  // The damage, after signing.
  await appendFile(join(at('tampered'), 'lib/a.mjs'), '// one more line\n');
  await writeFile(join(at('added'), 'lib/c.mjs'), 'export const c = 3;\n');
  await unlink(join(at('removed'), 'lib/b.mjs'));
  await unlink(join(at('symlink'), 'link.mjs'));
  await symlink('lib/b.mjs', join(at('symlink'), 'link.mjs'));
  const sig = (folder: string) => join(at(folder), 'plugin.sig.json');
  const truncatedText = await readFile(sig('truncated'), 'utf8');
  await truncate(sig('truncated'), Math.floor(truncatedText.length / 2));
  const malformed = JSON.parse(await readFile(sig('malformed'), 'utf8'));
  malformed.files[0].sha256 = 'not-a-hash';
  await writeFile(sig('malformed'), JSON.stringify(malformed));
  await rm(sig('copied'));
  await writeFile(sig('copied'), await readFile(sig('donor')));

  const expected: Record<string, { code: string; status?: string; rule?: string }> = {
    tampered: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'modified', rule: 'file-changed' },
    added: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'modified', rule: 'file-added' },
    removed: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'modified', rule: 'file-removed' },
    symlink: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'modified', rule: 'symlink-changed' },
    'wrong-key': { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'invalid', rule: 'key-unknown' },
    'revoked-key': { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'invalid', rule: 'key-revoked' },
    truncated: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'invalid', rule: 'signature-malformed' },
    malformed: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'invalid', rule: 'signature-malformed' },
    copied: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'invalid', rule: 'manifest-mismatch' },
    unsigned: { code: 'PLUGBAY_SIGNATURE_INVALID', status: 'unsigned', rule: 'signature-missing' },
    'community-inline': { code: 'PLUGBAY_TIER_NOT_ALLOWED' },
    contracted: { code: 'PLUGBAY_CONTRACT_MISMATCH' },
  };

  // plugbay verify: the status on stdout, exit 1 unless valid.
  const verified = await runPlugbay(['verify', at('symlink'), '--keyring', keys]);
  assert.equal(verified.code, 1);
  assert.match(verified.stdout, /^modified\n {2}symlink-changed: link\.mjs/);
  await ok(['verify', at('good'), '--keyring', keys]);

  // plugbay check --keyring: the signature of each plugin, without running anything.
  const checked = await runPlugbay(['check', plugins, '--keyring', keys, '--json']);
  assert.equal(checked.code, 1);
  const rows = (JSON.parse(checked.stdout) as { plugins: { dir: string; signature?: { status: string } }[] })
    .plugins;
  const signatureOf = (folder: string) => rows.find((r) => r.dir === at(folder))?.signature?.status;
  for (const [folder, want] of Object.entries(expected)) {
    if (want.status !== undefined) assert.equal(signatureOf(folder), want.status, folder);
  }
  assert.equal(signatureOf('good'), 'valid');
  assert.equal(signatureOf('community-inline'), 'valid');

  // plugbay serve: signatures required (the default), good and community-inline asked to run inline.
  const child = startPlugbay([
    'serve',
    plugins,
    '--port',
    '0',
    '--keyring',
    keys,
    '--inline',
    'good,community-inline',
    '--contracts',
    contracts,
    '--state',
    join(await tempDir(t), 'state.db'),
  ]);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const listening = waitForLog(child, (l) => typeof l.port === 'number');
  const ready = waitForLog(child, (l) => l.msg === 'plugbay ready');
  const url = `http://127.0.0.1:${(await listening).port}`;
  await ready;

  const report = (await (await fetch(`${url}/v1/plugins`)).json()) as PluginsReport;
  const entry = (name: string) => report.plugins.find((p) => p.name === name);
  for (const [name, want] of Object.entries(expected)) {
    const e = entry(name);
    if (name === 'contracted') continue; // one version loads, checked below
    assert.equal(e?.versions.length, 0, `${name} must not load`);
    const d = e?.diagnostics[0];
    assert.equal(d?.code, want.code, name);
    const details = d?.details as { status?: string; reasons?: { rule: string }[] } | undefined;
    if (want.status !== undefined) assert.equal(details?.status, want.status, name);
    if (want.rule !== undefined) assert.equal(details?.reasons?.[0]?.rule, want.rule, name);
  }
  // A community key may not run inline: the reason names the level, the tier and what is allowed.
  const refused = entry('community-inline')?.diagnostics[0];
  const refusal = (refused?.details ?? {}) as { tier?: string; trustLevel?: string };
  assert.deepEqual(
    { tier: refusal.tier, trustLevel: refusal.trustLevel },
    { tier: 'inline', trustLevel: 'community' },
  );
  assert.match(refused?.message ?? '', /community.*inline.*allowed: process, wasm/);

  // The rest loads, with its signature status in /v1/plugins, and answers.
  const good = entry('good')?.versions[0];
  assert.equal(good?.tier, 'inline');
  assert.deepEqual(
    { status: good?.trust.status, level: good?.trust.level },
    { status: 'valid', level: 'trusted' },
  );
  assert.match(good?.trust.keyId ?? '', /^[0-9a-f]{16}$/);
  const community = entry('community-ok')?.versions[0];
  // thread is for trusted code only: the host places a community node plugin in the process tier
  assert.deepEqual([community?.tier, community?.trust.level], ['process', 'community']);
  assert.equal(entry('donor')?.versions.length, 1);
  for (const name of ['good', 'community-ok', 'donor']) {
    const res = await fetch(`${url}/v1/call/${name}/echo`, { method: 'POST', body: '{"text":"hi"}' });
    assert.equal(res.status, 200, name);
    assert.deepEqual(await res.json(), { text: 'hi' });
  }

  // The contract: 1.1.0 is refused (each difference listed), so calls keep going to 1.0.0.
  const contracted = entry('contracted');
  assert.deepEqual(
    contracted?.versions.map((v) => v.version),
    ['1.0.0'],
  );
  const mismatch = contracted?.diagnostics[0];
  assert.equal(mismatch?.code, 'PLUGBAY_CONTRACT_MISMATCH');
  assert.equal(mismatch?.version, '1.1.0');
  assert.ok((((mismatch?.details ?? {}) as { differences?: unknown[] }).differences?.length ?? 0) >= 1);
  const call = await fetch(`${url}/v1/call/contracted/echo`, { method: 'POST', body: '{"text":"hi"}' });
  assert.equal(call.status, 200);
  assert.equal(call.headers.get('x-plugbay-served-by'), 'contracted@1.0.0');

  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});
