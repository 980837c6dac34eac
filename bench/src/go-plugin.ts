// The Go KV plugin (examples/go-plugins/kv, a plain hashicorp/go-plugin gRPC plugin) called by two hosts in one
// run: go-plugin's own Go host (examples/go-plugins/kv-host: NewClient, Dispense, KVClient.Get) and plugbay's
// host.call through `protocol: "go-plugin"`. Both at 1 caller (p50) and 32 concurrent callers (calls/s), in
// interleaved rounds (Go, plugbay, Go, plugbay …: the machine's load swings and both see the same swings); the
// figures are medians of the rounds. Both plugin processes run outside the OS sandbox, so that the comparison is of
// the hosts and their transports. Prints one JSON line (run.ts makes the table); `--table` prints it here too.
//   node bench/dist/go-plugin.js [--table]     BENCH_QUICK=1: a tenth of the calls
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createHost } from 'plugbay';
import { ProcessTier } from '../../packages/plugbay/dist/tiers/process/index.js';
import { median } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const goDir = path.resolve(here, '../../examples/go-plugins');
const kvBin = path.join(goDir, 'kv/bin/kv');
const kvHostBin = path.join(goDir, 'kv-host/bin/kv-host');
const quick = process.env.BENCH_QUICK === '1';
const rounds = quick ? 3 : 5;
const sequentialCalls = quick ? 200 : 1500;
const concurrentCalls = quick ? 1000 : 10_000;
const callers = 32;

export interface GoPluginRound {
  p50us: number;
  callsPerSec: number;
  /** CPU per call of the host process and of the plugin process (µs; /proc ticks are 10 ms, so rounds of ~1 s). */
  hostCpuUs: number;
  pluginCpuUs: number;
}
export interface GoPluginResult {
  rounds: number;
  callers: number;
  native: { one: GoPluginRound; many: GoPluginRound };
  plugbay: { one: GoPluginRound; many: GoPluginRound };
  /** plugbay calls/s over native Go's at 32 callers, and plugbay p50 over native Go's at 1 caller (medians). */
  throughputRatio: number;
  p50Ratio: number;
  skipped?: string;
}

/** utime + stime of a process in µs (/proc/<pid>/stat). */
function cpuUsOf(pid: number): number {
  const fields = (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 1e4;
}

/** The process under `pid` (itself included) running the KV plugin binary (plugbay's runs a copy from its store). */
function kvPluginUnder(pid: number): number {
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    try {
      if (path.basename(fs.readlinkSync(`/proc/${p}/exe`)) === path.basename(kvBin)) return p;
      const children = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      if (children) queue.push(...children.split(/\s+/).map(Number));
    } catch {}
  }
  throw new Error(`no ${path.basename(kvBin)} process under pid ${pid}`);
}

/** Adds the CPU both processes spent per call over `work` to its figures. */
async function withCpu(
  hostPid: number,
  pluginPid: number,
  calls: number,
  work: () => Promise<Omit<GoPluginRound, 'hostCpuUs' | 'pluginCpuUs'>>,
): Promise<GoPluginRound> {
  const self = hostPid === process.pid;
  const host0 = self ? process.cpuUsage() : undefined;
  const hostTicks0 = self ? 0 : cpuUsOf(hostPid);
  const plugin0 = cpuUsOf(pluginPid);
  const r = await work();
  const used = host0 ? process.cpuUsage(host0) : undefined;
  const hostUs = used ? used.user + used.system : cpuUsOf(hostPid) - hostTicks0;
  return { ...r, hostCpuUs: hostUs / calls, pluginCpuUs: (cpuUsOf(pluginPid) - plugin0) / calls };
}

