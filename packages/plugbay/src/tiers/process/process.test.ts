import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import { call, codeOf, logSink, nodePlugin, sdkEntry, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

for (const carrier of ['frames', 'grpc'] as const) {
  describe(`node plugin over ${carrier}`, () => {
    const dirs = tempRoot();
    const tier = new ProcessTier({ sdkEntry, nodeCarrier: carrier, socketRoot: dirs.root });
    after(async () => {
      await tier.close();
      dirs.cleanup();
    });

    it('describes, starts, calls with metadata and maps plugin errors', async () => {
      const log = logSink();
      const plugin = nodePlugin(dirs.root, `ok-${carrier}`);
      const instance = await tier.load(plugin, log.opts());
      assert.ok(instance.exportedFunctions.includes('echo'));
      await instance.start({ signal: new AbortController().signal, config: { a: 1 } });
      assert.equal(instance.state, 'ready');
      const before = Date.now();
      const out = (await call(
        instance,
        'echo',
        { hello: 'world' },
        { key: 'user-7', traceparent, timeoutMs: 5000 },
      )) as Record<string, unknown>;
      // the plugin sees the host's deadline (it travels in the CallRequest on both carriers)
      assert.ok((out.deadline as number) >= before + 5000 && (out.deadline as number) <= Date.now() + 5000);
      assert.deepEqual(out.input, { hello: 'world' });
      assert.equal(out.key, 'user-7');
      assert.equal(out.traceId, '0af7651916cd43dd8448eb211c80319c');
      assert.equal(typeof out.deadline, 'number');
      assert.notEqual(out.pid, process.pid);

      const err = await call(instance, 'fail').catch((e: unknown) => e);
      assert.ok(err instanceof PlugbayError);
      assert.equal(err.code, 'PLUGBAY_PLUGIN_ERROR');
      assert.equal(err.details?.pluginCode, 'FIXTURE_FAILED');
      assert.equal(err.plugin, 'fixture');
      assert.equal(await codeOf(call(instance, 'nope')), 'PLUGBAY_UNKNOWN_FUNCTION');
      // input JSON cannot hold is refused before anything is sent, and the connection serves on
      assert.equal(await codeOf(call(instance, 'echo', { n: 1n })), 'PLUGBAY_INVALID_INPUT');
      assert.equal(await codeOf(call(instance, 'echo', () => 1)), 'PLUGBAY_INVALID_INPUT');
      assert.deepEqual(((await call(instance, 'echo', { n: 1 })) as { input: unknown }).input, { n: 1 });

      const socket = instance.socketPath as string;
      assert.ok(fs.existsSync(socket));
      await instance.close();
      assert.equal(instance.state, 'closed');
      assert.equal(fs.existsSync(socket), false, 'socket file removed');
    });

    it('a non-ASCII traceparent or key reaches the plugin intact (they travel in the message)', async () => {
      const instance = await tier.load(nodePlugin(dirs.root, `text-${carrier}`), logSink().opts());
      await instance.start({ signal: new AbortController().signal, config: {} });
      const tp = 'é'.repeat(50);
      const out = (await call(
        instance,
        'echo',
        { a: 1 },
        { key: 'clé-7', traceparent: tp, timeoutMs: 5000 },
      )) as {
        key: string;
      };
      assert.equal(out.key, 'clé-7');
    });

    it('carries cancellation and deadlines across the boundary', async () => {
      const log = logSink();
      const instance = await tier.load(nodePlugin(dirs.root, `cancel-${carrier}`), log.opts());
      await instance.start({ signal: new AbortController().signal, config: undefined });
      const ac = new AbortController();
      const pending = call(instance, 'waitAbort', {}, { signal: ac.signal });
      setImmediate(() => ac.abort());
      assert.equal(await codeOf(pending), 'PLUGBAY_CANCELLED');
      await log.waitFor((l) => l.msg === 'aborted in plugin');
      assert.equal(await codeOf(call(instance, 'waitAbort', {}, { timeoutMs: 50 })), 'PLUGBAY_TIMEOUT');
      await log.waitFor(
        (l) =>
          l.msg === 'aborted in plugin' && log.lines.filter((x) => x.msg === 'aborted in plugin').length >= 2,
      );
      // still serving afterwards
      assert.deepEqual(((await call(instance, 'echo', 1)) as { input: number }).input, 1);
      await instance.close();
    });

    it('a call made the moment a crash is known waits for the restart; one crash, one restart', async () => {
      const instance = await tier.load(nodePlugin(dirs.root, `restart-${carrier}`), logSink().opts());
      await instance.start({ signal: new AbortController().signal, config: undefined });
      const exits: PlugbayError[] = [];
      instance.on('exit', (e) => exits.push(e));
      const next = call(instance, 'crash').then(
        () => assert.fail('the crash call answered'),
        (err: unknown) => {
          assert.ok(err instanceof PlugbayError);
          assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
          return call(instance, 'echo', 'after', { timeoutMs: 10_000 });
        },
      );
      assert.equal(((await next) as { input: string }).input, 'after');
      assert.equal(exits.length, 1);
      assert.equal(instance.restarts, 1);
      await instance.destroy();
    });

    it('close() waits for a call in flight, then fails it with PLUGBAY_CLOSED past half its budget', async () => {
      const instance = await tier.load(nodePlugin(dirs.root, `close-${carrier}`), logSink().opts());
      await instance.start({ signal: new AbortController().signal, config: undefined });
      const pending = codeOf(call(instance, 'waitAbort')); // no deadline: it ends only when the process does
      await call(instance, 'echo', 1);
      const began = Date.now();
      await instance.close({ timeoutMs: 400 });
      assert.ok(Date.now() - began >= 190, `close() waited for the call: ${Date.now() - began} ms`);
      assert.equal(instance.state, 'closed');
      assert.equal(await pending, 'PLUGBAY_CLOSED', 'not PLUGBAY_PLUGIN_CRASHED: the circuit ignores it');
    });

    it('fails a call in flight at once with PLUGBAY_PLUGIN_CRASHED when the process dies', async () => {
      const instance = await tier.load(nodePlugin(dirs.root, `crash-${carrier}`), logSink().opts());
      await instance.start({ signal: new AbortController().signal, config: undefined });
      // the plugin SIGKILLs itself with the call pending; no deadline: only the exit can end it
      assert.equal(await codeOf(call(instance, 'crash')), 'PLUGBAY_PLUGIN_CRASHED');
      await instance.destroy();
    });
  });
}
