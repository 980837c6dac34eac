;; plugbay's Extism kernel: the memory that carries a call's input, output, error and every handle a plugin
;; allocates through `extism:host/env`. Its exports are linked straight into the plugin's imports, so the
;; PDKs' load_u64/store_u64 loops are wasm-to-wasm calls (no JS, no BigInt).
;;
;; Layout: bytes 0..15 are the host's mailbox (see plugbay_finish); blocks start at 16. A block is a 16-byte header
;; [tag i32][capacity i32][length i32][previous block i32] followed by its data; a handle is the address of the data
;; (8-aligned, never below 32, so 0 stays "null"). `length == 0` marks a freed block. The tag binds a header to its
;; address and to the current call (epoch), so stale or forged handles read as invalid (length 0).
;;
;; Allocation is a bump pointer. free() trims freed blocks off the top (so alloc/free pairs inside one call reuse
;; memory), and the host resets everything before each call: handles never run out, however many calls run.
(module
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 16))
  (global $last (mut i32) (i32.const 0))
  (global $epoch (mut i32) (i32.const 1))
  (global $input (mut i32) (i32.const 0))
  (global $input_len (mut i64) (i64.const 0))
  (global $output (mut i32) (i32.const 0))
  (global $output_len (mut i64) (i64.const 0))
  ;; The length of an output the plugin set on memory that is no block (its alloc failed): the output is lost.
  (global $output_lost (mut i64) (i64.const 0))
  (global $error (mut i32) (i32.const 0))

  (func $tag (param $h i32) (result i32)
    (i32.xor (i32.xor (local.get $h) (i32.const 0x5afeb10c)) (global.get $epoch)))

  ;; The block handle `p` names, or 0 when it names no live block.
  (func $block (param $p i64) (result i32)
    (local $h i32)
    (if (i64.gt_u (local.get $p) (i64.const 0xffffffff)) (then (return (i32.const 0))))
    (local.set $h (i32.wrap_i64 (local.get $p)))
    (if (i32.lt_u (local.get $h) (i32.const 32)) (then (return (i32.const 0))))
    (if (i32.ge_u (local.get $h) (global.get $top)) (then (return (i32.const 0))))
    (if (i32.and (local.get $h) (i32.const 7)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load (i32.sub (local.get $h) (i32.const 16))) (call $tag (local.get $h)))
      (then (return (i32.const 0))))
    (if (i32.eqz (i32.load (i32.sub (local.get $h) (i32.const 8)))) (then (return (i32.const 0))))
    (local.get $h))

  ;; 1 when [p, p+n) lies inside allocated memory.
  (func $inb (param $p i64) (param $n i64) (result i32)
    (i32.and
      (i32.and (i64.ge_u (local.get $p) (i64.const 32))
               (i64.lt_u (local.get $p) (i64.extend_i32_u (global.get $top))))
      (i64.le_u (i64.add (local.get $p) (local.get $n)) (i64.extend_i32_u (global.get $top)))))

  (func $alloc32 (param $n i32) (result i32)
    (local $h i32) (local $size i64) (local $end i64) (local $mem i64)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $size (i64.and (i64.add (i64.extend_i32_u (local.get $n)) (i64.const 7)) (i64.const -8)))
    (local.set $h (i32.add (global.get $top) (i32.const 16)))
    (local.set $end (i64.add (i64.extend_i32_u (local.get $h)) (local.get $size)))
    (if (i64.gt_u (local.get $end) (i64.const 0xfffffff0)) (then (return (i32.const 0))))
    (local.set $mem (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
    (if (i64.gt_u (local.get $end) (local.get $mem))
      (then
        (if (i32.eq
              (memory.grow (i32.wrap_i64
                (i64.shr_u (i64.add (i64.sub (local.get $end) (local.get $mem)) (i64.const 65535)) (i64.const 16))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.store (i32.sub (local.get $h) (i32.const 16)) (call $tag (local.get $h)))
    (i32.store (i32.sub (local.get $h) (i32.const 12)) (i32.wrap_i64 (local.get $size)))
    (i32.store (i32.sub (local.get $h) (i32.const 8)) (local.get $n))
    (i32.store (i32.sub (local.get $h) (i32.const 4)) (global.get $last))
    (global.set $last (local.get $h))
    (global.set $top (i32.wrap_i64 (local.get $end)))
    (local.get $h))

  ;; Pops freed blocks off the top of the bump allocator.
  (func $trim
    (local $h i32)
    (local.set $h (global.get $last))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $h)))
        (br_if $done (i32.load (i32.sub (local.get $h) (i32.const 8))))
        (global.set $top (i32.sub (local.get $h) (i32.const 16)))
        (local.set $h (i32.load (i32.sub (local.get $h) (i32.const 4))))
        (global.set $last (local.get $h))
        (br $next))))

  (func $reset (export "reset")
    (global.set $top (i32.const 16))
    (global.set $last (i32.const 0))
    (global.set $epoch (i32.add (global.get $epoch) (i32.const 1)))
    (global.set $input (i32.const 0))
    (global.set $input_len (i64.const 0))
    (global.set $output (i32.const 0))
    (global.set $output_len (i64.const 0))
    (global.set $output_lost (i64.const 0))
    (global.set $error (i32.const 0)))

  ;; ---- the Extism ABI ----
  (func (export "alloc") (param $n i64) (result i64)
    (if (i64.gt_u (local.get $n) (i64.const 0xffff0000)) (then (return (i64.const 0))))
    (i64.extend_i32_u (call $alloc32 (i32.wrap_i64 (local.get $n)))))

  (func (export "free") (param $p i64)
    (local $h i32)
    (local.set $h (call $block (local.get $p)))
    (if (i32.eqz (local.get $h)) (then (return)))
    (i32.store (i32.sub (local.get $h) (i32.const 8)) (i32.const 0))
    (if (i32.eq (local.get $h) (global.get $input)) (then (global.set $input_len (i64.const 0))))
    (call $trim))

  (func $length (export "length") (param $p i64) (result i64)
    (local $h i32)
    (local.set $h (call $block (local.get $p)))
    (if (i32.eqz (local.get $h)) (then (return (i64.const 0))))
    (i64.extend_i32_u (i32.load (i32.sub (local.get $h) (i32.const 8)))))

  (func (export "length_unsafe") (param $p i64) (result i64)
    (call $length (local.get $p)))

  (func (export "load_u8") (param $p i64) (result i32)
    (if (result i32) (call $inb (local.get $p) (i64.const 1))
      (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
      (else (i32.const 0))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (result i64) (call $inb (local.get $p) (i64.const 8))
      (then (i64.load (i32.wrap_i64 (local.get $p))))
      (else (i64.const 0))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (call $inb (local.get $p) (i64.const 1))
      (then (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (call $inb (local.get $p) (i64.const 8))
      (then (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "input_length") (result i64) (global.get $input_len))
  (func (export "input_offset") (result i64) (i64.extend_i32_u (global.get $input)))

  (func (export "input_load_u8") (param $off i64) (result i32)
    (if (result i32) (i64.lt_u (local.get $off) (global.get $input_len))
      (then (i32.load8_u (i32.add (global.get $input) (i32.wrap_i64 (local.get $off)))))
      (else (i32.const 0))))

  (func (export "input_load_u64") (param $off i64) (result i64)
    (if (result i64)
      (i32.and (i64.lt_u (local.get $off) (global.get $input_len))
               (i64.le_u (i64.add (local.get $off) (i64.const 8)) (global.get $input_len)))
      (then (i64.load (i32.add (global.get $input) (i32.wrap_i64 (local.get $off)))))
      (else (i64.const 0))))

  (func (export "input_set") (param $p i64) (param $len i64)
    (if (i32.or (i64.eqz (local.get $len)) (call $inb (local.get $p) (local.get $len)))
      (then
        (global.set $input (i32.wrap_i64 (local.get $p)))
        (global.set $input_len (local.get $len)))))

  (func (export "output_set") (param $p i64) (param $len i64)
    (if (i32.or (i64.eqz (local.get $len)) (call $inb (local.get $p) (local.get $len)))
      (then
        (global.set $output (i32.wrap_i64 (local.get $p)))
        (global.set $output_len (local.get $len))
        (global.set $output_lost (i64.const 0)))
      (else (global.set $output_lost (local.get $len)))))

  (func (export "output_length") (result i64) (global.get $output_len))
  (func (export "output_offset") (result i64) (i64.extend_i32_u (global.get $output)))

  (func (export "error_set") (param $p i64)
    (if (i64.eqz (local.get $p)) (then (global.set $error (i32.const 0)) (return)))
    (if (call $inb (local.get $p) (i64.const 1)) (then (global.set $error (i32.wrap_i64 (local.get $p))))))

  (func (export "error_get") (result i64) (i64.extend_i32_u (global.get $error)))
  (func (export "memory_bytes") (result i64) (i64.extend_i32_u (global.get $top)))

  ;; ---- the host's fast path (i32 only: no BigInt on the JS side) ----

  ;; Starts a call: resets the allocator and makes an input block of `len` bytes. Returns where the host writes
  ;; the input, 0 for empty input, -1 when the kernel memory cap is reached.
  (func (export "plugbay_begin") (param $len i32) (result i32)
    (local $h i32)
    (call $reset)
    (if (i32.eqz (local.get $len)) (then (return (i32.const 0))))
    (local.set $h (call $alloc32 (local.get $len)))
    (if (i32.eqz (local.get $h)) (then (return (i32.const -1))))
    (global.set $input (local.get $h))
    (global.set $input_len (i64.extend_i32_u (local.get $len)))
    (local.get $h))

  ;; Ends a call: writes [output ptr, output len, error ptr, error len] (i32 each) at address 0 and returns 1
  ;; when the plugin set an error, 2 when its output was lost (then output len is the length it asked for).
  (func (export "plugbay_finish") (result i32)
    (local $e i32)
    (i32.store (i32.const 0) (global.get $output))
    (i32.store (i32.const 4) (i32.wrap_i64 (global.get $output_len)))
    (if (i64.ne (global.get $output_lost) (i64.const 0))
      (then (i32.store (i32.const 4) (i32.wrap_i64 (global.get $output_lost)))))
    (local.set $e (call $block (i64.extend_i32_u (global.get $error))))
    (i32.store (i32.const 8) (global.get $error))
    (i32.store (i32.const 12)
      (if (result i32) (local.get $e) (then (i32.load (i32.sub (local.get $e) (i32.const 8)))) (else (i32.const 0))))
    (if (global.get $error) (then (return (i32.const 1))))
    (select (i32.const 2) (i32.const 0) (i64.ne (global.get $output_lost) (i64.const 0))))

  ;; Allocates a block for a host function's result (config_get, var_get); 0 when out of memory.
  (func (export "plugbay_alloc") (param $n i32) (result i32) (call $alloc32 (local.get $n)))

  ;; Length of the block at `h`, 0 when `h` names no live block.
  (func (export "plugbay_length") (param $h i32) (result i32)
    (i32.wrap_i64 (call $length (i64.extend_i32_u (local.get $h)))))
)
