// Sums a `--trace-gc-nvp` log of the switch benchmark by phase (BENCH_MARKS=1 writes the phase lines):
//   BENCH_MARKS=1 BENCH_ROUNDS=3 node --trace-gc-nvp bench/dist/switch.js > gc.log
//   node bench/dist/gc-phases.js gc.log
// Per phase name (summed over rounds) and per thread (the main isolate is the one that logs first; workers are
// the rest): scavenges, their summed and longest pause, and the bytes that survived them (copied in the young
// generation or promoted), per call of the phase.
import { readFileSync } from 'node:fs';

interface Sum {
  scavenges: number;
  pauseMs: number;
  maxPauseMs: number;
  survivedBytes: number;
  promotedBytes: number;
  fullGcs: number;
}

const lines = readFileSync(process.argv[2] ?? '/dev/stdin', 'utf8').split('\n');
const last = JSON.parse(lines.filter((l) => l.startsWith('{')).at(-1) ?? '{"phases":[]}') as {
  phases: { name: string; calls: number }[];
};
const callsOf = new Map<string, number>();
for (const p of last.phases) callsOf.set(p.name, (callsOf.get(p.name) ?? 0) + p.calls);

let main: string | undefined;
let phase: string | undefined;
const sums = new Map<string, Sum>();
const field = (line: string, name: string) => Number(new RegExp(`\\b${name}=([0-9.]+)`).exec(line)?.[1] ?? 0);
for (const line of lines) {
  const mark = /^# phase (start|end): (.*)$/.exec(line);
  if (mark !== null) {
    phase = mark[1] === 'start' ? mark[2] : undefined;
    continue;
  }
  const gc = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: .*gc=(\w+)/.exec(line);
  if (gc === null) continue;
  main ??= gc[1];
  if (phase === undefined) continue;
  const key = `${phase} | ${gc[1] === main ? 'main' : 'workers'}`;
  const s = sums.get(key) ?? {
    scavenges: 0,
    pauseMs: 0,
    maxPauseMs: 0,
    survivedBytes: 0,
    promotedBytes: 0,
    fullGcs: 0,
  };
  const pause = field(line, 'pause');
  if (gc[2] === 's') {
    s.scavenges++;
    s.pauseMs += pause;
    s.maxPauseMs = Math.max(s.maxPauseMs, pause);
    s.survivedBytes += field(line, 'new_space_survived');
    s.promotedBytes += field(line, 'promoted');
  } else {
    s.fullGcs++;
  }
  sums.set(key, s);
}

console.log(
  '| phase | thread | calls | scavenges | per 10k calls | pause ms (max) | survived B/call | promoted B/call | full GCs |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [key, s] of [...sums].sort(([a], [b]) => a.localeCompare(b))) {
  const [name, thread] = key.split(' | ') as [string, string];
  const calls = callsOf.get(name) ?? Number.NaN;
  console.log(
    `| ${name} | ${thread} | ${calls} | ${s.scavenges} | ${((s.scavenges * 1e4) / calls).toFixed(2)} | ` +
      `${s.pauseMs.toFixed(1)} (${s.maxPauseMs.toFixed(1)}) | ${(s.survivedBytes / calls).toFixed(0)} | ` +
      `${(s.promotedBytes / calls).toFixed(0)} | ${s.fullGcs} |`,
  );
}
