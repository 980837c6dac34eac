import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostVersion } from '../core/version.js';
import { runPlugbay } from '../test-support/cli.js';

test('plugbay --version, --help, help <command>; no command or an unknown one is a usage error (exit 2)', async () => {
  const version = await runPlugbay(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), hostVersion);

  const help = await runPlugbay(['--help']);
  assert.equal(help.code, 0);
  for (const command of ['serve', 'check', 'build', 'keygen', 'sign', 'verify', 'contract'])
    assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));

  const helpBuild = await runPlugbay(['help', 'build']);
  assert.equal(helpBuild.code, 0);
  assert.match(helpBuild.stdout, /^plugbay build \[dir\.\.\.\]/);

  const none = await runPlugbay([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: plugbay <command>/);

  const unknown = await runPlugbay(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.doesNotMatch(unknown.stderr, /Commands:/, 'one line, not the whole help');

  const typo = await runPlugbay(['serv']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown command "serv" \(did you mean "serve"\?\)/);
});
