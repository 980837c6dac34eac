import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { definePlugin, Type } from '@plugbay/sdk';
import { repoRoot, runPlugbay } from '../test-support/cli.js';
import { listExamples, skipReason } from '../test-support/examples.js';
import { type ConformanceCheck, conformance, formatReport, testPlugin } from './index.js';

const fixtures = join(repoRoot, 'test/fixtures/author');
const fixture = (name: string) => join(fixtures, name);

function only(checks: ConformanceCheck[], id: ConformanceCheck['id']): ConformanceCheck {
  const check = checks.find((c) => c.id === id);
  assert.ok(check, `no ${id} check in ${JSON.stringify(checks)}`);
  return check;
}

/** The failed checks of a report, by id; each must name a problem and a fix. */
function failures(checks: ConformanceCheck[]): string[] {
  const failed = checks.filter((c) => c.status === 'fail');
  for (const c of failed) {
    assert.ok(c.problem && c.problem.length > 0, `${c.id} has no problem`);
    assert.ok(c.fix && c.fix.length > 0, `${c.id} has no fix`);
  }
  return failed.map((c) => c.id);
}

describe('testPlugin', () => {
  test('loads a plugin directory in the chosen tier and returns a typed client and the host', async () => {
    for (const tier of ['inline', 'thread'] as const) {
      await using tested = await testPlugin(fixture('good'), { tier });
      assert.equal(tested.status.tier, tier);
      assert.deepEqual(await tested.call('greet', { name: 'Ada' }), { message: 'Hello, Ada!' });
      assert.equal(tested.host.versions().length, 1);
    }
  });

  test('runs a definePlugin object inline; other tiers are refused with PLUGBAY_INVALID_ARGUMENT', async () => {
    const plugin = definePlugin({
      name: 'kit-inline',
      version: '0.1.0',
      functions: {
        add: {
          input: Type.Object({ a: Type.Number(), b: Type.Number() }),
          output: Type.Number(),
          handler: ({ a, b }) => a + b,
        },
      },
    });
    const tested = await testPlugin(plugin);
    try {
      const sum: number = await tested.client.add({ a: 2, b: 3 }); // typed by the definition
      assert.equal(sum, 5);
      await assert.rejects(tested.call('add', { a: 'x' }), { code: 'PLUGBAY_INVALID_INPUT' });
    } finally {
      await tested.close();
    }
    await assert.rejects(testPlugin(plugin, { tier: 'thread' }), { code: 'PLUGBAY_INVALID_ARGUMENT' });
  });
});

describe('conformance', () => {
  test('a correct plugin passes every check (thread, plus the inline leak check)', async () => {
    const report = await conformance(fixture('good'));
    assert.deepEqual(failures(report.checks), []);
    assert.equal(report.ok, true);
    assert.equal(only(report.checks, 'leaks').status, 'pass');
    assert.equal(only(report.checks, 'examples').status, 'pass');
    assert.equal(only(report.checks, 'contract').status, 'skip');
  });

  test('bad example output: the examples check fails, naming the function and the fix', async () => {
    const report = await conformance(fixture('bad-example'), { tier: 'inline' });
    assert.deepEqual(failures(report.checks), ['examples']);
    const check = only(report.checks, 'examples');
    assert.match(check.problem ?? '', /greet example 1/);
    assert.match(check.fix ?? '', /examples\[0\]\.output/);
  });

  test('leaking timer: the inline leak check fails and says where the timer was made', async () => {
    const report = await conformance(fixture('leaking-timer'), { tier: 'inline' });
    assert.deepEqual(failures(report.checks), ['leaks']);
    const check = only(report.checks, 'leaks');
    assert.match(check.problem ?? '', /leaking-timer[\\/]plugin\.js/);
    assert.match(check.fix ?? '', /stop\(\)/);
  });

  test('undeclared export: the exports check fails and names the function', async () => {
    const report = await conformance(fixture('undeclared-export'), { tier: 'inline' });
    assert.deepEqual(failures(report.checks), ['exports']);
    assert.match(only(report.checks, 'exports').problem ?? '', /debugDump/);
    assert.match(only(report.checks, 'exports').fix ?? '', /debugDump/);
  });

  test('contract mismatch: fails against the contract snapshot, and asks for one when none is given', async () => {
    const dir = fixture('contract-mismatch');
    const report = await conformance(dir, {
      tier: 'inline',
      contracts: [join(dir, 'greeter.contract.json')],
    });
    assert.deepEqual(failures(report.checks), ['contract']);
    assert.match(only(report.checks, 'contract').problem ?? '', /greeter@1\.0\.0/);
    const without = await conformance(dir, { tier: 'inline' });
    assert.deepEqual(failures(without.checks), ['contract']);
    assert.match(only(without.checks, 'contract').fix ?? '', /--contract/);
  });

  test('slow stop: the stop check fails when stop() overruns its timeout', async () => {
    const report = await conformance(fixture('slow-stop'), { tier: 'thread', stopTimeoutMs: 300 });
    assert.ok(failures(report.checks).includes('stop'));
    assert.match(only(report.checks, 'stop').fix ?? '', /stop\(\)/);
  });

  test('an invalid manifest fails the manifest check and stops there', async (t) => {
    const report = await conformance(join(fixtures, 'does-not-exist'));
    assert.deepEqual(failures(report.checks), ['manifest']);
    assert.equal(report.checks.length, 1);
    t.diagnostic(report.checks[0]?.problem ?? '');
  });
});

describe('plugbay test', () => {
  test('exit 0 with a readable report for a good plugin, 1 for a broken one, 2 for bad arguments', async () => {
    const good = await runPlugbay(['test', fixture('good'), '--tier', 'inline']);
    assert.equal(good.code, 0, good.stderr + good.stdout);
    assert.match(good.stdout, /PASS\s+examples/);
    const bad = await runPlugbay(['test', fixture('undeclared-export'), '--tier', 'inline']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, /FAIL\s+exports/);
    assert.match(bad.stdout, /fix:/);
    const usage = await runPlugbay(['test', fixture('good'), '--tier', 'moon']);
    assert.equal(usage.code, 2);
  });
});

// The examples `npm start` serves are what newcomers copy: each passes every check in its default tier, and
// exercises its manifest's examples (plugin.json `functions.f.examples`). Built by `npm run build`.
describe('every example in examples/plugins passes conformance', async () => {
  for (const example of await listExamples()) {
    test(`${example.dirName} (${example.lang})`, { skip: skipReason(example) }, async () => {
      const report = await conformance(example.dir);
      assert.ok(report.ok, formatReport(report));
      assert.deepEqual(
        report.checks.filter((c) => c.status === 'warn').map((c) => c.id),
        [],
        formatReport(report),
      );
      assert.equal(only(report.checks, 'examples').status, 'pass');
    });
  }
});
