import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import wabtInit from 'wabt';
import { kernelWasmBase64 } from './kernel-wasm.js';
import { repoRoot } from './test-fixtures.js';

interface Kernel {
  memory: WebAssembly.Memory;
  alloc(n: bigint): bigint;
  free(h: bigint): void;
  length(h: bigint): bigint;
  load_u8(p: bigint): number;
  load_u64(p: bigint): bigint;
  store_u8(p: bigint, v: number): void;
  store_u64(p: bigint, v: bigint): void;
  input_length(): bigint;
  input_load_u8(o: bigint): number;
  input_load_u64(o: bigint): bigint;
  input_offset(): bigint;
  output_set(p: bigint, n: bigint): void;
  error_set(p: bigint): void;
  error_get(): bigint;
  reset(): void;
  memory_bytes(): bigint;
  plugbay_begin(len: number): number;
  plugbay_finish(): number;
}

function kernel(): Kernel {
  const mod = new WebAssembly.Module(Buffer.from(kernelWasmBase64, 'base64'));
  return new WebAssembly.Instance(mod, {}).exports as unknown as Kernel;
}

describe('kernel', () => {
  test('kernel-wasm.ts is kernel.wat compiled (run scripts/build-wasm-kernel.mjs after editing the .wat)', async () => {
    const wabt = await wabtInit();
    const wat = readFileSync(path.join(repoRoot, 'packages/plugbay/src/tiers/wasm/kernel.wat'), 'utf8');
    const mod = wabt.parseWat('kernel.wat', wat);
    const { buffer } = mod.toBinary({});
    mod.destroy();
    assert.equal(Buffer.from(buffer).toString('base64'), kernelWasmBase64);
  });

  test('alloc, length, load and store; null, stale and forged handles read as length 0', () => {
    const k = kernel();
    assert.equal(k.alloc(0n), 0n);
    const a = k.alloc(13n);
    const b = k.alloc(5n);
    assert.ok(a >= 32n && a % 8n === 0n);
    assert.equal(k.length(a), 13n);
    assert.equal(k.length(b), 5n);
    assert.equal(k.length(0n), 0n);
    assert.equal(k.length(a + 8n), 0n, 'an address inside a block is not a handle');
    assert.equal(k.length(1n << 40n), 0n);
    k.store_u64(a, 0x1122334455667788n);
    k.store_u8(a + 8n, 0xab);
    assert.equal(k.load_u64(a), 0x1122334455667788n);
    assert.equal(k.load_u8(a + 8n), 0xab);
    assert.equal(k.load_u64(1n << 40n), 0n, 'out of bounds loads read 0, not trap');
    k.store_u64((1n << 64n) - 4n, 1n); // ignored, no trap
    k.reset();
    assert.equal(k.length(a), 0n, 'handles of an earlier call are dead after reset');
  });

  test('free pops blocks off the top, so alloc/free pairs do not grow memory', () => {
    const k = kernel();
    const keep = k.alloc(100n);
    const top = k.memory_bytes();
    for (let i = 0; i < 10_000; i++) {
      const x = k.alloc(1000n);
      const y = k.alloc(50n);
      k.free(x); // not on top: only marked
      k.free(y); // on top: y and then x are trimmed
    }
    assert.equal(k.memory_bytes(), top);
    assert.equal(k.length(keep), 100n);
    assert.equal(k.memory.buffer.byteLength, 65536);
  });

  test('input, output and error slots', () => {
    const k = kernel();
    const at = k.plugbay_begin(10);
    new Uint8Array(k.memory.buffer).set(Buffer.from('0123456789'), at);
    assert.equal(k.input_length(), 10n);
    assert.equal(k.input_load_u8(9n), '9'.charCodeAt(0));
    assert.equal(k.input_load_u8(10n), 0);
    assert.equal(k.input_load_u64(2n), Buffer.from('23456789').readBigUInt64LE());
    assert.equal(k.input_load_u64(3n), 0n, 'u64 past the end reads 0');
    assert.equal(k.length(k.input_offset()), 10n);
    const out = k.alloc(3n);
    k.output_set(out, 3n);
    assert.equal(k.plugbay_finish(), 0);
    const mailbox = new Int32Array(k.memory.buffer, 0, 4);
    assert.deepEqual([...mailbox.slice(0, 2)], [Number(out), 3]);
    const err = k.alloc(4n);
    k.error_set(err);
    assert.equal(k.error_get(), err);
    assert.equal(k.plugbay_finish(), 1);
    assert.deepEqual([...new Int32Array(k.memory.buffer, 0, 4).slice(2)], [Number(err), 4]);
    k.error_set(0n);
    assert.equal(k.plugbay_finish(), 0);
  });

  test('alloc returns 0 when the memory cannot grow', () => {
    const k = kernel();
    assert.equal(k.alloc(0xffff_ffffn), 0n);
    assert.equal(k.alloc(1n << 33n), 0n);
    assert.notEqual(k.alloc(8n), 0n);
  });

  test('an output set on memory that is no block (a failed alloc) is lost: finish says 2, until a good one is set', () => {
    const k = kernel();
    k.plugbay_begin(0);
    k.output_set(k.alloc(0xffff_ffffn), 9n);
    assert.equal(k.plugbay_finish(), 2);
    assert.equal(new Int32Array(k.memory.buffer, 0, 4)[1], 9, 'the length it asked for');
    k.output_set(k.alloc(2n), 2n);
    assert.equal(k.plugbay_finish(), 0);
    k.plugbay_begin(0);
    assert.equal(k.plugbay_finish(), 0, 'a new call starts clean');
  });
});
