// Process tier beside its raw boundaries, in one run: `frames` vs a raw unix-socket frame round trip, and `grpc`
// vs raw grpc-js unary over a unix socket; plus cold start to first call, read as so many ms over a bare node start
// (machine load moves both). Run pinned to one core for the sequential figures:
// `taskset -c 0 node bench/dist/process-tier.js` (children inherit the affinity; pinned, the host's work cannot
// overlap the plugin's boot, so cold starts are slower). BENCH_QUICK=1 runs a tenth of the calls. Each raw path and
// ours run in interleaved rounds and report CPU per call on both sides: wall-clock figures swing with the load.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { appProtocolVersion, magicCookieKey, magicCookieValue } from '@plugbay/sdk/process';
import { pino } from 'pino';
import { createHost } from 'plugbay';
import { connectFrames } from '../../packages/plugbay/dist/tiers/process/frames-client.js';
import { ProcessTier } from '../../packages/plugbay/dist/tiers/process/index.js';
import { detectSandboxTools, wrapCommand } from '../../packages/plugbay/dist/tiers/process/sandbox.js';
import { makeSocketDir } from '../../packages/plugbay/dist/tiers/process/socket-dir.js';
import { writePlugin } from '../../packages/plugbay/dist/tiers/process/test-helpers.js';
import { mean, median } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkEntry = path.resolve(here, '../../packages/sdk/dist/process/main.js');
const quick = process.env.BENCH_QUICK === '1';
const N = quick ? 500 : 5000;
const P = quick ? 2000 : 20000;
/**
 * Calls each path makes before it is measured. V8 optimizes the call path of both processes over the first
 * thousands of calls: after 500 the process tier measured 1.47–1.74× raw, after 20 000 1.41–1.47× (same build).
 */
const W = quick ? 500 : 4 * N;
const payload = { text: 'x'.repeat(52) }; // 64 bytes of JSON
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-bench-process-'));

