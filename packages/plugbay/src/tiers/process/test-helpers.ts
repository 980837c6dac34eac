/** Test helpers for the process tier: plugin dirs written on the fly, a call context, a log sink. Not shipped API. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlugbayError } from '../../core/errors.js';
import { type Manifest, validateManifest } from '../../core/manifest.js';
import type { CallContext, CheckedPlugin, LoadOptions, PluginLogLine } from '../../core/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The SDK process entry built in this checkout (imports of @plugbay/sdk may resolve to another copy). */
export const sdkEntry = path.resolve(here, '../../../../sdk/dist/process/main.js');
export const sdkServe = path.resolve(here, '../../../../sdk/dist/process/serve.js');

/** A Node plugin exercising every fault the tests inject; plain JS, no imports, like a bundled plugin. */
export const nodeFixtureSource = `
import fs from 'node:fs';
import net from 'node:net';
const schema = {};
export default {
  name: 'fixture',
  version: '1.0.0',
  async start(ctx) {
    if (ctx.config && ctx.config.exitInStart) process.exit(3);
    if (ctx.config && ctx.config.failStart) throw Object.assign(new Error('start refused'), { code: 'FIXTURE_REFUSED' });
  },
  functions: {
    echo: { input: schema, output: schema, handler: (input, ctx) => ({ input, key: ctx.key, traceId: ctx.traceId, pid: process.pid, deadline: ctx.deadline }) },
    fail: { input: schema, output: schema, handler: () => { throw Object.assign(new Error('nope'), { code: 'FIXTURE_FAILED' }); } },
    crash: { input: schema, output: schema, handler: () => { setTimeout(() => process.kill(process.pid, 'SIGKILL'), 10); return new Promise(() => {}); } },
    freeze: { input: schema, output: schema, handler: () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); return 'late'; } },
    waitAbort: { input: schema, output: schema, handler: (_input, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => { fs.writeFileSync !== undefined; console.error(JSON.stringify({ '@level': 'info', '@message': 'aborted in plugin' })); resolve('aborted'); })) },
    spam: { input: schema, output: schema, handler: async () => {
      const chunk = 'x'.repeat(1023) + '\\n';
      const block = chunk.repeat(64);
      for (let i = 0; i < 16; i++) { process.stdout.write(block); process.stderr.write(block); }
      return 'spammed';
    } },
    oom: { input: schema, output: schema, handler: () => { const keep = []; for (;;) keep.push(new Array(1e6).fill(keep.length)); } },
    readPasswd: { input: schema, output: schema, handler: () => fs.readFileSync('/etc/passwd', 'utf8').length },
    readDeclared: { input: schema, output: schema, handler: (input) => fs.readFileSync(input.path, 'utf8') },
    write: { input: schema, output: schema, handler: (input) => { fs.writeFileSync(input.path, 'x'); return 'written'; } },
    spawnChild: { input: schema, output: schema, handler: async () => { const cp = await import('node:child_process'); return cp.execFileSync('/bin/true').length; } },
    startWorker: { input: schema, output: schema, handler: async () => { const wt = await import('node:worker_threads'); new wt.Worker('1', { eval: true }); return 'worker'; } },
    readEnv: { input: schema, output: schema, handler: (input) => process.env[input.name] ?? null },
    whoami: { input: schema, output: schema, handler: () => ({ pid: process.pid, ppid: process.ppid, uid: process.getuid(), gid: process.getgid() }) },
    signal: { input: schema, output: schema, handler: (input) => { try { process.kill(input.pid, input.signal); return 'sent'; } catch (err) { return err.code; } } },
    connect: { input: schema, output: schema, handler: (input) => new Promise((resolve) => {
      const socket = net.connect(input.port, input.host);
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (err) => resolve(err.code));
    }) },
    catFile: { input: schema, output: schema, handler: async (input) => {
      const cp = await import('node:child_process');
      const r = cp.spawnSync('/bin/cat', [input.path], { encoding: 'utf8' });
      return r.status === 0 ? { read: r.stdout.length } : { failed: r.status ?? r.error?.code, stderr: r.stderr };
    } },
  },
};
`;

/** An exec plugin that misbehaves during the handshake; the mode is its file name (go-plugin's helper-process idea). */
export function execHelperSource(mode: string, pluginModule: string): string {
  return `#!${process.execPath}
const mode = ${JSON.stringify(mode)};
const out = (s) => process.stdout.write(s + '\\n');
if (mode === 'wrong-version') { out('1|7|unix|/nowhere.sock|grpc|'); setInterval(() => {}, 1000); }
else if (mode === 'garbage-only') { out('hello from a plugin that prints before its handshake'); out('{"not":"a handshake"}'); setInterval(() => {}, 1000); }
else if (mode === 'silent') { setInterval(() => {}, 1000); }
else if (mode === 'broken-frames') {
  const net = await import('node:net');
  const sock = (process.env.PLUGIN_UNIX_SOCKET_DIR || '/tmp') + '/broken-' + process.pid + '.sock';
  net.createServer((s) => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))).listen(sock, () => out('1|1|unix|' + sock + '|frames|'));
}
else if (mode === 'exit-early') { process.stderr.write('[ERROR] cannot open the database\\n'); process.exit(2); }
else {
  if (mode === 'garbage-then-ok') out('debug: stray line before the handshake');
  const { optionsFromEnv, servePlugin } = await import(${JSON.stringify(sdkServe)});
  process.env.PLUGBAY_PLUGIN_ENTRY = ${JSON.stringify(pluginModule)};
  process.env.PLUGBAY_CARRIER = mode === 'grpc' ? 'grpc' : 'frames';
  await servePlugin(optionsFromEnv(process.env));
}
`;
}

