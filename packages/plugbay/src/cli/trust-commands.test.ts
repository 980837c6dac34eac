import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir, writePlugin } from '../trust/fixtures.test.shared.js';
import { keygenCommand, signCommand, verifyCommand } from './trust-commands.js';

describe('keygen / sign / verify commands', () => {
  it('keygen → sign → verify: exit 0 only when valid; tampering gives exit 1; bad arguments exit 2', async () => {
    await using dir = await tempDir('cli-trust');
    const ring = join(dir.path, 'keyring');
    const plugin = join(dir.path, 'greeter');
    await mkdir(ring);
    await mkdir(plugin);
    await writePlugin(plugin);

    const gen = await keygenCommand({ out: join(ring, 'alice') });
    assert.equal(gen.exitCode, 0, gen.output);
    assert.equal((await stat(join(ring, 'alice.key'))).mode & 0o777, 0o600);
    assert.equal((await keygenCommand({ out: join(ring, 'alice') })).exitCode, 2); // never overwrites a key

    assert.equal((await verifyCommand({ pluginDir: plugin, keyring: ring })).exitCode, 1); // unsigned
    const signed = await signCommand({ pluginDir: plugin, key: join(ring, 'alice.key') });
    assert.equal(signed.exitCode, 0, signed.output);

    const ok = await verifyCommand({ pluginDir: plugin, keyring: ring, json: true });
    assert.equal(ok.exitCode, 0, ok.output);
    assert.equal(JSON.parse(ok.output).status, 'valid');
    assert.equal(JSON.parse(ok.output).trust, 'community');

    await writeFile(join(plugin, 'index.js'), 'tampered();');
    const bad = await verifyCommand({ pluginDir: plugin, keyring: ring });
    assert.equal(bad.exitCode, 1);
    assert.match(bad.output, /^modified\n {2}file-changed: index\.js/);

    assert.equal((await signCommand({ pluginDir: plugin, key: join(ring, 'missing.key') })).exitCode, 2);
    assert.equal((await signCommand({ pluginDir: plugin, key: join(ring, 'alice.pub') })).exitCode, 2);
    assert.equal((await verifyCommand({ pluginDir: plugin, keyring: join(dir.path, 'nope') })).exitCode, 2);
  });
});
