// Go plugins built with hashicorp/go-plugin (Debian's 1.0.1): one speaking plugbay.v1.Plugin, one plain KV
// service called through protocol "go-plugin". Built by scripts/build-go-plugins.sh (npm test runs it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PlugbayError } from '../../core/errors.js';
import { type Manifest, validateManifest } from '../../core/manifest.js';
import type { CheckedPlugin } from '../../core/types.js';
import { detectSandboxTools } from './sandbox.js';
import { call, codeOf, descendants, logSink, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

const examples = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../../examples/go-plugins',
);
const built =
  fs.existsSync(path.join(examples, 'kv/bin/kv')) &&
  fs.existsSync(path.join(examples, 'plugbay-echo/bin/plugbay-echo'));
// npm test builds them first; under CI a missing build fails instead of skipping.
const skip = built || process.env.CI ? false : 'Go plugins not built (run scripts/build-go-plugins.sh)';

function checkedExample(name: string): CheckedPlugin {
  const dir = path.join(examples, name);
  const result = validateManifest(JSON.parse(fs.readFileSync(path.join(dir, 'plugin.json'), 'utf8')));
  if (!('manifest' in result)) throw new Error(`bad manifest ${JSON.stringify(result.problems)}`);
  const manifest: Manifest = result.manifest;
  return {
    id: `${manifest.name}@${manifest.version}`,
    dir,
    manifest,
    entryPath: path.join(dir, manifest.entry),
    permissions: manifest.permissions ?? {},
    warnings: [],
  };
}

describe('go-plugin compatibility', { skip }, () => {
  const dirs = tempRoot();
  const tier = new ProcessTier({ socketRoot: dirs.root });
  after(async () => {
    await tier.close();
    dirs.cleanup();
  });

  it('a Go plugin implementing plugbay.v1.Plugin runs as an exec plugin', async () => {
    const log = logSink();
    const plugin = checkedExample('plugbay-echo');
    const instance = await tier.load(plugin, log.opts());
    // it runs under the seccomp filter wherever bwrap loads it, and the kernel agrees
    const seccomp = (await detectSandboxTools()).seccomp;
    assert.equal(instance.sandbox.find((l) => l.layer === 'seccomp')?.applied, seccomp);
    if (seccomp) {
      const go = descendants(instance.pid as number).filter((p) => p.argv0 === plugin.entryPath);
      assert.deepEqual(
        go.map((p) => p.seccomp),
        [2],
      );
    }
    assert.deepEqual([...instance.exportedFunctions], ['echo', 'fail', 'reverse']);
    await instance.start({ signal: new AbortController().signal, config: { greeting: 'hi' } });
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const out = (await call(
      instance,
      'echo',
      { a: 1 },
      { key: 'tenant-1', traceparent: tp, timeoutMs: 5000 },
    )) as Record<string, unknown>;
    assert.deepEqual(out.input, { a: 1 });
    assert.equal(out.lang, 'go');
    assert.equal(out.key, 'tenant-1');
    // an exec plugin gets them as gRPC metadata and deadline as well
    assert.deepEqual(out.grpc, { key: ['tenant-1'], traceparent: [tp], deadline: true });
    assert.equal(out.traceparent, tp);
    const err = await call(instance, 'fail').catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(err.details?.pluginCode, 'GO_FAILED');
    assert.equal((await instance.health(new AbortController().signal)).status, 'ok');
    // hclog JSON from the plugin arrives as structured lines
    const started = await log.waitFor((l) => l.msg === 'started');
    assert.equal(started.level, 'info');
    assert.equal(started.fields?.config, '{"greeting":"hi"}');
    const pid = instance.pid as number;
    await instance.close();
    assert.throws(() => process.kill(pid, 0), 'process gone after close');
  });

  it('a plain go-plugin KV service: Put and Get as functions, JSON <-> protobuf', async () => {
    const instance = await tier.load(checkedExample('kv'), logSink().opts());
    assert.deepEqual([...instance.exportedFunctions].sort(), ['Get', 'Put']);
    await instance.start({ signal: new AbortController().signal, config: undefined });
    const value = Buffer.from('hello from node').toString('base64');
    assert.deepEqual(await call(instance, 'Put', { key: 'greeting', value }), {});
    assert.deepEqual(await call(instance, 'Get', { key: 'greeting' }), { value });
    // the service's own error (key not found) is a plugin error; an unknown method is an unknown function
    assert.equal(await codeOf(call(instance, 'Get', { key: 'missing' })), 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(await codeOf(call(instance, 'Delete', { key: 'x' })), 'PLUGBAY_UNKNOWN_FUNCTION');
    // input that does not fit the request message is the caller's mistake, not the plugin's
    assert.equal(await codeOf(call(instance, 'Put', { key: 'k', value: '!!!' })), 'PLUGBAY_INVALID_INPUT');
    // a routing key that is not printable ASCII cannot be gRPC metadata: the call goes without it
    assert.deepEqual(await call(instance, 'Get', { key: 'greeting' }, { key: 'clé-7' }), { value });
    assert.equal((await instance.health(new AbortController().signal)).status, 'ok');
    const pid = instance.pid as number;
    await instance.close();
    assert.throws(() => process.kill(pid, 0), 'process gone after Controller.Shutdown');
  });

  it("the KV service over plugbay's HTTP/2 client: 3 MiB values both ways, 64 calls at once", async () => {
    const instance = await tier.load(checkedExample('kv'), logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    // past HTTP/2's 64 KiB default window: the flow-control windows on both sides move
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    const value = big.toString('base64');
    assert.deepEqual(await call(instance, 'Put', { key: 'big', value }), {});
    assert.equal(((await call(instance, 'Get', { key: 'big' })) as { value: string }).value, value);
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
    await Promise.all(
      keys.map((key) => call(instance, 'Put', { key, value: Buffer.from(key).toString('base64') })),
    );
    const got = await Promise.all(keys.map((key) => call(instance, 'Get', { key })));
    assert.deepEqual(
      got.map((g) => Buffer.from((g as { value: string }).value, 'base64').toString()),
      keys,
    );
    await instance.close();
  });

  it('a killed Go plugin fails its calls, restarts and serves again', async () => {
    const t = new ProcessTier({ socketRoot: dirs.root, restart: { initialDelayMs: 10 } });
    const instance = await t.load(checkedExample('kv'), logSink().opts());
    await instance.start({ signal: new AbortController().signal, config: undefined });
    process.kill(instance.pid as number, 'SIGKILL');
    await new Promise<void>((resolve) => instance.once('state', () => resolve()));
    assert.equal(instance.state, 'degraded');
    const value = Buffer.from('again').toString('base64');
    assert.deepEqual(await call(instance, 'Put', { key: 'k', value }), {});
    assert.deepEqual(await call(instance, 'Get', { key: 'k' }), { value });
    await t.close();
  });
});