/** go-plugin's Go host in its rounds mode: one plugin process for the whole run, one round per stdin line. */
async function nativeHost(): Promise<{
  round: (n: number, c: number) => Promise<GoPluginRound>;
  stop: () => Promise<void>;
}> {
  const child = spawn(kvHostBin, [kvBin, 'rounds'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = async (): Promise<Record<string, number>> => {
    const line = await lines.next();
    if (line.done) throw new Error('kv-host ended early (see its stderr above)');
    return JSON.parse(line.value) as Record<string, number>;
  };
  await next(); // {"ready":true}: handshake done, Put made
  const hostPid = child.pid as number;
  const pluginPid = kvPluginUnder(hostPid);
  return {
    round: (n, c) =>
      withCpu(hostPid, pluginPid, n, async () => {
        child.stdin.write(`${n} ${c}\n`);
        const r = await next();
        return { p50us: r.p50us as number, callsPerSec: r.callsPerSec as number };
      }),
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/** `n` calls of `once` from `c` concurrent callers: calls/s over the round and the p50 of the per-call times. */
async function round(
  once: () => Promise<unknown>,
  n: number,
  c: number,
): Promise<Omit<GoPluginRound, 'hostCpuUs' | 'pluginCpuUs'>> {
  const times = new Float64Array(n);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = process.hrtime.bigint();
        await once();
        times[i] = Number(process.hrtime.bigint() - s) / 1000;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  times.sort();
  return { p50us: times[n >> 1] as number, callsPerSec: n / seconds };
}

export async function runGoPluginBench(): Promise<GoPluginResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-bench-go-'));
  const host = createHost({
    logger: pino({ level: 'warn' }),
    tiers: { process: new ProcessTier({ socketRoot: root, sandbox: false }) },
    tierFor: () => 'process',
  });
  let native: Awaited<ReturnType<typeof nativeHost>> | undefined;
  try {
    // plugbay's plugin first: it is then the only KV process under this one when we look for its pid
    await host.load(path.join(goDir, 'kv'));
    const pluginPid = kvPluginUnder(process.pid);
    native = await nativeHost();
    const value = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
    await host.call('go-kv', 'Put', { key: 'k', value });
    const get = () => host.call('go-kv', 'Get', { key: 'k' });
    const ours = (n: number, c: number) => withCpu(process.pid, pluginPid, n, () => round(get, n, c));
    // warm-up: JIT on our side, connections and goroutines on theirs
    await round(get, sequentialCalls, 1);
    await round(get, concurrentCalls / 2, callers);
    await native.round(sequentialCalls, 1);
    await native.round(concurrentCalls / 2, callers);
    const per = { nativeOne: [], ours1: [], nativeMany: [], oursMany: [] } as Record<string, GoPluginRound[]>;
    for (let r = 0; r < rounds; r++) {
      per.nativeOne?.push(await native.round(sequentialCalls, 1));
      per.ours1?.push(await ours(sequentialCalls, 1));
      per.nativeMany?.push(await native.round(concurrentCalls, callers));
      per.oursMany?.push(await ours(concurrentCalls, callers));
    }
    const med = (rs: GoPluginRound[] = []): GoPluginRound => ({
      p50us: median(rs.map((r) => r.p50us)),
      callsPerSec: median(rs.map((r) => r.callsPerSec)),
      hostCpuUs: median(rs.map((r) => r.hostCpuUs)),
      pluginCpuUs: median(rs.map((r) => r.pluginCpuUs)),
    });
    const result = {
      rounds,
      callers,
      native: { one: med(per.nativeOne), many: med(per.nativeMany) },
      plugbay: { one: med(per.ours1), many: med(per.oursMany) },
    };
    return {
      ...result,
      throughputRatio: result.plugbay.many.callsPerSec / result.native.many.callsPerSec,
      p50Ratio: result.plugbay.one.p50us / result.native.one.p50us,
    };
  } finally {
    await native?.stop();
    await host.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The figures as markdown: one table of both hosts, then the two ratios against their targets. */
export function goPluginReport(r: GoPluginResult): string {
  const row = (name: string, x: GoPluginResult['native']) =>
    `| ${name} | ${Math.round(x.one.p50us)} | ${Math.round(x.one.callsPerSec)} | ${Math.round(x.many.p50us)} | ${Math.round(x.many.callsPerSec)} | ${Math.round(x.many.hostCpuUs)} / ${Math.round(x.many.pluginCpuUs)} |`;
  return [
    '| host | p50 µs, 1 caller | calls/s, 1 caller | p50 µs, 32 callers | calls/s, 32 callers | CPU µs/call host / plugin, 32 callers |',
    '|---|---|---|---|---|---|',
    row('go-plugin Go host (NewClient, Dispense)', r.native),
    row('plugbay host.call', r.plugbay),
    '',
    '| measure | value | target met |',
    '|---|---|---|',
    `| plugbay calls/s / native Go, 32 callers (target ≥ 50 %) | ${(r.throughputRatio * 100).toFixed(0)} % | ${r.throughputRatio >= 0.5 ? 'yes' : 'NO'} |`,
    `| plugbay p50 / native Go, 1 caller (target ≤ 2×) | ${r.p50Ratio.toFixed(2)}× | ${r.p50Ratio <= 2 ? 'yes' : 'NO'} |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!fs.existsSync(kvBin) || !fs.existsSync(kvHostBin)) {
    console.log(JSON.stringify({ skipped: 'Go plugins not built (run scripts/build-go-plugins.sh)' }));
  } else {
    const r = await runGoPluginBench();
    if (process.argv.includes('--table')) console.log(goPluginReport(r));
    console.log(JSON.stringify(r));
  }
}
