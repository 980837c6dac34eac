// Summarises a V8 .cpuprofile (node --cpu-prof) by self time: the top functions and the top files (a package
// under node_modules counts as one file per package file; node's own code is `node:<module>`).
// Usage: node bench/dist/cpuprofile-summary.js <file.cpuprofile> [--top N] [--json]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of all samples, idle included. */
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of the profile spent idle (waiting in epoll): 100 % minus it is the busy share. */
  idlePct: number;
  functions: SelfTime[];
  files: SelfTime[];
}

/** `file:///…/node_modules/fastify/lib/route.js` → `fastify/lib/route.js`; `node:internal/…` stays. */
export function shortFile(url: string): string {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + '/node_modules/'.length);
  const pkg = path.match(/\/packages\/([^/]+)\/dist\/(.*)$/);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  const bench = path.match(/\/bench\/dist\/(.*)$/);
  if (bench) return `bench/${bench[1]}`;
  return path;
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const self = new Map<number, number>();
  // timeDeltas[i] is the time from sample i-1 to sample i: it is charged to sample i's frame (as DevTools does).
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const file = shortFile(frame.url);
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') idleUs += us;
    const key = frame.url === '' ? name : `${name} ${file}:${frame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const fileKey = frame.url === '' ? name : file;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: (us / totalUs) * 100 }));
  return {
    totalMs: totalUs / 1000,
    idlePct: (idleUs / totalUs) * 100,
    functions: rank(fns),
    files: rank(files),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const rows = (xs: SelfTime[]) =>
    xs
      .map((x) => `${x.pct.toFixed(1).padStart(5)} %  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`)
      .join('\n');
  return [
    `total ${s.totalMs.toFixed(0)} ms, idle ${s.idlePct.toFixed(1)} %`,
    '',
    'self time by function:',
    rows(s.functions),
    '',
    'self time by file:',
    rows(s.files),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, ...rest] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: cpuprofile-summary <file.cpuprofile> [--top N] [--json]');
    process.exit(2);
  }
  const topAt = rest.indexOf('--top');
  const top = topAt === -1 ? 25 : Number(rest[topAt + 1]);
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top);
  console.log(rest.includes('--json') ? JSON.stringify(summary) : formatSummary(summary));
}
