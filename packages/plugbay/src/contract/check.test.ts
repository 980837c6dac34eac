import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  contractCheckCommand,
  contractDiffCommand,
  contractSnapshotCommand,
} from '../cli/contract-commands.js';
import { bumpOf, checkAgainst } from './check.js';
import type { ContractSnapshot } from './snapshot.js';

const resizeOutput = {
  type: 'object',
  properties: { width: { type: 'integer' }, height: { type: 'integer' }, url: { type: 'string' } },
  required: ['width', 'height', 'url'],
};

function manifest(version: string, output: Record<string, unknown>) {
  return {
    name: 'resizer',
    version,
    runtime: 'node',
    entry: 'index.js',
    functions: { resize: { input: { type: 'object', properties: { w: { type: 'integer' } } }, output } },
  };
}

function snap(version: string, functions: ContractSnapshot['functions']): ContractSnapshot {
  return { name: 'resizer', version, functions };
}

describe('the CI gate (plugbay contract check)', () => {
  it('a new version that removes a required output field fails, naming the field; a major bump passes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugbay-gate-'));
    try {
      await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest('1.4.0', resizeOutput)));
      const snapshotPath = join(dir, 'contract.snapshot.json');
      assert.equal((await contractSnapshotCommand({ pluginDir: dir, out: snapshotPath })).exitCode, 0);
      assert.equal(
        JSON.parse(await readFile(snapshotPath, 'utf8')).functions.resize.output.required.length,
        3,
      );

      const { url: _url, ...rest } = resizeOutput.properties;
      const withoutUrl = { ...resizeOutput, properties: rest, required: ['width', 'height'] };
      await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest('1.5.0', withoutUrl)));
      const failed = await contractCheckCommand({ pluginDir: dir, against: snapshotPath });
      assert.equal(failed.exitCode, 1);
      assert.match(failed.output, /field url/);
      assert.match(failed.output, /output\.property\.removed/);
      const json = JSON.parse(
        (await contractCheckCommand({ pluginDir: dir, against: snapshotPath, json: true })).output,
      );
      assert.deepEqual(
        json.errors.map((e: { rule: string; change: { field: string; rule: string } }) => [
          e.rule,
          e.change.field,
          e.change.rule,
        ]),
        [
          ['breaking-without-major', 'url', 'output.property.removed'],
          // the witness: an output without url, which the old version promised
          ['breaking-without-major', undefined, 'output.value.refused'],
        ],
      );

      await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest('2.0.0', withoutUrl)));
      const passed = await contractCheckCommand({ pluginDir: dir, against: snapshotPath });
      assert.equal(passed.exitCode, 0, passed.output);

      // diff between the two: exit 1 (breaking), 2 on a missing file.
      assert.equal((await contractDiffCommand({ before: snapshotPath, after: dir })).exitCode, 1);
      assert.equal((await contractDiffCommand({ before: snapshotPath, after: snapshotPath })).exitCode, 0);
      assert.equal((await contractDiffCommand({ before: join(dir, 'nope.json'), after: dir })).exitCode, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a compatible addition without a minor bump is a warning, not an error', () => {
    const before = snap('1.2.3', { a: { input: { type: 'integer' }, output: { type: 'string' } } });
    const after = snap('1.2.4', {
      ...before.functions,
      b: { input: { type: 'integer' }, output: { type: 'string' } },
    });
    const result = checkAgainst(before, after);
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.warnings.map((w) => [w.rule, w.change?.rule]),
      [['addition-without-minor', 'function.added']],
    );
    assert.deepEqual(checkAgainst(before, { ...after, version: '1.3.0' }).warnings, []);
  });

  it('unknown changes block without a major bump unless allowed', () => {
    const before = snap('1.0.0', { a: { input: { oneOf: [{ type: 'integer' }] }, output: true } });
    const after = snap('1.1.0', { a: { input: { oneOf: [{ type: 'number' }] }, output: true } });
    assert.deepEqual(
      checkAgainst(before, after).errors.map((e) => e.rule),
      ['unknown-without-major'],
    );
    const allowed = checkAgainst(before, after, { allowUnknown: true });
    assert.equal(allowed.ok, true);
    assert.deepEqual(
      allowed.warnings.map((w) => w.rule),
      ['unknown-allowed'],
    );
  });

  it('refuses renamed plugins and version downgrades', () => {
    const s = snap('1.0.0', {});
    assert.deepEqual(
      checkAgainst(s, { ...s, name: 'other' }).errors.map((e) => e.rule),
      ['name-changed'],
    );
    assert.deepEqual(
      checkAgainst(s, { ...s, version: '0.9.0' }).errors.map((e) => e.rule),
      ['version-downgrade'],
    );
  });

  it('version bumps; 0.x minor and 0.0.x patch steps count as major', () => {
    assert.equal(bumpOf('1.2.3', '2.0.0'), 'major');
    assert.equal(bumpOf('1.2.3', '1.3.0'), 'minor');
    assert.equal(bumpOf('1.2.3', '1.2.4'), 'patch');
    assert.equal(bumpOf('1.2.3', '1.2.3'), 'none');
    assert.equal(bumpOf('1.2.3', '1.2.2'), 'downgrade');
    assert.equal(bumpOf('0.2.3', '0.3.0'), 'major');
    assert.equal(bumpOf('0.0.3', '0.0.4'), 'major');
    assert.equal(bumpOf('0.2.3', '0.2.4'), 'patch');
    assert.equal(bumpOf('1.0.0-rc.1', '1.0.0'), 'patch');
    assert.equal(bumpOf('x', '1.0.0'), undefined);
  });
});