const rawFramesServer = `
import net from 'node:net';
const server = net.createServer((s) => {
  s.setNoDelay(true);
  let rest = Buffer.alloc(0);
  s.on('data', (c) => {
    let buf = rest.length ? Buffer.concat([rest, c]) : c;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (buf.length - pos - 4 < len) break;
      // the same work the SDK does per call: parse and stringify the JSON
      const body = JSON.stringify(JSON.parse(buf.toString('utf8', pos + 8, pos + 4 + len)));
      const out = Buffer.allocUnsafe(8 + Buffer.byteLength(body));
      out.writeUInt32BE(out.length - 4, 0); out.writeUInt32BE(buf.readUInt32BE(pos + 4), 4); out.write(body, 8);
      s.write(out);
      pos += 4 + len;
    }
    rest = buf.subarray(pos);
  });
});
server.listen(process.argv[2], () => process.stdout.write('ready\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

const rawGrpcServer = `
import * as grpc from ${JSON.stringify(import.meta.resolve('@grpc/grpc-js'))};
const server = new grpc.Server();
const id = (b) => b;
server.addService({ Echo: { path: '/raw.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { Echo: (call, cb) => cb(null, Buffer.from(JSON.stringify(JSON.parse(call.request.toString())))) });
server.bindAsync('unix:' + process.argv[2], grpc.ServerCredentials.createInsecure(), () => process.stdout.write('ready\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

function startChild(
  source: string,
  name: string,
  socket: string,
): Promise<{ pid: number; stop: () => void }> {
  const file = path.join(root, name);
  fs.writeFileSync(file, source);
  const child = spawn(process.execPath, [file, socket], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve) =>
    child.stdout.once('data', () => resolve({ pid: child.pid ?? -1, stop: () => child.kill() })),
  );
}

/**
 * The raw frames server inside the OS layers the process tier puts around a plugin (sandbox.ts wrapCommand: bwrap's
 * namespaces and mounts, seccomp, uid 65534, prlimit): what the sandbox costs the raw boundary itself. Returns its
 * socket path.
 */
async function startSandboxedRawServer(): Promise<{ socket: string; stop: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-bench-raw-'));
  fs.chmodSync(dir, 0o755); // the sandboxed uid reads the server from here
  const file = path.join(dir, 'raw-frames.mjs');
  fs.writeFileSync(file, rawFramesServer, { mode: 0o644 });
  const socketDir = makeSocketDir(root);
  const socket = path.join(socketDir, 'raw.sock');
  const wrapped = wrapCommand({
    runtime: 'exec',
    argv: [process.execPath, file, socket],
    permissions: {},
    pluginDir: dir,
    runtimePaths: [fs.realpathSync(process.execPath)],
    socketDir,
    tools: await detectSandboxTools(),
    disabled: false,
  });
  if (wrapped.uid !== undefined) fs.chownSync(socketDir, wrapped.uid, wrapped.uid);
  const child = spawn(wrapped.command, wrapped.args, {
    stdio: wrapped.fd3 === undefined ? ['pipe', 'pipe', 'inherit'] : ['pipe', 'pipe', 'inherit', 'pipe'],
  });
  if (wrapped.fd3 !== undefined) (child.stdio[3] as NodeJS.WritableStream).end(wrapped.fd3);
  await new Promise((resolve, reject) => {
    child.stdout?.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`sandboxed raw server exited ${code}`)));
  });
  return {
    socket,
    stop: () => {
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Result {
  name: string;
  p50us: number;
  meanUs: number;
  callsPerSec: number;
  /** CPU per call in this process (process.cpuUsage) and in the process answering (/proc/<pid>/stat). */
  hostCpuUs: number;
  peerCpuUs: number;
}

/** utime + stime of a process in µs (/proc/<pid>/stat; clock ticks of 10 ms, so read it over many calls). */
function cpuUsOf(pid: number): number {
  try {
    const fields = (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 1e4;
  } catch {
    return Number.NaN;
  }
}

/**
 * The deepest descendant of this process whose environment holds `marker`: the plugin process of one tier (with the
 * sandbox on it runs under bwrap, a grandchild or deeper).
 */
function childPid(marker: string, parent = process.pid): number {
  let children: number[];
  try {
    children = fs
      .readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return -1;
  }
  for (const pid of children) {
    // the deepest match: bwrap may pass the environment on to the node it starts
    const deeper = childPid(marker, pid);
    if (deeper !== -1) return deeper;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) return pid;
    } catch {}
  }
  return -1;
}

interface Path {
  name: string;
  pid: number;
  once: () => Promise<unknown>;
}

/** Sequential p50 and CPU per call over `rounds` rounds of `n` calls (a pair's rounds interleave: see pair()). */
async function round(
  path: Path,
  n: number,
): Promise<{ p50: number; totalUs: number; host: number; peer: number }> {
  const times = new Float64Array(n);
  const cpu0 = process.cpuUsage();
  const peer0 = cpuUsOf(path.pid);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await path.once();
    times[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const totalUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  times.sort();
  return {
    p50: times[n >> 1] as number,
    totalUs,
    host: (cpu.user + cpu.system) / n,
    peer: (cpuUsOf(path.pid) - peer0) / n,
  };
}

async function throughput(path: Path): Promise<number> {
  let started = 0;
  const t1 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (started < P) {
        started++;
        await path.once();
      }
    }),
  );
  return P / (Number(process.hrtime.bigint() - t1) / 1e9);
}

/**
 * Rounds of 100 calls: this VM's speed swings by ±30 % within tens of milliseconds, and short interleaved rounds
 * see the same swings. With 5 rounds of 1000 calls, one build measured 1.10–1.53× in four pairs in a row; with
 * 50 rounds of 100, 1.40–1.48× in eight.
 */
const rounds = quick ? 10 : 50;
const n = Math.ceil(N / rounds);

/**
 * A raw path and ours in interleaved rounds (raw, ours, raw, ours …). The ratio is the median of the per-round p50
 * ratios; the latencies are medians too, the CPU figures means (the server's is read in 10 ms ticks).
 */
async function pair(raw: Path, ours: Path): Promise<{ raw: Result; ours: Result; ratio: number }> {
  for (const p of [raw, ours]) for (let i = 0; i < W; i++) await p.once(); // warm-up
  const per = {
    raw: [] as Awaited<ReturnType<typeof round>>[],
    ours: [] as Awaited<ReturnType<typeof round>>[],
  };
  for (let r = 0; r < rounds; r++) {
    per.raw.push(await round(raw, n));
    per.ours.push(await round(ours, n));
  }
  const result = async (p: Path, rs: Awaited<ReturnType<typeof round>>[]): Promise<Result> => ({
    name: p.name,
    p50us: median(rs.map((r) => r.p50)),
    meanUs: median(rs.map((r) => r.totalUs / n)),
    hostCpuUs: mean(rs.map((r) => r.host)),
    peerCpuUs: mean(rs.map((r) => r.peer)),
    callsPerSec: await throughput(p),
  });
  return {
    raw: await result(raw, per.raw),
    ours: await result(ours, per.ours),
    ratio: median(per.ours.map((o, i) => o.p50 / (per.raw[i] as { p50: number }).p50)),
  };
}

/** Sequential figures of one path (the Go KV comparison, which has no pair in this process). */
async function measure(name: string, once: () => Promise<unknown>): Promise<Result> {
  const path = { name, pid: -1, once };
  for (let i = 0; i < W; i++) await once(); // warm-up
  const r = await round(path, N);
  return {
    name,
    p50us: r.p50,
    meanUs: r.totalUs / N,
    hostCpuUs: r.host,
    peerCpuUs: Number.NaN,
    callsPerSec: await throughput(path),
  };
}

// raw frames
const rawFramesSock = path.join(root, 'raw-frames.sock');
const { pid: rawFramesPid, stop: stopRawFrames } = await startChild(
  rawFramesServer,
  'raw-frames.mjs',
  rawFramesSock,
);
/** A raw frames client: `u32 length | u32 id | JSON`, answers matched by id. */
async function rawFramesClient(
  socketPath: string,
): Promise<{ once: () => Promise<unknown>; close: () => void }> {
  const sock = net.connect(socketPath);
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  const waiting = new Map<number, (v: unknown) => void>();
  let rest: Buffer = Buffer.alloc(0);
  sock.on('data', (c: Buffer) => {
    const buf = rest.length ? Buffer.concat([rest, c]) : c;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (buf.length - pos - 4 < len) break;
      const id = buf.readUInt32BE(pos + 4);
      const value = JSON.parse(buf.toString('utf8', pos + 8, pos + 4 + len));
      waiting.get(id)?.(value);
      waiting.delete(id);
      pos += 4 + len;
    }
    rest = buf.subarray(pos);
  });
  let nextId = 0;
  const once = () =>
    new Promise((resolve) => {
      const id = nextId++;
      const body = JSON.stringify(payload);
      const out = Buffer.allocUnsafe(8 + Buffer.byteLength(body));
      out.writeUInt32BE(out.length - 4, 0);
      out.writeUInt32BE(id, 4);
      out.write(body, 8);
      waiting.set(id, resolve);
      sock.write(out);
    });
  return { once, close: () => sock.destroy() };
}
const rawClient = await rawFramesClient(rawFramesSock);
const rawFrame = rawClient.once;

