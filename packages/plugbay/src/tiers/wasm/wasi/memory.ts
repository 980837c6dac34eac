/** Views of the guest's linear memory, renewed when it grows. Out-of-range pointers are FAULT. */
import { E, WasiError } from './errno.js';

export class GuestMemory {
  #mem: WebAssembly.Memory | undefined;
  #view: DataView | undefined;
  #u8: Uint8Array | undefined;
  readonly #decoder = new TextDecoder();

  bind(memory: WebAssembly.Memory): void {
    this.#mem = memory;
  }

  bytes(): Uint8Array {
    const buffer = this.#memory().buffer;
    if (this.#u8?.buffer !== buffer) this.#u8 = new Uint8Array(buffer);
    return this.#u8;
  }

  view(): DataView {
    const buffer = this.#memory().buffer;
    if (this.#view?.buffer !== buffer) this.#view = new DataView(buffer);
    return this.#view;
  }

  string(ptr: number, len: number): string {
    const u8 = this.bytes();
    if (ptr + len > u8.length) throw new WasiError(E.FAULT);
    return this.#decoder.decode(u8.subarray(ptr, ptr + len));
  }

  /** The buffers of an iovec/ciovec array. */
  iovecs(ptr: number, n: number): Uint8Array[] {
    const v = this.view();
    const u8 = this.bytes();
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const buf = v.getUint32(ptr + i * 8, true);
      const len = v.getUint32(ptr + i * 8 + 4, true);
      if (buf + len > u8.length) throw new WasiError(E.FAULT);
      out.push(u8.subarray(buf, buf + len));
    }
    return out;
  }

  #memory(): WebAssembly.Memory {
    if (this.#mem === undefined) throw new WasiError(E.FAULT);
    return this.#mem;
  }
}
