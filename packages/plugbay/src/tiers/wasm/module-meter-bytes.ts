/**
 * The byte-level reading and writing module-meter.ts needs: a cursor over a module's bytes that decodes LEB128
 * numbers, names and the shapes of types, limits and memory arguments (skipping what the meter does not change),
 * and the encoders of what it writes.
 */
import { concat, encodeU32, ModuleFormatError } from './module-binary.js';

export class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
  ) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  peek(): number | undefined {
    return this.buf[this.pos];
  }

  byte(): number {
    const b = this.buf[this.pos++];
    if (b === undefined) throw new ModuleFormatError('the module is truncated');
    return b;
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new ModuleFormatError('the module is truncated');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u32(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new ModuleFormatError('LEB128 number too long');
    }
    return value;
  }

  /** A signed LEB128 of any width up to 64 bits: skipped, not decoded. */
  sleb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    throw new ModuleFormatError('LEB128 number too long');
  }

  name(): string {
    return new TextDecoder().decode(this.bytes(this.u32()));
  }

  heapType(): void {
    this.sleb();
  }

  /** A value type: a one-byte type, or (ref null? ht). */
  valType(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.heapType();
  }

  refType(): void {
    this.valType();
  }

  blockType(): void {
    const b = this.peek();
    if (b === 0x63 || b === 0x64) {
      this.pos++;
      this.heapType();
    } else this.sleb(); // 0x40, a value type byte, or a type index (s33)
  }

  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }

  memArg(): void {
    const align = this.u32();
    if (align & 0x40) this.u32(); // multi-memory: memory index
    this.sleb(); // offset (u64 with memory64)
  }
}

/** LEB128 of an unsigned 32-bit value (the binary module's writer has it). */
export const u32 = encodeU32;

export function s32(value: number): Uint8Array {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}

export function name(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  return concat([u32(b.length), b]);
}

export function sized(content: Uint8Array): Uint8Array {
  return concat([u32(content.length), content]);
}

export { concat };