// raw grpc-js
const rawGrpcSock = path.join(root, 'raw-grpc.sock');
const { pid: rawGrpcPid, stop: stopRawGrpc } = await startChild(rawGrpcServer, 'raw-grpc.mjs', rawGrpcSock);
const client = new grpc.Client(`unix:${rawGrpcSock}`, grpc.credentials.createInsecure());
const id = (b: Buffer) => b;
const rawGrpc = () =>
  new Promise((resolve, reject) => {
    client.makeUnaryRequest('/raw.Echo/Echo', id, id, Buffer.from(JSON.stringify(payload)), (err, res) =>
      err ? reject(err) : resolve(JSON.parse((res as Buffer).toString())),
    );
  });

// plugbay process tier
const plugin = writePlugin(
  root,
  'echo',
  { name: 'echo' },
  {
    'plugin.mjs':
      "export default { name: 'echo', version: '1.0.0', functions: { echo: { input: {}, output: {}, handler: (input) => input } } };",
  },
);
// Through host.call, as applications call it: the host's own cost per call is part of the figure.
const logger = pino({ level: 'warn' });
async function tierCall(carrier: 'frames' | 'grpc', sandbox = true) {
  const tier = new ProcessTier({ sdkEntry, nodeCarrier: carrier, socketRoot: root, sandbox });
  const host = createHost({ logger, tiers: { process: tier }, tierFor: () => 'process' });
  const t0 = performance.now();
  await host.load(plugin.dir);
  await host.call('echo', 'echo', payload);
  const coldMs = performance.now() - t0;
  return { host, coldMs, once: () => host.call('echo', 'echo', payload) };
}
/** A bare Node start: spawn → first stdout line. The cold start is read as so many ms over it (both swing with load). */
function bareNodeMs(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("ready\\n")'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', () => {
      const ms = performance.now() - t0;
      child.once('close', () => resolve(ms));
    });
  });
}
// Rounds of bare node, frames, bare node, grpc in turn; the first round runs in a fresh host (its one-time costs included).
const coldRounds = quick ? 3 : 5;
const cold = { bare: [] as number[], frames: [] as number[], grpc: [] as number[], unboxed: [] as number[] };
type TierCall = Awaited<ReturnType<typeof tierCall>>;
let frames: TierCall | undefined;
let grpcTier: TierCall | undefined;
for (let round = 0; round < coldRounds; round++) {
  await frames?.host.close();
  await grpcTier?.host.close();
  cold.bare.push(await bareNodeMs());
  frames = await tierCall('frames');
  cold.frames.push(frames.coldMs);
  cold.bare.push(await bareNodeMs());
  grpcTier = await tierCall('grpc');
  cold.grpc.push(grpcTier.coldMs);
  // The same frames plugin without the OS layers (sandbox: false): what bwrap, seccomp, namespaces and uid cost.
  const unboxed = await tierCall('frames', false);
  cold.unboxed.push(unboxed.coldMs);
  await unboxed.host.close();
}
if (frames === undefined || grpcTier === undefined) throw new Error('no cold start round ran');
const framesPair = await pair(
  { name: 'raw unix-socket frames', pid: rawFramesPid, once: rawFrame },
  { name: 'process tier (frames)', pid: childPid('PLUGBAY_CARRIER=frames'), once: frames.once },
);
const grpcPair = await pair(
  { name: 'raw grpc-js unary', pid: rawGrpcPid, once: rawGrpc },
  { name: 'process tier (grpc)', pid: childPid('PLUGBAY_CARRIER=grpc'), once: grpcTier.once },
);

