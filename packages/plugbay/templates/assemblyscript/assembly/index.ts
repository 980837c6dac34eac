// A plugbay plugin in AssemblyScript with @extism/as-pdk. Build: npm run build
import { Host } from '@extism/as-pdk';

// Input: a name as a JSON string (the manifest's schema rules out quotes and backslashes). Output: JSON string.
export function greet(): i32 {
  const input = Host.inputString();
  const name = input.slice(1, input.length - 1);
  // Host.output with UTF-8 bytes (outputString mis-sizes non-ASCII text).
  Host.output(Uint8Array.wrap(String.UTF8.encode('"Hello, ' + name + '!"')));
  return 0;
}

// The abort handler asc is told to use (`--use abort=assembly/index/myAbort`): aborts trap as `unreachable`.
// biome-ignore lint/correctness/noUnusedVariables: referenced by the compiler flag, not by code
function myAbort(_message: string | null, _fileName: string | null, _line: u32, _column: u32): void {}
