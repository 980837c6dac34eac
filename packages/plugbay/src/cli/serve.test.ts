import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { exitOf, repoRoot, runPlugbay, servePlugbay, waitForLog } from '../test-support/cli.js';
import { listExamples, skipReason } from '../test-support/examples.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { slowBody } from '../test-support/slow-body.js';

/** Starts `plugbay serve <dir> --port 0 ...extra`, waits until its plugins are loaded, and returns its base URL. */
async function serve(t: TestContext, dir: string, extra: string[]) {
  return servePlugbay(t, dir, extra, join(await tempDir(t), 'state.db'));
}

test('plugbay serve examples/plugins: greeter.greet pinned and not, every example in every language over HTTP, then SIGTERM exits 0', async (t) => {
  const examples = join(repoRoot, 'examples/plugins');
  await stat(join(examples, 'greeter@1.0.0/plugin.json')).catch(() => {
    assert.fail('examples are not built: run `npm run build` first');
  });
  // The examples are signed by `npm run build` with the demo key; the gateway requires signatures by default.
  const { child, url } = await serve(t, examples, ['--keyring', join(repoRoot, 'examples/keys')]);

  const res = await fetch(`${url}/v1/call/greeter/greet`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Ada' }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-plugbay-served-by'), 'greeter@1.1.0');
  assert.deepEqual(await res.json(), { message: 'Hello, Ada! (greeter 1.1.0)' });

  const pinned = await fetch(`${url}/v1/call/greeter/greet`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-plugbay-version': '1.0.0' },
    body: '{"name":"Ada"}',
  });
  assert.deepEqual(await pinned.json(), { message: 'Hello, Ada!' });

  const ticks = await fetch(`${url}/v1/call/ticker/ticks`, { method: 'POST' });
  assert.equal(ticks.status, 200);
  assert.equal(typeof ((await ticks.json()) as { ticks: number }).ticks, 'number');

  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  const plugins = (await (await fetch(`${url}/v1/plugins`)).json()) as {
    plugins: {
      name: string;
      versions: { version: string; tier: string; state: string; trust?: { status: string } }[];
      diagnostics: { code: string; message: string }[];
    }[];
  };
  const broken = plugins.plugins.find((p) => p.name === 'broken-manifest');
  assert.equal(broken?.versions.length, 0);
  assert.ok(broken?.diagnostics.every((d) => d.code === 'PLUGBAY_MANIFEST_INVALID'));

  // Every example in every language is loaded, signed (demo key, signatures required) and answers each of its
  // manifest's examples over HTTP, pinned to its version.
  const all = await listExamples();
  assert.deepEqual(
    [...new Set(all.map((e) => e.lang))].sort(),
    ['assemblyscript', 'c', 'go', 'rust', 'ts'],
    'an example per language',
  );
  for (const example of all) {
    const skip = skipReason(example);
    if (skip) {
      t.diagnostic(`skipped ${skip}`);
      continue;
    }
    const { name, version, functions } = example.manifest;
    const listed = plugins.plugins.find((p) => p.name === name);
    const loaded = listed?.versions.find((v) => v.version === version);
    assert.equal(loaded?.state, 'ready', `${example.dirName}: ${JSON.stringify(listed?.diagnostics)}`);
    assert.equal(loaded?.trust?.status, 'valid', example.dirName);
    const tier = example.lang === 'ts' ? 'thread' : example.lang === 'go' ? 'process' : 'wasm';
    assert.equal(loaded?.tier, tier, example.dirName);
    for (const [fn, spec] of Object.entries(functions)) {
      for (const sample of spec.examples ?? []) {
        const res = await fetch(`${url}/v1/call/${name}/${fn}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-plugbay-version': version },
          body: JSON.stringify(sample.input),
        });
        const label = `${name}@${version} ${fn}(${JSON.stringify(sample.input)})`;
        assert.equal(res.status, 200, `${label}: ${await res.clone().text()}`);
        assert.equal(res.headers.get('x-plugbay-served-by'), `${name}@${version}`, label);
        const output: unknown = await res.json();
        if ('output' in sample) assert.deepEqual(output, sample.output, label);
      }
    }
  }

  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});

/**
 * A plugin `gate` whose `pass` fetches a URL the test controls, so the test decides when a call may finish:
 * `held` resolves (with the response to end) once the plugin is inside its handler.
 */
async function gatePlugin(t: TestContext) {
  let release: ((res: ServerResponse) => void) | undefined;
  const held = new Promise<ServerResponse>((resolve) => {
    release = resolve;
  });
  // The first request is held until the test ends it; later ones are held for ever (calls that never finish).
  const gate = createServer((_req, res) => release?.(res));
  await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    gate.closeAllConnections();
    gate.close();
  });
  const gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}/`;

  const root = await tempDir(t);
  await writePlugin(root, 'gate', {
    manifest: manifest({
      name: 'gate',
      functions: {
        pass: {
          input: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
          output: { type: 'object', properties: { body: { type: 'string' } }, required: ['body'] },
        },
      },
    }),
    files: {
      'index.mjs': `export default { name: 'gate', version: '1.0.0', functions: {
        pass: { handler: async ({ url }) => ({ body: await (await fetch(url)).text() }) },
      } };\n`,
    },
  });
  return { root, gateUrl, held };
}

test('SIGTERM while a call is in flight: the call completes, then plugbay serve exits 0', async (t) => {
  const { root, gateUrl, held } = await gatePlugin(t);
  const { child, url } = await serve(t, root, ['--signatures', 'off']);

  const inFlight = fetch(`${url}/v1/call/gate/pass`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: gateUrl }),
  });
  const gateResponse = await held; // the plugin is now inside its handler
  const shuttingDown = waitForLog(
    child,
    (l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'),
  );
  child.kill('SIGTERM');
  await shuttingDown;
  assert.equal(child.exitCode, null, 'plugbay must wait for the call in flight');
  gateResponse.end('opened');

  const res = await inFlight;
  assert.equal(res.status, 200);
  // Ends the keep-alive connection, or close() would wait for its idle timeout.
  assert.equal(res.headers.get('connection'), 'close');
  assert.deepEqual(await res.json(), { body: 'opened' });
  assert.equal(await exitOf(child), 0);
});

test('SIGTERM with five connections still sending a body: a call that ends inside --shutdown-timeout-ms is answered, one that does not and the slow bodies are cut, exit 0 within the grace', async (t) => {
  const { root, gateUrl, held } = await gatePlugin(t);
  // Long enough for the released call to finish on a loaded machine; short enough to keep the test quick.
  const graceMs = 3000;
  const { child, url } = await serve(t, root, [
    '--signatures',
    'off',
    '--shutdown-timeout-ms',
    String(graceMs),
  ]);
  const slow = Array.from({ length: 5 }, () => slowBody(Number(new URL(url).port), '/v1/call/gate/pass'));
  t.after(() => {
    for (const s of slow) s.socket.destroy();
  });
  await Promise.all(slow.map((s) => s.started));
  const call = () =>
    fetch(`${url}/v1/call/gate/pass`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: gateUrl }),
    });
  const inFlight = call();
  const gateResponse = await held;
  // A second call whose plugin never answers: it is still running when the grace is over.
  const unfinished = call().then(
    (res) => `answered ${res.status}`,
    (err: Error) => `connection closed: ${(err.cause as { code?: string } | undefined)?.code ?? err.message}`,
  );

  const shuttingDown = waitForLog(
    child,
    (l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'),
  );
  const began = performance.now();
  child.kill('SIGTERM');
  await shuttingDown;
  gateResponse.end('opened');
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { body: 'opened' });

  assert.equal(await exitOf(child), 0);
  const took = performance.now() - began;
  await Promise.all(slow.map((s) => s.closed));
  assert.match(await unfinished, /^connection closed/);
  t.diagnostic(`exited ${Math.round(took)} ms after SIGTERM (grace ${graceMs} ms)`);
  assert.ok(took < graceMs + 5000, `exited ${Math.round(took)} ms after SIGTERM with a ${graceMs} ms grace`);
});