/**
 * Where the frames gap goes: the same call through one layer more at a time, in interleaved rounds. The SDK's
 * process entry launched by hand (no permission flags, no OS sandbox) and driven by the host's frames client alone;
 * then host.call on a plugin without the OS layers; then the process tier as it runs (sandbox on).
 */
async function sdkFramesAlone(): Promise<{ once: () => Promise<unknown>; stop: () => void }> {
  const child = spawn(process.execPath, [sdkEntry], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      [magicCookieKey]: magicCookieValue,
      PLUGIN_PROTOCOL_VERSIONS: String(appProtocolVersion),
      PLUGIN_UNIX_SOCKET_DIR: root,
      PLUGBAY_PLUGIN_ENTRY: path.join(plugin.dir, 'plugin.mjs'),
      PLUGBAY_CARRIER: 'frames',
    },
  });
  const handshake = await new Promise<string>((resolve) =>
    child.stdout.once('data', (d) => resolve(String(d))),
  );
  const carrier = await connectFrames(handshake.split('|')[3] as string, { plugin: 'echo' }, 5000);
  const ctx = { deadline: Date.now() + 3_600_000, traceparent: undefined, key: undefined, onAbort() {} };
  return {
    once: () => carrier.call('echo', payload, ctx as never),
    stop: () => {
      carrier.destroy(new Error('bench done'));
      child.kill();
    },
  };
}
const sdkAlone = await sdkFramesAlone();
const unboxedHost = await tierCall('frames', false);
const boxedRaw = await startSandboxedRawServer();
const boxedRawClient = await rawFramesClient(boxedRaw.socket);
const layerPaths = [
  { key: 'raw', name: 'raw unix-socket frames', once: rawFrame },
  {
    key: 'sandboxedRaw',
    name: '(raw unix-socket frames, the server inside the same OS sandbox)',
    once: boxedRawClient.once,
  },
  {
    key: 'protocol',
    name: '+ plugbay protocol: the SDK server, the host frames client',
    once: sdkAlone.once,
  },
  {
    key: 'hostCall',
    name: '+ host.call (route, schemas, deadline, metrics), permission flags',
    once: unboxedHost.once,
  },
  {
    key: 'sandbox',
    name: '+ OS sandbox (namespaces, seccomp, own uid): the process tier',
    once: frames.once,
  },
];
const layerP50 = layerPaths.map(() => [] as number[]);
for (const { once } of layerPaths) for (let i = 0; i < W; i++) await once(); // warm-up
for (let r = 0; r < rounds; r++)
  for (const [i, layer] of layerPaths.entries())
    layerP50[i]!.push((await round({ ...layer, pid: -1 }, n)).p50);
sdkAlone.stop();
boxedRawClient.close();
boxedRaw.stop();
await unboxedHost.host.close();
const rawP50 = layerP50[0]!;
const layers = layerPaths.map(({ key, name }, i) => ({
  key,
  name,
  p50us: median(layerP50[i]!),
  ratio: median(layerP50[i]!.map((p, r) => p / rawP50[r]!)),
}));

const results = [framesPair.raw, framesPair.ours, grpcPair.raw, grpcPair.ours];
const [rf, pf, rg, pg] = results as [Result, Result, Result, Result];
console.log(
  `| path | p50 µs | mean µs | CPU µs/call host | CPU µs/call server | calls/s (64 in flight) |\n|---|---|---|---|---|---|`,
);
for (const r of results)
  console.log(
    `| ${r.name} | ${r.p50us.toFixed(1)} | ${r.meanUs.toFixed(1)} | ${r.hostCpuUs.toFixed(1)} | ${r.peerCpuUs.toFixed(0)} | ${Math.round(r.callsPerSec)} |`,
  );
