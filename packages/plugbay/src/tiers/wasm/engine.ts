/**
 * Runs one wasm plugin in the current thread: the kernel, the `extism:host/env` imports, optional WASI, and the
 * call path (input into the kernel, call the export, output or error out). Used directly by the host-thread mode
 * and inside the worker of the worker mode, so both behave the same.
 */
import {
  callFailure,
  inputTooLarge,
  outputNotAllocated,
  ProcExit,
  pluginError,
  unknownFunction,
  WasmFault,
} from './errors.js';
import { createHostEnv, type ExtismLogLevel, type HostEnvOptions } from './host-env.js';
import { METER_MODULE, METER_REFILL } from './module-meter.js';
import { SyncHttp } from './sync-http.js';
import { Wasi, type WasiOptions } from './wasi.js';

/** Exports of kernel.wat. */
interface KernelExports {
  memory: WebAssembly.Memory;
  plugbay_begin(len: number): number;
  plugbay_finish(): number;
  plugbay_alloc(n: number): number;
  plugbay_length(h: number): number;
  [name: string]: unknown;
}

/** The Extism ABI functions the kernel provides; everything else in `extism:host/env` comes from host-env.ts. */
const kernelAbi = [
  'alloc',
  'free',
  'length',
  'length_unsafe',
  'load_u8',
  'load_u64',
  'store_u8',
  'store_u64',
  'input_length',
  'input_offset',
  'input_load_u8',
  'input_load_u64',
  'input_set',
  'output_set',
  'output_length',
  'output_offset',
  'error_set',
  'error_get',
  'reset',
  'memory_bytes',
] as const;

const hostAbi = [
  'config_get',
  'var_get',
  'var_set',
  'log_trace',
  'log_debug',
  'log_info',
  'log_warn',
  'log_error',
  'get_log_level',
  'http_request',
  'http_status_code',
  'http_headers',
] as const;

export const EXTISM_ENV = 'extism:host/env';
export const WASI_P1 = 'wasi_snapshot_preview1';
const knownEnv = new Set<string>([...kernelAbi, ...hostAbi]);
const knownWasi = new Set(Wasi.functionNames());
/** Exports that belong to the toolchain or the ABI, not to the plugin's functions. */
const runtimeExports = new Set(['_initialize', '_start', '__wasm_call_ctors', 'hs_init', 'memory']);

export interface ModuleAudit {
  /** Function exports the plugin offers (toolchain exports removed). */
  functions: string[];
  wasi: boolean;
  /** Imports this host cannot provide, as `module.name`. */
  unsupported: string[];
  /** WASI functions the module imports that this host does not implement: they answer ENOSYS. */
  enosys: string[];
}

/** What a compiled module exports and imports, checked against what this host provides. */
export function auditModule(module: WebAssembly.Module, metered = false): ModuleAudit {
  const unsupported: string[] = [];
  const enosys: string[] = [];
  let wasi = false;
  for (const imp of WebAssembly.Module.imports(module)) {
    // written by module-meter.ts (which refuses a module importing from it on its own)
    if (metered && imp.module === METER_MODULE) continue;
    if (imp.module === EXTISM_ENV && imp.kind === 'function' && knownEnv.has(imp.name)) continue;
    if (imp.module === WASI_P1 && imp.kind === 'function') {
      wasi = true;
      if (!knownWasi.has(imp.name)) enosys.push(imp.name);
      continue;
    }
    unsupported.push(`${imp.module}.${imp.name}`);
  }
  const functions = WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function' && !runtimeExports.has(e.name) && !e.name.startsWith('__'))
    .map((e) => e.name);
  return { functions, wasi, unsupported, enosys };
}

export interface EngineOptions {
  plugin: WebAssembly.Module;
  /** kernel.wat compiled, its memory already capped. */
  kernel: WebAssembly.Module;
  config: Readonly<Record<string, string>>;
  logLevel: ExtismLogLevel;
  log(level: ExtismLogLevel | 'stdout' | 'stderr', msg: string): void;
  net: readonly string[];
  /** Per-request timeout of http_request. Default 30 s. */
  httpTimeoutMs?: number;
  maxVarBytes: number;
  /** WASI capabilities; used when the module imports WASI. */
  wasi: Omit<WasiOptions, 'stdout' | 'stderr'>;
  /**
   * The plugin module carries the meter (module-meter.ts): its refill import stops a call at `Engine.deadline`.
   * The value is the fuel one refill grants (units ≈ wasm instructions): how often the deadline is checked.
   */
  meterFuel?: number;
}

const timeOrigin = performance.timeOrigin;
/** The clock of CallContext.deadline (core/call.ts), monotonic unlike Date.now(). */
const epochNow = (): number => timeOrigin + performance.now();

/** Budget of `_initialize` when the sandbox is first built (later rebuilds run under the call's deadline). */
const initBudgetMs = 10_000;

