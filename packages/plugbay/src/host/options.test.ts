import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHost } from './host.js';

test('createHost reports every broken option in one PLUGBAY_INVALID_ARGUMENT, each naming the option', () => {
  assert.throws(
    () =>
      createHost({
        callTimeoutMs: 0,
        circuit: { coolDownMs: 1.5 },
        artifactsDir: '',
        tracing: 'on' as 'auto',
        registry: {} as never,
        logLevels: { x: 'loud' as 'info' },
        grants: [{ plugin: 'p' }] as never,
        trust: { signatures: 'maybe' as 'off' },
      }),
    (e: { code: string; details: { problems: string[] } }) => {
      assert.equal(e.code, 'PLUGBAY_INVALID_ARGUMENT');
      const named = e.details.problems.map((p) => /^options\.([\w.]+)/.exec(p)?.[1]);
      assert.deepEqual(named, [
        'callTimeoutMs',
        'circuit.coolDownMs',
        'artifactsDir',
        'registry',
        'tracing',
        'logLevels.x',
        'grants',
        'trust',
      ]);
      return true;
    },
  );
});

test('createHost with no options fills in every default and starts nothing', async () => {
  const host = createHost();
  assert.deepEqual(host.versions(), []);
  await host.close();
});
