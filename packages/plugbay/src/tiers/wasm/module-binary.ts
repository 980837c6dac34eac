/**
 * Just enough of the WebAssembly binary format to cap a module's memory: V8 has no per-instance limit for memory a
 * module defines, so the cap is written into the module itself (its memory section's maximum) before compiling.
 * `memory.grow` past the maximum then returns -1 inside the guest, as the spec says.
 */

export const WASM_PAGE = 65536;

export class ModuleFormatError extends Error {}

interface Limits {
  flags: number;
  min: number;
  max: number | undefined;
}

/** Rewrites every memory the module defines so its maximum is at most `maxPages`. Throws on what it cannot cap. */
export function capMemory(bytes: Uint8Array, maxPages: number): { bytes: Uint8Array; memories: Limits[] } {
  if (!Number.isInteger(maxPages) || maxPages < 0 || maxPages > 65536) {
    throw new RangeError(`maxPages must be an integer in 0..65536, got ${maxPages}`);
  }
  checkHeader(bytes);
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  const memories: Limits[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const start = pos;
    const id = bytes[pos++]!;
    const size = readU32(bytes, pos);
    pos = size.next;
    const bodyStart = pos;
    const bodyEnd = bodyStart + size.value;
    if (bodyEnd > bytes.length) throw new ModuleFormatError(`section ${id} runs past the end of the module`);
    if (id === 2) rejectImportedMemory(bytes.subarray(bodyStart, bodyEnd));
    if (id === 5) {
      const body = bytes.subarray(bodyStart, bodyEnd);
      const rewritten = rewriteMemorySection(body, maxPages, memories);
      out.push(Uint8Array.of(5), encodeU32(rewritten.length), rewritten);
    } else {
      out.push(bytes.subarray(start, bodyEnd));
    }
    pos = bodyEnd;
  }
  return { bytes: concat(out), memories };
}

function rewriteMemorySection(body: Uint8Array, maxPages: number, memories: Limits[]): Uint8Array {
  const count = readU32(body, 0);
  let pos = count.next;
  const parts: Uint8Array[] = [encodeU32(count.value)];
  for (let i = 0; i < count.value; i++) {
    const flags = body[pos++];
    if (flags === undefined) throw new ModuleFormatError('memory section is truncated');
    if (flags & 0b100) throw new ModuleFormatError('64-bit memories are not supported');
    if (flags & ~0b11) throw new ModuleFormatError(`unknown memory limits flags ${flags}`);
    const min = readU32(body, pos);
    pos = min.next;
    let max: number | undefined;
    if (flags & 1) {
      const m = readU32(body, pos);
      pos = m.next;
      max = m.value;
    }
    memories.push({ flags, min: min.value, max });
    if (min.value > maxPages) {
      throw new ModuleFormatError(
        `the module needs at least ${min.value} pages of memory (${pagesToMb(min.value)} MiB), above the cap of ${maxPages} pages`,
      );
    }
    const newMax = Math.min(max ?? maxPages, maxPages);
    parts.push(Uint8Array.of(flags | 1), encodeU32(min.value), encodeU32(newMax));
  }
  if (pos !== body.length) throw new ModuleFormatError('memory section has trailing bytes');
  return concat(parts);
}

/** Imported memories would escape the rewrite (and Extism plugins define their own): refused. */
function rejectImportedMemory(body: Uint8Array): void {
  const count = readU32(body, 0);
  let pos = count.next;
  for (let i = 0; i < count.value; i++) {
    const mod = readName(body, pos);
    const name = readName(body, mod.next);
    pos = name.next;
    const kind = body[pos++];
    switch (kind) {
      case 0: // function: type index
        pos = readU32(body, pos).next;
        break;
      case 1: {
        // table: reftype + limits
        pos++;
        pos = skipLimits(body, pos);
        break;
      }
      case 2:
        throw new ModuleFormatError(
          `the module imports its memory (${mod.value}.${name.value}); it must define it`,
        );
      case 3: // global: valtype + mutability
        pos += 2;
        break;
      case 4: // tag
        pos++;
        pos = readU32(body, pos).next;
        break;
      default:
        throw new ModuleFormatError(`unknown import kind ${kind}`);
    }
  }
}

function skipLimits(body: Uint8Array, pos: number): number {
  const flags = body[pos++]!;
  let next = readU32(body, pos).next;
  if (flags & 1) next = readU32(body, next).next;
  return next;
}

function checkHeader(bytes: Uint8Array): void {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new ModuleFormatError('not a WebAssembly module (bad magic number)');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new ModuleFormatError('unsupported WebAssembly binary version (components are not supported)');
  }
}

function readU32(bytes: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    if (b === undefined) throw new ModuleFormatError('truncated LEB128 number');
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw new ModuleFormatError('LEB128 number too long');
  }
  if (value > 0xffffffff) throw new ModuleFormatError('LEB128 number out of range');
  return { value, next: pos };
}

function readName(bytes: Uint8Array, pos: number): { value: string; next: number } {
  const len = readU32(bytes, pos);
  const end = len.next + len.value;
  if (end > bytes.length) throw new ModuleFormatError('truncated name');
  return { value: new TextDecoder().decode(bytes.subarray(len.next, end)), next: end };
}

export function encodeU32(value: number): Uint8Array {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return Uint8Array.from(out);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function pagesToMb(pages: number): number {
  return (pages * WASM_PAGE) / (1024 * 1024);
}