test('plugbay serve: bad arguments exit 2, a port in use exits 1', async (t) => {
  const root = await tempDir(t);
  for (const args of [
    ['serve', join(root, 'missing')],
    ['serve', root, '--port', 'http'],
    ['serve', root, '--body-limit', '0'],
    ['serve', root, '--unknown'],
    ['serve', root, '--signatures', 'sometimes'],
    ['serve', root, '--exports', 'loose'],
    ['serve', root, '--keyring', join(root, 'no-such-keyring')],
    ['serve', root, '--allow-unsigned', 'a,,b'],
    ['serve', root, '--max-timeout-ms', '0'],
    ['serve', root, '--allow-origin', 'https://ops.example.com/dashboard'],
    ['serve', root, '--allow-host', 'gw.lan:7070'],
    ['serve', root, '--shutdown-timeout-ms', '-1'],
    ['serve', root, '--admin-port', 'admin'],
    ['serve', root, '--port', '7999', '--admin-port', '7999'],
    ['serve', root, '--admin-host', '127.0.0.1'],
    ['serve', root, '--admin-token', 'short'],
    ['serve', root, '--admin-token-file', join(root, 'no-such-token')],
    ['serve', root, '--admin-token', 'admin-token-0123456789abcdef', '--admin-token-file', join(root, 't')],
  ]) {
    const res = await runPlugbay(args);
    assert.equal(res.code, 2, args.join(' '));
    assert.match(res.stderr, /Usage: plugbay serve|see plugbay serve --help/);
  }
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const port = String((taken.address() as AddressInfo).port);
  const res = await runPlugbay(['serve', root, '--port', port, '--state', join(root, 'state.db')]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /EADDRINUSE/);
});

test('plugbay serve --allow-origin, --allow-host, --max-timeout-ms reach the gateway', async (t) => {
  const root = await tempDir(t);
  const { child, url } = await serve(t, root, [
    '--allow-origin',
    'https://ops.example.com',
    '--allow-origin',
    'https://admin.example.com',
    '--allow-host',
    'gw.lan',
    '--max-timeout-ms',
    '1000',
  ]);
  const port = new URL(url).port;
  const send = async (headers: Record<string, string>) => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/v1/call/none/fn`, { method: 'POST', headers }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => {
          body += c;
        });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    return { status: res.status, code: (JSON.parse(res.body) as { error: { code: string } }).error.code };
  };
  // Past the checks, the call reaches the host, which knows no plugin `none`.
  const unknown = { status: 404, code: 'PLUGBAY_UNKNOWN_PLUGIN' };
  const forbidden = { status: 403, code: 'PLUGBAY_FORBIDDEN_ORIGIN' };
  assert.deepEqual(await send({}), unknown);
  assert.deepEqual(await send({ origin: 'https://ops.example.com' }), unknown);
  assert.deepEqual(await send({ origin: 'https://admin.example.com' }), unknown);
  assert.deepEqual(await send({ origin: 'https://evil.example' }), forbidden);
  assert.deepEqual(await send({ host: `gw.lan:${port}` }), unknown);
  assert.deepEqual(await send({ host: `evil.example:${port}` }), forbidden);
  assert.deepEqual(await send({ 'x-plugbay-timeout-ms': '1000' }), unknown);
  assert.deepEqual(await send({ 'x-plugbay-timeout-ms': '1001' }), {
    status: 400,
    code: 'PLUGBAY_INVALID_ARGUMENT',
  });
  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});
