// stats: the AssemblyScript example, compiled with asc and @extism/as-pdk to WebAssembly and run in the wasm tier
// (Extism ABI), as `plugbay new --lang assemblyscript` sets up. Built by `npm run build`
// (scripts/build-examples.mjs) into build/plugin.wasm.
import { Host } from '@extism/as-pdk';

// Input: a JSON array of numbers, at least one (plugin.json's schema; the host checks it before this runs).
function parseNumbers(json: string): f64[] {
  const body = json.trim();
  const inner = body.slice(1, body.length - 1).trim();
  const numbers: f64[] = [];
  if (inner.length === 0) return numbers;
  const parts = inner.split(',');
  for (let i = 0; i < parts.length; i++) numbers.push(parseFloat(parts[i].trim()));
  return numbers;
}

// A JSON number: integral values without the `.0` asc's f64.toString() adds.
function num(x: f64): string {
  if (Math.abs(x) < 9007199254740992 && Math.floor(x) === x) return (<i64>x).toString();
  return x.toString();
}

// Count, sum, mean, min, max, median and population standard deviation; the median sorts a copy.
export function summary(): i32 {
  const xs = parseNumbers(Host.inputString());
  const n = xs.length;
  let sum: f64 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = sum / <f64>n;
  let squares: f64 = 0;
  for (let i = 0; i < n; i++) squares += (xs[i] - mean) * (xs[i] - mean);
  const sorted = xs.slice(0);
  sorted.sort((a: f64, b: f64): i32 => <i32>(a > b) - <i32>(a < b));
  const median = n % 2 === 1 ? sorted[n >> 1] : (sorted[(n >> 1) - 1] + sorted[n >> 1]) / 2;
  const out =
    `{"count":${n},"sum":${num(sum)},"mean":${num(mean)},"min":${num(min)},"max":${num(max)},` +
    `"median":${num(median)},"stddev":${num(Math.sqrt(squares / <f64>n))}}`;
  // Host.output with UTF-8 bytes (outputString mis-sizes non-ASCII text).
  Host.output(Uint8Array.wrap(String.UTF8.encode(out)));
  return 0;
}

// The abort handler asc is told to use (`--use abort=assembly/index/myAbort`): aborts trap as `unreachable`.
// biome-ignore lint/correctness/noUnusedVariables: referenced by the compiler flag, not by code
function myAbort(_message: string | null, _fileName: string | null, _line: u32, _column: u32): void {}