console.log(
  `(medians of ${rounds} interleaved rounds of ${n} calls, raw then ours; CPU: means, the server's read in 10 ms ticks)`,
);
console.log(
  `frames: ${framesPair.ratio.toFixed(2)}x raw p50 (target <= 1.15), ${((pf.callsPerSec / rf.callsPerSec) * 100).toFixed(0)}% of raw throughput (target >= 75%)`,
);
console.log(
  `grpc: ${grpcPair.ratio.toFixed(2)}x raw grpc-js p50 (target <= 1.1), ${((pg.callsPerSec / rg.callsPerSec) * 100).toFixed(0)}% of raw throughput`,
);
console.log(`\n| frames, one layer more at a time | p50 µs | × raw |\n|---|---|---|`);
for (const l of layers) console.log(`| ${l.name} | ${l.p50us.toFixed(1)} | ${l.ratio.toFixed(2)} |`);
console.log(`(${rounds} interleaved rounds of ${n} calls; × raw: the median of the per-round p50 ratios)`);
const bareMs = median(cold.bare);
const over = (xs: number[]): string => {
  const ms = median(xs);
  const d = Math.round(ms - bareMs);
  return `${ms.toFixed(0)} ms (bare node ${d < 0 ? '-' : '+'} ${Math.abs(d)} ms, ${(ms / bareMs).toFixed(2)}x)`;
};
console.log(
  `cold start to first call (median of ${coldRounds}): frames ${over(cold.frames)}, grpc ${over(cold.grpc)} (target <= 150)`,
);
console.log(
  `  OS layers (sandbox on vs off, frames): ${median(cold.frames).toFixed(0)} vs ${median(cold.unboxed).toFixed(0)} ms`,
);
console.log(
  `  bare node = spawn -> first stdout line, ${bareMs.toFixed(0)} ms, in the same rounds; first round (fresh host): frames ${(cold.frames[0] as number).toFixed(0)} ms, grpc ${(cold.grpc[0] as number).toFixed(0)} ms`,
);

// Our TS host calling the plain go-plugin KV plugin vs hashicorp/go-plugin's Go host calling the same binary.
const goDir = path.resolve(here, '../../examples/go-plugins');
const kvBin = path.join(goDir, 'kv/bin/kv');
const kvHost = path.join(goDir, 'kv-host/bin/kv-host');
if (fs.existsSync(kvBin) && fs.existsSync(kvHost)) {
  const kvHostTs = createHost({
    logger,
    tiers: { process: new ProcessTier({ socketRoot: root, sandbox: false }) },
    tierFor: () => 'process',
  });
  const t0 = performance.now();
  await kvHostTs.load(path.join(goDir, 'kv'));
  const value = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  await kvHostTs.call('go-kv', 'Put', { key: 'k', value });
  const coldMs = performance.now() - t0;
  const ours = await measure('TS host -> Go KV (go-plugin)', () =>
    kvHostTs.call('go-kv', 'Get', { key: 'k' }),
  );
  await kvHostTs.close();
  const go = await new Promise<{ p50us: number; callsPerSec: number; coldMs: number }>((resolve, reject) => {
    const child = spawn(kvHost, [kvBin, String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`kv-host exited ${code}`)),
    );
  });
  console.log('\n| Go KV Get, sequential | p50 µs | calls/s | cold start ms |\n|---|---|---|---|');
  console.log(
    `| plugbay TS host | ${ours.p50us.toFixed(1)} | ${Math.round(N / ((ours.meanUs * N) / 1e6))} | ${coldMs.toFixed(0)} |`,
  );
  console.log(
    `| go-plugin Go host | ${go.p50us.toFixed(1)} | ${Math.round(go.callsPerSec)} | ${go.coldMs} |`,
  );
  console.log(`TS/Go p50 ratio: ${(ours.p50us / go.p50us).toFixed(2)}`);
}

rawClient.close();
client.close();
stopRawFrames();
stopRawGrpc();
await frames.host.close();
await grpcTier.host.close();
fs.rmSync(root, { recursive: true, force: true });
// The last line, for run.ts's summary.
console.log(
  JSON.stringify({
    framesRatio: framesPair.ratio,
    framesLayers: Object.fromEntries(layers.map((l) => [l.key, Number(l.ratio.toFixed(3))])),
    framesThroughput: pf.callsPerSec / rf.callsPerSec,
    grpcRatio: grpcPair.ratio,
    coldFramesMs: median(cold.frames),
    coldGrpcMs: median(cold.grpc),
    bareNodeMs: bareMs,
  }),
);