export interface FixtureDirs {
  root: string;
  cleanup(): void;
}

export function tempRoot(): FixtureDirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-process-test-'));
  return { root, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

const fnSpec = { input: {}, output: {} };

/** Writes a plugin dir and returns it as a CheckedPlugin (manifest validated like discovery would). */
export function writePlugin(
  root: string,
  name: string,
  manifest: Partial<Manifest>,
  files: Record<string, string>,
): CheckedPlugin {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, file), text, {
      mode: file.endsWith('.mjs') && text.startsWith('#!') ? 0o755 : 0o644,
    });
  }
  const full = {
    name: 'fixture',
    version: '1.0.0',
    runtime: 'node',
    entry: 'plugin.mjs',
    functions: { echo: fnSpec },
    ...manifest,
  };
  const checked = validateManifest(full);
  if (checked.problems.length > 0)
    throw new Error(`fixture manifest invalid: ${JSON.stringify(checked.problems)}`);
  fs.writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify(full));
  return {
    id: `${full.name}@${full.version}`,
    dir,
    manifest: full as Manifest,
    entryPath: path.join(dir, full.entry as string),
    permissions: (full as Manifest).permissions ?? {},
    warnings: [],
  };
}

export function nodePlugin(root: string, name: string, manifest: Partial<Manifest> = {}): CheckedPlugin {
  return writePlugin(root, name, manifest, { 'plugin.mjs': nodeFixtureSource });
}

export function execHelperPlugin(
  root: string,
  mode: string,
  manifest: Partial<Manifest> = {},
): CheckedPlugin {
  const dir = path.join(root, `exec-${mode}`);
  return writePlugin(
    root,
    `exec-${mode}`,
    { runtime: 'exec', entry: `${mode}.mjs`, ...manifest },
    {
      [`${mode}.mjs`]: execHelperSource(mode, path.join(dir, 'plugin.mjs')),
      'plugin.mjs': nodeFixtureSource,
    },
  );
}

export interface LogSink {
  lines: PluginLogLine[];
  opts(): LoadOptions;
  /** Resolves when a line matching `test` arrives (or already did). */
  waitFor(test: (l: PluginLogLine) => boolean): Promise<PluginLogLine>;
}

