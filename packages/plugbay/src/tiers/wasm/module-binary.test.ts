import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import wabtInit from 'wabt';
import { capMemory, ModuleFormatError } from './module-binary.js';

async function wat(text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('t.wat', text);
  const { buffer } = mod.toBinary({});
  mod.destroy();
  return buffer;
}

const grower = `(module (memory (export "memory") 1 __MAX__)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;

describe('capMemory', () => {
  test('adds a maximum to a memory without one; memory.grow past it returns -1', async () => {
    const { bytes, memories } = capMemory(await wat(grower.replace('__MAX__', '')), 4);
    assert.deepEqual(memories, [{ flags: 0, min: 1, max: undefined }]);
    const { grow } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as {
      grow(n: number): number;
    };
    assert.equal(grow(3), 1);
    assert.equal(grow(1), -1);
    assert.equal(grow(1000), -1);
  });

  test('lowers a larger maximum and keeps a smaller one', async () => {
    const lowered = capMemory(await wat(grower.replace('__MAX__', '100')), 2).bytes;
    const g1 = (
      new WebAssembly.Instance(new WebAssembly.Module(lowered)).exports as { grow(n: number): number }
    ).grow;
    assert.equal(g1(1), 1);
    assert.equal(g1(1), -1);
    const kept = capMemory(await wat(grower.replace('__MAX__', '2')), 50).bytes;
    const g2 = (new WebAssembly.Instance(new WebAssembly.Module(kept)).exports as { grow(n: number): number })
      .grow;
    assert.equal(g2(1), 1);
    assert.equal(g2(1), -1);
  });

  test('refuses a minimum above the cap, imported memories and non-wasm bytes', async () => {
    assert.throws(() => capMemory(Buffer.from('(module)'), 1), ModuleFormatError);
    assert.throws(
      () => capMemory(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]), 1),
      ModuleFormatError,
    );
    const big = await wat('(module (memory 10))');
    assert.throws(() => capMemory(big, 5), ModuleFormatError);
    const imported = await wat('(module (import "env" "memory" (memory 1)))');
    assert.throws(() => capMemory(imported, 5), /imports its memory/);
  });

  test('modules with other sections survive the rewrite byte-for-byte outside the memory section', async () => {
    const src = await wat(`(module
      (import "m" "f" (func $f (param i32)))
      (import "m" "t" (table 1 funcref))
      (import "m" "g" (global i32))
      (memory 1) (data (i32.const 0) "abc")
      (func (export "x") (result i32) (i32.load8_u (i32.const 1))))`);
    const { bytes } = capMemory(src, 3);
    assert.equal(bytes.length, src.length + 1, 'one byte more: the maximum');
    const mod = new WebAssembly.Module(bytes);
    const inst = new WebAssembly.Instance(mod, {
      m: { f: () => {}, t: new WebAssembly.Table({ initial: 1, element: 'anyfunc' }), g: 0 },
    });
    assert.equal((inst.exports.x as () => number)(), 'b'.charCodeAt(0));
  });
});
