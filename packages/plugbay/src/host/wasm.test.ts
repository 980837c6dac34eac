import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { pino } from 'pino';
import { createGateway } from '../gateway/server.js';
import type { tempDir } from '../test-support/plugins.js';
import { createWasmTier } from '../tiers/index.js';
import { buildFixtures, fixture, wasmPlugin } from '../tiers/wasm/test-fixtures.js';
import { createHost } from './host.js';

// The wasm tier through the host and the gateway: schemas, routing and hot swap apply as for every tier.

before(() => buildFixtures());

const json = {};
function versionDir(t: Parameters<typeof tempDir>[0], wasm: string, version: string) {
  const p = wasmPlugin(fixture(wasm), {
    name: 'echoer',
    version,
    functions: {
      echo: { input: json, output: json },
      fail: { input: json, output: json },
    },
  });
  t.after(() => p.cleanup());
  return p.dir;
}

function wasmHost(t: Parameters<typeof tempDir>[0]) {
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { wasm: createWasmTier({ run: 'host-thread' }) },
  });
  t.after(() => host.close());
  return host;
}

test('a wasm plugin (AssemblyScript, Extism PDK) answers through host.call and over HTTP', async (t) => {
  const host = wasmHost(t);
  await host.load(versionDir(t, 'as', '1.0.0'));
  assert.deepEqual(await host.call('echoer', 'echo', { name: 'Zoë', n: [1, 2] }), { name: 'Zoë', n: [1, 2] });
  await assert.rejects(host.call('echoer', 'fail', {}), { code: 'PLUGBAY_PLUGIN_ERROR', plugin: 'echoer' });

  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const res = await gateway.fastify.inject({
    method: 'POST',
    url: '/v1/call/echoer/echo',
    payload: { hi: 'there' },
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { hi: 'there' });
  assert.equal(res.headers['x-plugbay-served-by'], 'echoer@1.0.0');
});

test('hot swap between two .wasm versions: activate, calls move, the old version is drained', async (t) => {
  const host = wasmHost(t);
  await host.load(versionDir(t, 'as', '1.0.0'));
  await host.load(versionDir(t, 'as', '1.1.0'));
  await host.activate('echoer', '1.0.0');
  assert.equal((await host.callDetailed('echoer', 'echo', { a: 1 })).version, '1.0.0');
  const r = await host.activate('echoer', '1.1.0');
  assert.equal(r.previous, '1.0.0');
  const answer = await host.callDetailed('echoer', 'echo', { a: 1 });
  assert.deepEqual([answer.version, answer.output], ['1.1.0', { a: 1 }]);
  assert.deepEqual(
    host.versions().map((v) => `${v.version} ${v.tier}`),
    ['1.1.0 wasm'],
  );
  assert.equal((await host.rollback('echoer')).version, '1.0.0');
  assert.equal((await host.callDetailed('echoer', 'echo', {})).version, '1.0.0');
});