export function logSink(): LogSink {
  const lines: PluginLogLine[] = [];
  const waiting: { test(l: PluginLogLine): boolean; resolve(l: PluginLogLine): void }[] = [];
  const push = (line: PluginLogLine): void => {
    lines.push(line);
    for (const w of [...waiting]) {
      if (w.test(line)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const level = (lvl: PluginLogLine['level']) => (msg: string, fields?: Record<string, unknown>) =>
    push({ level: lvl, msg, fields });
  const sink = {
    line: push,
    trace: level('trace'),
    debug: level('debug'),
    info: level('info'),
    warn: level('warn'),
    error: level('error'),
  };
  return {
    lines,
    opts: () => ({ log: sink, signal: new AbortController().signal }),
    waitFor: (test) => {
      const found = lines.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiting.push({ test, resolve }));
    },
  };
}

/** A CallContext like the host's: onAbort fires on the caller's abort or the deadline, never after settle. */
export function callContext(
  opts: { timeoutMs?: number; signal?: AbortSignal; key?: string; traceparent?: string } = {},
): CallContext & {
  done(): void;
} {
  const listeners: ((reason: PlugbayError) => void)[] = [];
  let settled = false;
  const fire = (reason: PlugbayError): void => {
    if (settled) return;
    settled = true;
    for (const l of listeners.splice(0)) l(reason);
  };
  const deadline = opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.timeoutMs;
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => fire(new PlugbayError('PLUGBAY_TIMEOUT', 'deadline passed')), opts.timeoutMs);
  opts.signal?.addEventListener(
    'abort',
    () => fire(new PlugbayError('PLUGBAY_CANCELLED', 'caller aborted')),
    { once: true },
  );
  return {
    get signal(): AbortSignal {
      return opts.signal ?? new AbortController().signal;
    },
    deadline,
    traceparent: opts.traceparent,
    key: opts.key,
    onAbort: (l) => {
      if (!settled) listeners.push(l);
    },
    done: () => {
      settled = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Calls and settles the context afterwards (as the host's call path does). */
export async function call(
  instance: { call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> },
  fn: string,
  input: unknown = {},
  opts: Parameters<typeof callContext>[0] = {},
): Promise<unknown> {
  const ctx = callContext(opts);
  try {
    return await instance.call(fn, input, ctx);
  } finally {
    ctx.done();
  }
}

/** The PlugbayError code of a rejection (asserting it is one). */
export async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof PlugbayError) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Resolves when the instance reaches `state`. */
export function stateReached(
  instance: {
    state: string;
    on(e: 'state', l: (s: string) => void): unknown;
    off(e: 'state', l: (s: string) => void): unknown;
  },
  state: string,
): Promise<void> {
  if (instance.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const l = (s: string): void => {
      if (s === state) {
        instance.off('state', l);
        resolve();
      }
    };
    instance.on('state', l);
  });
}

export interface ProcInfo {
  pid: number;
  argv0: string;
  /** Seccomp mode: 0 none, 2 filter. */
  seccomp: number;
  /** Effective capabilities, hex as /proc shows them. */
  capEff: string;
}

/**
 * The live descendants of `pid`, read from /proc: a sandboxed exec plugin runs a few levels below the process the
 * host spawned (setpriv → prlimit → bwrap → bwrap → plugin).
 */
export function descendants(pid: number): ProcInfo[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: ProcInfo[] = [];
  const queue = [...(children.get(pid) ?? [])];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    try {
      const status = fs.readFileSync(`/proc/${next}/status`, 'utf8');
      const argv0 = fs.readFileSync(`/proc/${next}/cmdline`, 'utf8').split('\0')[0] ?? '';
      found.push({
        pid: next,
        argv0,
        seccomp: Number(/^Seccomp:\s+(\d+)/m.exec(status)?.[1] ?? -1),
        capEff: /^CapEff:\s+(\w+)/m.exec(status)?.[1] ?? '',
      });
    } catch {
      continue;
    }
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

/** The host-visible pid of the plugin's own process: below the sandbox wrappers, or the spawned one itself. */
export function pluginPid(instance: { pid: number | undefined }): number {
  const top = instance.pid as number;
  const node = descendants(top).filter((p) => p.argv0 === process.execPath);
  return node.at(-1)?.pid ?? top;
}

/** The Go test plugins of examples/go-plugins, built by scripts/build-go-plugins.sh. */
export const goExamples = path.resolve(here, '../../../../../examples/go-plugins');
const faultyBinary = path.join(goExamples, 'faulty/bin/faulty');
/** Skip reason when the Go plugins are not built; under CI a missing build fails instead of skipping. */
export const goSkip: string | false =
  fs.existsSync(faultyBinary) || process.env.CI
    ? false
    : 'Go plugins not built (run scripts/build-go-plugins.sh)';

let faultyCount = 0;

/** The handshake examples/go-plugins/faulty expects (its own HandshakeConfig). */
export const faultyHandshake = {
  magicCookieKey: 'FAULTY_PLUGIN',
  magicCookieValue: 'faulty',
  protocolVersion: 1,
} as const;

/**
 * A folder for examples/go-plugins/faulty misbehaving in `mode` (its `fault` file; see its main.go): a copy of the
 * binary, kv.proto, and a go-plugin manifest calling the KV service (overridable, e.g. another `handshake`).
 * Readable by every uid, for the sandbox's plugin uid.
 */
export function faultyGoPlugin(root: string, mode: string, manifest: Partial<Manifest> = {}): CheckedPlugin {
  const name = `faulty-${mode}-${++faultyCount}`;
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true, mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'proto'), { recursive: true, mode: 0o755 });
  fs.copyFileSync(faultyBinary, path.join(dir, 'bin/faulty'));
  fs.chmodSync(path.join(dir, 'bin/faulty'), 0o755);
  fs.copyFileSync(path.join(goExamples, 'kv/proto/kv.proto'), path.join(dir, 'proto/kv.proto'));
  const kv = JSON.parse(fs.readFileSync(path.join(goExamples, 'kv/plugin.json'), 'utf8')) as Manifest;
  return writePlugin(
    root,
    name,
    {
      name: 'go-faulty',
      runtime: 'exec',
      entry: 'bin/faulty',
      protocol: 'go-plugin',
      handshake: { ...faultyHandshake },
      proto: 'proto/kv.proto',
      service: 'proto.KV',
      functions: kv.functions,
      ...manifest,
    },
    { fault: `${mode}\n` },
  );
}

/** The host-visible pid of an exec plugin's own binary, below the sandbox wrappers (or the spawned process itself). */
export function execPid(instance: { pid: number | undefined; plugin: CheckedPlugin }): number {
  const top = instance.pid as number;
  return descendants(top).find((p) => p.argv0 === instance.plugin.entryPath)?.pid ?? top;
}
