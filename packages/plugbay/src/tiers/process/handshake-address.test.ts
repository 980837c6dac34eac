// Review finding (LOW) on #13: the gateway connected to whatever address a plugin's handshake line named, in the
// gateway's own namespaces, so a sandboxed plugin could make it connect to any socket on the machine. Only a unix
// socket inside the launch's own socket dir is accepted now; anything else fails the launch before any connect.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import { logSink, tempRoot, writePlugin } from './test-helpers.js';
import { ProcessTier } from './tier.js';

describe('the handshake address a plugin prints', () => {
  const dirs = tempRoot();
  // The real sandbox when this machine has it: a sandboxed plugin is who the check is for.
  const tier = new ProcessTier({ socketRoot: dirs.root, startTimeoutMs: 3000 });
  after(async () => {
    await tier.close();
    dirs.cleanup();
  });

  /** A listener outside every socket dir that counts the connections it gets. */
  async function outside(listenOn: string | number): Promise<{ address: string; connections(): number }> {
    let count = 0;
    const server = net.createServer((s) => {
      count++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(listenOn, resolve));
    after(() => server.close());
    const a = server.address();
    return {
      address: typeof a === 'string' ? a : `127.0.0.1:${a?.port}`,
      connections: () => count,
    };
  }

  /** An exec plugin whose shell script runs `setup`, prints the handshake `line` (shell-expanded), then waits. */
  async function refused(name: string, setup: string, line: string): Promise<PlugbayError> {
    const plugin = writePlugin(
      dirs.root,
      name,
      { runtime: 'exec', entry: 'plugin.sh' },
      {
        'plugin.sh': `#!/bin/sh\n${setup}\necho "${line}"\nexec cat\n`,
      },
    );
    fs.chmodSync(plugin.entryPath, 0o755);
    const err = await tier.load(plugin, logSink().opts()).catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError, String(err));
    return err;
  }

  test('a unix socket outside its socket dir: the launch fails naming the address, nothing connects', async () => {
    const target = await outside(path.join(dirs.root, 'outside.sock'));
    const err = await refused('abs', '', `1|1|unix|${target.address}|grpc|`);
    assert.equal(target.connections(), 0, 'the host connected to it');
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.address, target.address);
    assert.equal(err.details?.rule, 'socket-dir');
  });

  test('a symlink in its socket dir to a socket outside: refused too', async () => {
    const target = await outside(path.join(dirs.root, 'outside2.sock'));
    const err = await refused(
      'link',
      `ln -s '${target.address}' "$PLUGIN_UNIX_SOCKET_DIR/plugin.sock"`,
      '1|1|unix|$PLUGIN_UNIX_SOCKET_DIR/plugin.sock|grpc|',
    );
    assert.equal(target.connections(), 0, 'the host connected to it');
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.rule, 'socket-dir');
    assert.match(String(err.details?.address), /\/plugin\.sock$/);
  });

  test('a tcp address: refused (the host connects only to its launch socket dir)', async () => {
    const target = await outside(0);
    const err = await refused('tcp', '', `1|1|tcp|${target.address}|grpc|`);
    assert.equal(target.connections(), 0, 'the host connected to it');
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.address, target.address);
  });
});
