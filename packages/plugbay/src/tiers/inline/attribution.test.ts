import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./fault-child.js', import.meta.url));

/** Runs one scenario of fault-child.js in a fresh Node process. */
function run(
  scenario: string,
  attribution = 'async-context',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [child, scenario, attribution],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function facts(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('inline tier error attribution (child processes)', () => {
  test('a throw in a plugin timer and an unawaited rejection fail that instance only; the host lives on', async () => {
    const { code, stdout, stderr } = await run('attributed');
    assert.equal(code, 0, stderr);
    const [first, second] = facts(stdout);
    assert.deepEqual(first, {
      a: {
        code: 'PLUGBAY_PLUGIN_ERROR',
        plugin: 'basic',
        version: '1.2.3',
        origin: 'uncaughtException',
        state: 'failed',
      },
      b: { code: 'PLUGBAY_PLUGIN_ERROR', origin: 'unhandledRejection', state: 'failed' },
      aLogged: true,
      stack: true,
      afterFault: 'PLUGBAY_NO_INSTANCE',
      bystander: 3,
      bystanderState: 'ready',
    });
    assert.deepEqual(second, { listeners: 0 }, 'the process listeners go away with the last inline instance');
  });

  for (const attribution of ['async-context', 'stack']) {
    test(`${attribution}: timer throw, unawaited rejection and microtask throw are all attributed`, async () => {
      const { code, stdout, stderr } = await run('kinds', attribution);
      assert.equal(code, 0, stderr);
      assert.deepEqual(facts(stdout), [
        {
          throwsInTimer: { code: 'PLUGBAY_PLUGIN_ERROR', origin: 'uncaughtException', state: 'failed' },
          rejectsUnawaited: { code: 'PLUGBAY_PLUGIN_ERROR', origin: 'unhandledRejection', state: 'failed' },
          throwsInMicrotask: { code: 'PLUGBAY_PLUGIN_ERROR', origin: 'uncaughtException', state: 'failed' },
        },
      ]);
    });
  }

  test('attribution off: a throw in a plugin timer ends the process with code 1, as without plugbay', async () => {
    const { code, stderr } = await run('kinds', 'off');
    assert.equal(code, 1);
    assert.match(stderr, /thrown in the plugin timer/);
  });

  test('an unattributed uncaught exception still ends the process with code 1, as without plugbay', async () => {
    const { code, stderr } = await run('unattributed-throw');
    assert.equal(code, 1);
    assert.match(stderr, /host bug outside any plugin/);
  });

  test('an unattributed unhandled rejection follows the default throw mode: exit code 1', async () => {
    const { code, stderr } = await run('unattributed-rejection');
    assert.equal(code, 1);
    assert.match(stderr, /host rejection outside any plugin/);
  });

  test("an application's own uncaughtException listener keeps receiving unattributed errors", async () => {
    const { code, stdout, stderr } = await run('application-handler');
    assert.equal(code, 0, stderr);
    assert.deepEqual(facts(stdout), [{ appSaw: 'the application handles this', state: 'ready' }]);
  });
});