type Export = () => number | undefined;

export class Engine {
  readonly #o: EngineOptions;
  readonly #vars = new Map<string, Uint8Array>();
  readonly #needsWasi: boolean;
  #kernel!: KernelExports;
  #exports!: WebAssembly.Exports;
  #fns = new Map<string, Export>();
  #buf!: Buffer;
  #wasi: Wasi | undefined;
  #http: SyncHttp | undefined;
  #poisoned = false;
  /** Sandboxes built so far (1 + re-instantiations after traps). */
  instantiations = 0;
  /**
   * Epoch ms (the clock of CallContext.deadline: performance.timeOrigin + performance.now()) after which a metered
   * module traps at its next refill with PLUGBAY_TIMEOUT. Set by the caller before each call; Infinity: never.
   */
  deadline = Number.POSITIVE_INFINITY;
  /** The function's own deadline (CallContext.ownDeadline): a `deadline` before it is the caller's choice. */
  ownDeadline = Number.POSITIVE_INFINITY;
  #calling = '';
  /** The timeout #overrun threw during this call, if any (a guest may catch it). */
  #overran: WasmFault | undefined;
  /** What is left of a metered call's deadline, for the host functions that wait (WASI sleeps, http_request). */
  readonly #budget = { msLeft: () => this.deadline - epochNow(), overrun: (): never => this.#overrun() };

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#needsWasi = auditModule(options.plugin, options.meterFuel !== undefined).wasi;
    this.deadline = epochNow() + initBudgetMs;
    this.#calling = '_initialize';
    try {
      this.#instantiate();
    } finally {
      this.deadline = Number.POSITIVE_INFINITY;
    }
  }

  /** Calls `fn` with a UTF-8 string (the JSON path) and returns its output as a string. */
  callString(fn: string, input: string): string {
    const f = this.#fn(fn);
    const len = input.length === 0 ? 0 : Buffer.byteLength(input, 'utf8');
    const ptr = this.#kernel.plugbay_begin(len);
    if (ptr < 0) throw inputTooLarge(fn, len);
    if (len !== 0) this.#bytes().write(input, ptr, len, 'utf8');
    this.#run(f, fn);
    const b = this.#bytes();
    const out = b.readInt32LE(0);
    return b.toString('utf8', out, out + b.readInt32LE(4));
  }

  /** Calls `fn` with raw bytes and returns a copy of its output bytes. */
  callBytes(fn: string, input: Uint8Array): Uint8Array {
    const f = this.#fn(fn);
    const ptr = this.#kernel.plugbay_begin(input.length);
    if (ptr < 0) throw inputTooLarge(fn, input.length);
    if (input.length !== 0) this.#bytes().set(input, ptr);
    this.#run(f, fn);
    const b = this.#bytes();
    const out = b.readInt32LE(0);
    return Uint8Array.prototype.slice.call(b, out, out + b.readInt32LE(4));
  }

  /** Releases host resources (files the guest left open). */
  close(): void {
    this.#wasi?.close();
    this.#wasi = undefined;
    this.#http?.close();
    this.#http = undefined;
  }

  /** Bytes the kernel memory holds (grows to the largest call, then stays). */
  get kernelMemoryBytes(): number {
    return this.#kernel.memory.buffer.byteLength;
  }

  /** Bytes of the plugin's own memory. */
  get pluginMemoryBytes(): number {
    const mem = this.#exports.memory;
    return mem instanceof WebAssembly.Memory ? mem.buffer.byteLength : 0;
  }

  #fn(fn: string): Export {
    this.#calling = fn;
    if (this.#poisoned) this.#instantiate();
    const f = this.#fns.get(fn);
    if (f !== undefined) return f;
    const e = Object.hasOwn(this.#exports, fn) ? this.#exports[fn] : undefined;
    if (typeof e !== 'function' || runtimeExports.has(fn)) {
      throw unknownFunction(fn);
    }
    this.#fns.set(fn, e as Export);
    return e as Export;
  }

  #run(f: Export, fn: string): void {
    let rc: number | undefined;
    this.#overran = undefined;
    try {
      rc = f();
      this.#wasi?.flush();
      // the guest caught the throw of #overrun (catch_all) and returned: still a timeout
      if (this.#overran !== undefined) throw this.#overran;
    } catch (err) {
      this.#wasi?.flush();
      // Whatever unwound the guest (trap, refused host call, proc_exit) left its state undefined: rebuild it.
      this.#poisoned = true;
      if (!(err instanceof ProcExit && err.exitCode === 0)) throw callFailure(err, fn);
      rc = 0;
    }
    // 0: done; 1: the plugin set an error; 2: it set an output its alloc never got (plugbay_finish in kernel.wat)
    const failed = this.#kernel.plugbay_finish();
    if (failed === 2) throw outputNotAllocated(fn, this.#bytes().readInt32LE(4) >>> 0);
    if (failed !== 0 || (rc !== undefined && rc !== 0)) {
      const b = this.#bytes();
      const e = b.readInt32LE(8);
      const message = failed !== 0 ? b.toString('utf8', e, e + b.readInt32LE(12)) : undefined;
      throw pluginError(fn, message, rc ?? 0);
    }
  }

  /** Unwinds the guest: the call ran past its deadline (a metered refill, or a sleep that would). */
  #overrun(): never {
    this.#overran = new WasmFault(
      'PLUGBAY_TIMEOUT',
      `${this.#calling}: the call ran past its deadline (metered)`,
      {
        function: this.#calling,
        rule: 'deadline',
        deadline: this.deadline < this.ownDeadline ? 'caller' : 'function',
      },
    );
    throw this.#overran;
  }

  /**
   * Metered, every host (JS) function checks the deadline as it is entered: the rewrite charges a direct call to an
   * import a fixed cost, but a call_indirect's target is unknown, and one host call can cost far more than its fuel
   * (a var_set copying 1 MiB), so the fuel alone would let a loop of them run on long past the deadline.
   */
  #deadlineChecked<T extends Record<string, unknown>>(fns: T): T {
    if (this.#o.meterFuel === undefined) return fns;
    const out: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(fns)) {
      out[name] =
        typeof f !== 'function'
          ? f
          : (...args: unknown[]): unknown => {
              if (epochNow() >= this.deadline) this.#overrun();
              return (f as (...a: unknown[]) => unknown)(...args);
            };
    }
    return out as T;
  }

  #bytes(): Buffer {
    const ab = this.#kernel.memory.buffer;
    if (this.#buf.buffer !== ab) this.#buf = Buffer.from(ab);
    return this.#buf;
  }

  #instantiate(): void {
    const o = this.#o;
    this.#fns = new Map();
    this.instantiations++;
    const kernel = new WebAssembly.Instance(o.kernel, {}).exports as unknown as KernelExports;
    this.#kernel = kernel;
    this.#buf = Buffer.from(kernel.memory.buffer);
    const hostOptions: HostEnvOptions = {
      config: o.config,
      vars: this.#vars,
      maxVarBytes: o.maxVarBytes,
      logLevel: o.logLevel,
      log: o.log,
      net: o.net,
      http: () => {
        this.#http ??= new SyncHttp();
        return this.#http;
      },
      httpTimeoutMs: o.httpTimeoutMs ?? 30_000,
      ...(o.meterFuel !== undefined ? { callBudget: this.#budget } : {}),
    };
    const fuel = o.meterFuel;
    const env: Record<string, unknown> = this.#deadlineChecked(
      createHostEnv(
        {
          bytes: () => this.#bytes(),
          length: (h) => kernel.plugbay_length(h),
          alloc: (n) => kernel.plugbay_alloc(n),
        },
        hostOptions,
      ),
    );
    for (const name of kernelAbi) env[name] = kernel[name];
    // alloc grows the (unmetered) kernel memory, about a ms a page: metered, it checks the deadline too. The other
    // kernel functions stay wasm-to-wasm (a PDK's load_u8 loop must not cross into JS).
    Object.assign(env, this.#deadlineChecked({ alloc: kernel.alloc }));
    const imports: WebAssembly.Imports = { [EXTISM_ENV]: env as WebAssembly.ModuleImports };
    if (fuel !== undefined) {
      // Rarely reached (once per `fuel` units), so the clock read costs nothing per call.
      const refill = (): number => {
        if (epochNow() < this.deadline) return fuel;
        this.#overrun();
      };
      imports[METER_MODULE] = { [METER_REFILL]: refill };
    }
    this.#wasi?.close();
    this.#wasi = undefined;
    let wasi: Wasi | undefined;
    if (this.#needsWasi) {
      wasi = new Wasi({
        ...o.wasi,
        ...(fuel !== undefined ? { sleepBudget: this.#budget } : {}),
        stdout: (line) => o.log('stdout', line),
        stderr: (line) => o.log('stderr', line),
      });
      imports[WASI_P1] = this.#deadlineChecked(wasi.imports(WebAssembly.Module.imports(o.plugin)));
    }
    this.#wasi = wasi;
    const instance = new WebAssembly.Instance(o.plugin, imports);
    this.#exports = instance.exports;
    if (wasi !== undefined) wasi.bind(instance.exports.memory as WebAssembly.Memory);
    this.#poisoned = false; // only once rebuilt: a failed rebuild (a refused mount) is tried again next call
    const init = instance.exports._initialize ?? instance.exports.__wasm_call_ctors;
    if (typeof init === 'function') {
      try {
        (init as () => void)();
      } catch (err) {
        if (!(err instanceof ProcExit && err.exitCode === 0)) throw err;
      }
    }
  }
}
