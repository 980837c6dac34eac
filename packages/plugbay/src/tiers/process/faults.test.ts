// Fault injection with real child processes. A bystander plugin stays loaded through every test: the tier must
// keep serving it whatever the faulty one does.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import type { ProcessInstance } from './instance.js';
import {
  call,
  callContext,
  codeOf,
  execHelperPlugin,
  logSink,
  nodePlugin,
  sdkEntry,
  stateReached,
  tempRoot,
} from './test-helpers.js';
import { ProcessTier } from './tier.js';

const noSignal = new AbortController().signal;

describe('process tier fault injection', () => {
  const dirs = tempRoot();
  const tier = new ProcessTier({
    sdkEntry,
    socketRoot: dirs.root,
    sandbox: false,
    startTimeoutMs: 5000,
    restart: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  let bystander: ProcessInstance;

  before(async () => {
    bystander = await tier.load(nodePlugin(dirs.root, 'bystander'), logSink().opts());
    await bystander.start({ signal: noSignal, config: undefined });
  });
  afterEach(async () => {
    assert.equal(bystander.state, 'ready');
    assert.deepEqual(
      ((await call(bystander, 'echo', 'still here')) as { input: string }).input,
      'still here',
    );
  });
  after(async () => {
    await tier.close();
    dirs.cleanup();
  });

  async function started(
    name: string,
    opts: Parameters<typeof nodePlugin>[2] = {},
    t = tier,
  ): Promise<ProcessInstance> {
    const instance = await t.load(nodePlugin(dirs.root, name, opts), logSink().opts());
    await instance.start({ signal: noSignal, config: undefined });
    return instance;
  }

  it('SIGKILL mid-call fails the call at once with PLUGBAY_PLUGIN_CRASHED, restarts, next call ok', async () => {
    const instance = await started('killed');
    const pid = instance.pid as number;
    const ctx = callContext();
    const pending = instance.call('waitAbort', {}, ctx);
    // the call is in the plugin (its handler runs) before the kill
    await call(instance, 'echo', 'sync');
    const restarted = stateReached(instance, 'degraded');
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const err = await pending.catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.ok(Date.now() - t0 < 1000, 'failed at once, not after a timeout');
    await restarted;
    await stateReached(instance, 'ready');
    const out = (await call(instance, 'echo', 'again')) as { input: string; pid: number };
    assert.equal(out.input, 'again');
    assert.notEqual(out.pid, pid);
    assert.equal(instance.restarts, 1);
    await instance.close();
  });

  it('calls arriving during a restart wait for it instead of failing', async () => {
    const instance = await started('waits');
    const degraded = stateReached(instance, 'degraded');
    process.kill(instance.pid as number, 'SIGKILL');
    await degraded;
    assert.equal(((await call(instance, 'echo', 'waited')) as { input: string }).input, 'waited');
    await instance.close();
  });

  it('a plugin that stops answering health probes is killed and restarted', async () => {
    // Fast probes only here: on a loaded machine they would kill healthy plugins too (the bystander).
    const t = new ProcessTier({
      sdkEntry,
      socketRoot: dirs.root,
      healthIntervalMs: 100,
      healthTimeoutMs: 300,
      restart: { initialDelayMs: 10 },
    });
    const instance = await started('frozen', {}, t);
    const pid = instance.pid;
    const degraded = stateReached(instance, 'degraded');
    const frozen = call(instance, 'freeze');
    assert.equal(await codeOf(frozen), 'PLUGBAY_PLUGIN_CRASHED');
    await degraded;
    await stateReached(instance, 'ready');
    assert.notEqual(instance.pid, pid);
    assert.equal(((await call(instance, 'echo', 1)) as { input: number }).input, 1);
    await instance.close();
    await t.close();
  });

  it('exit during start() fails start with PLUGBAY_START_FAILED', async () => {
    const instance = await tier.load(nodePlugin(dirs.root, 'exit-in-start'), logSink().opts());
    const exited = new Promise<PlugbayError>((resolve) => instance.once('exit', resolve));
    const err = await instance
      .start({ signal: noSignal, config: { exitInStart: true } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal((await exited).details?.exitCode, 3);
    // a failed instance is not restarted (a restart would have turned it degraded in the same exit handler)
    assert.equal(instance.state, 'failed');
    assert.equal(instance.restarts, 0);
    await instance.destroy();
  });

  it('a start() that throws fails with PLUGBAY_START_FAILED', async () => {
    const instance = await tier.load(nodePlugin(dirs.root, 'start-throws'), logSink().opts());
    assert.equal(
      await codeOf(instance.start({ signal: noSignal, config: { failStart: true } })),
      'PLUGBAY_START_FAILED',
    );
    await instance.destroy();
  });

  it('a wrong magic cookie: the plugin refuses to run, the load fails naming its stderr', async () => {
    const plugin = execHelperPlugin(dirs.root, 'ok', {
      handshake: {
        magicCookieKey: 'PLUGBAY_PLUGIN_MAGIC_COOKIE',
        magicCookieValue: 'not-the-cookie',
        protocolVersion: 1,
      },
    });
    const err = await tier.load(plugin, logSink().opts()).catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.exitCode, 1);
    assert.match(String(err.details?.stderrTail), /not meant to be run directly/);
    // diagnosed as the cookie, naming the variable the host set
    assert.equal(err.details?.rule, 'magic-cookie');
    assert.equal(err.details?.magicCookieKey, 'PLUGBAY_PLUGIN_MAGIC_COOKIE');
  });

  it('a wrong protocol version in the handshake fails at once', async () => {
    const t0 = Date.now();
    const err = await tier
      .load(execHelperPlugin(dirs.root, 'wrong-version'), logSink().opts())
      .catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.handshake, '1|7|unix|/nowhere.sock|grpc|');
    assert.ok(Date.now() - t0 < 4000, 'did not wait for the start timeout');
  });

  it('garbage on stdout before the handshake is tolerated and logged', async () => {
    const log = logSink();
    const instance = await tier.load(execHelperPlugin(dirs.root, 'garbage-then-ok'), log.opts());
    await instance.start({ signal: noSignal, config: undefined });
    assert.equal(((await call(instance, 'echo', 'fine')) as { input: string }).input, 'fine');
    const warn = await log.waitFor((l) => l.level === 'warn' && l.fields?.stream === 'stdout');
    assert.equal(warn.fields?.line, 'debug: stray line before the handshake');
    await instance.close();
  });

  it('garbage and no handshake: the start timeout error reports the stray stdout', async () => {
    // Long enough for a loaded machine to start Node and print; the wait is the timeout itself.
    const t = new ProcessTier({ sdkEntry, socketRoot: dirs.root, sandbox: false, startTimeoutMs: 5000 });
    const err = await t
      .load(execHelperPlugin(dirs.root, 'garbage-only'), logSink().opts())
      .catch((e: unknown) => e);
    await t.close();
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.deepEqual(err.details?.strayStdout, [
      'hello from a plugin that prints before its handshake',
      '{"not":"a handshake"}',
    ]);
  });

  it('no handshake within the start timeout fails the load', async () => {
    const t = new ProcessTier({ sdkEntry, socketRoot: dirs.root, sandbox: false, startTimeoutMs: 200 });
    const err = await t
      .load(execHelperPlugin(dirs.root, 'silent'), logSink().opts())
      .catch((e: unknown) => e);
    await t.close();
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.timeoutMs, 200);
  });

  it('exit before the handshake fails at once with the exit code and stderr', async () => {
    const err = await tier
      .load(execHelperPlugin(dirs.root, 'exit-early'), logSink().opts())
      .catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.exitCode, 2);
  });

  it('a plugin sending broken frames fails the load, not the host', async () => {
    const err = await tier
      .load(execHelperPlugin(dirs.root, 'broken-frames'), logSink().opts())
      .catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_START_FAILED');
    assert.equal(err.details?.cause, 'PLUGBAY_PLUGIN_CRASHED');
  });

  it('1 MB to stdout and to stderr neither blocks the plugin nor the host', async () => {
    const log = logSink();
    const instance = await tier.load(nodePlugin(dirs.root, 'spam'), log.opts());
    await instance.start({ signal: noSignal, config: undefined });
    assert.equal(await call(instance, 'spam'), 'spammed');
    const count = (stream: string) =>
      log.lines.filter((l) => (l.fields?.stream ?? 'stderr') === stream && l.msg.startsWith('xxx')).length;
    await log.waitFor(() => count('stdout') >= 1024 && count('stderr') >= 1024);
    assert.equal(((await call(instance, 'echo', 'after')) as { input: string }).input, 'after');
    await instance.close();
  });

  it('OOM past memoryMb crashes the process, reported as out-of-memory, and it restarts', async () => {
    // Slow health probes here: a heap near its limit thrashes in GC, and fast probes would kill it first.
    const t = new ProcessTier({ sdkEntry, socketRoot: dirs.root, restart: { initialDelayMs: 10 } });
    const instance = await started('oom', { permissions: { memoryMb: 64 } }, t);
    const exited = new Promise<PlugbayError>((resolve) => instance.once('exit', resolve));
    const degraded = stateReached(instance, 'degraded');
    const err = await call(instance, 'oom').catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal((await exited).details?.reason, 'out-of-memory');
    await degraded;
    await stateReached(instance, 'ready');
    assert.equal(((await call(instance, 'echo', 'ok')) as { input: string }).input, 'ok');
    await instance.close();
    await t.close();
  });

  it('crashes in a row reach crashloop; calls then fail fast', async () => {
    const t = new ProcessTier({
      sdkEntry,
      socketRoot: dirs.root,
      restart: { initialDelayMs: 5, crashloopCount: 3 },
    });
    const instance = await started('crashloop', {}, t);
    const exits: PlugbayError[] = [];
    instance.on('exit', (e) => exits.push(e));
    for (let i = 0; i < 3; i++) {
      const next = stateReached(instance, i < 2 ? 'degraded' : 'crashloop');
      assert.equal(await codeOf(call(instance, 'crash')), 'PLUGBAY_PLUGIN_CRASHED');
      await next;
      if (i < 2) await stateReached(instance, 'ready');
    }
    await stateReached(instance, 'crashloop');
    assert.equal(exits.length, 3);
    const err = await call(instance, 'echo').catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(err.details?.state, 'crashloop');
    await t.close();
  });
});
