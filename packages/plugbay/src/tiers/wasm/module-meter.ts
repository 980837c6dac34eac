/**
 * CPU metering written into the module binary (the `metered` run mode), so that a call in the host thread can be
 * stopped at its deadline without a worker. Modelled on wasmtime's fuel: one mutable i32 global (the fuel) is
 * decremented at every function entry and loop header (so every back-edge pays) by the cost of the straight-line
 * code that follows, and when it drops below zero the guest calls an injected import, `plugbay:meter`.`refill`.
 * The host's refill compares performance.now() with the call's deadline: past it, it throws (the guest unwinds,
 * PLUGBAY_TIMEOUT); else it returns fresh fuel. Bulk memory and table operations are charged by their size (through
 * an appended helper function); memory.grow and table.grow check the deadline each time. The common path costs a
 * global get/sub/set and a branch that is rarely taken.
 *
 * Adding an import function shifts the index of every function the module defines by one, so every place a
 * function index appears is renumbered: call and return_call, ref.func (code, global and element initialisers),
 * exports, start, element segments, and the name section (functions, locals, labels). The result is checked with
 * WebAssembly.validate.
 */
import { ModuleFormatError } from './module-binary.js';
import { concat, name, Reader, s32, sized, u32 } from './module-meter-bytes.js';

/** Module and name of the injected import. A module that imports from this module itself is refused. */
export const METER_MODULE = 'plugbay:meter';
export const METER_REFILL = 'refill';
/** Bytes of a bulk memory/table operation that cost one unit of fuel. */
const BULK_SHIFT = 6;
/**
 * What a call to an imported (host) function costs on top of its instruction: host calls take µs where an
 * instruction takes ns, so a loop of host calls still reaches a refill (a deadline check) within about a ms.
 */
const IMPORT_CALL_COST = 1000;

export interface MeterInfo {
  /** Index of the fuel global in the rewritten module. */
  fuelGlobal: number;
  /** Metering points written (function entries + loop headers). */
  points: number;
  /** Bulk operations charged by size. */
  bulkOps: number;
}

/**
 * Rewrites `bytes` so that it calls `plugbay:meter`.`refill` (type `() -> i32`: the new fuel) whenever its fuel,
 * starting at `initialFuel`, runs out. Throws ModuleFormatError on what it cannot meter.
 */
export function meterModule(bytes: Uint8Array, initialFuel: number): { bytes: Uint8Array; info: MeterInfo } {
  if (!Number.isInteger(initialFuel) || initialFuel < 1 || initialFuel > 0x7fffffff) {
    throw new RangeError(`initialFuel must be an integer in 1..2^31-1, got ${initialFuel}`);
  }
  const sections = readSections(bytes);
  const body = (id: number) => sections.find((s) => s.id === id)?.body;

  const types = countOf(body(1));
  const imports = scanImports(body(2));
  const definedFns = countOf(body(3));
  const definedGlobals = countOf(body(6));
  const refillType = types;
  const chargeType = types + 1;
  const refillFn = imports.functions; // appended last among the imports
  const chargeFn = imports.functions + 1 + definedFns; // appended last among the defined functions
  const fuel = imports.globals + definedGlobals;
  const fnIndex = (i: number) => (i >= imports.functions ? i + 1 : i);
  const info: MeterInfo = { fuelGlobal: fuel, points: 0, bulkOps: 0 };
  const ctx: BodyContext = { fnIndex, fuel, refillFn, chargeFn, importedFns: imports.functions, info };

  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  const emitted = new Set<number>();
  const emit = (id: number, content: Uint8Array) => {
    emitted.add(id);
    out.push(Uint8Array.of(id), u32(content.length), content);
  };
  /** Sections the module lacks but the rewrite needs, written where the binary order wants them. */
  const ensureBefore = (id: number) => {
    const order = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
    const rank = id === Number.POSITIVE_INFINITY ? order.length : order.indexOf(id);
    for (const [need, content] of [
      [1, () => appendVec(undefined, [funcType([], [0x7f]), funcType([0x7f], [0x7f])])],
      [2, () => appendVec(undefined, [meterImport(refillType)])],
      [3, () => appendVec(undefined, [u32(chargeType)])],
      [6, () => appendVec(undefined, [fuelGlobal(initialFuel)])],
      [10, () => appendVec(undefined, [sized(chargeBody(ctx))])],
    ] as const) {
      if (!emitted.has(need) && body(need) === undefined && order.indexOf(need) < rank) emit(need, content());
    }
  };
  for (const s of sections) {
    if (s.id === 0) {
      const custom = rewriteCustom(s.body, fnIndex);
      if (custom !== undefined) out.push(Uint8Array.of(0), u32(custom.length), custom);
      continue;
    }
    ensureBefore(s.id);
    switch (s.id) {
      case 1:
        emit(1, appendVec(s.body, [funcType([], [0x7f]), funcType([0x7f], [0x7f])]));
        break;
      case 2:
        emit(2, appendVec(s.body, [meterImport(refillType)]));
        break;
      case 3:
        emit(3, appendVec(s.body, [u32(chargeType)]));
        break;
      case 4:
        rejectTableInitialisers(s.body);
        emit(4, s.body);
        break;
      case 6:
        emit(6, appendVec(rewriteGlobals(s.body, fnIndex), [fuelGlobal(initialFuel)]));
        break;
      case 7:
        emit(7, rewriteExports(s.body, fnIndex));
        break;
      case 8:
        emit(8, u32(fnIndex(new Reader(s.body).u32())));
        break;
      case 9:
        emit(9, rewriteElements(s.body, fnIndex));
        break;
      case 10:
        emit(10, appendVec(rewriteCode(s.body, ctx), [sized(chargeBody(ctx))]));
        break;
      default:
        emit(s.id, s.body);
    }
  }
  ensureBefore(Number.POSITIVE_INFINITY);
  const result = concat(out);
  if (!WebAssembly.validate(result)) {
    throw new ModuleFormatError(
      'the metered module does not validate (a construct the meter does not know?)',
    );
  }
  return { bytes: result, info };
}

// ---- sections ----

interface Section {
  id: number;
  body: Uint8Array;
}

function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new ModuleFormatError('not a WebAssembly module (bad magic number)');
  }
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  while (!r.done()) {
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, body: r.bytes(size) });
  }
  return sections;
}

function countOf(body: Uint8Array | undefined): number {
  return body === undefined ? 0 : new Reader(body).u32();
}

/** A vec section with `extra` entries appended (the count rewritten). */
function appendVec(body: Uint8Array | undefined, extra: Uint8Array[]): Uint8Array {
  if (body === undefined) return concat([u32(extra.length), ...extra]);
  const r = new Reader(body);
  const n = r.u32();
  return concat([u32(n + extra.length), body.subarray(r.pos), ...extra]);
}

function funcType(params: number[], results: number[]): Uint8Array {
  return Uint8Array.from([0x60, params.length, ...params, results.length, ...results]);
}

function meterImport(type: number): Uint8Array {
  return concat([name(METER_MODULE), name(METER_REFILL), Uint8Array.of(0), u32(type)]);
}

function fuelGlobal(initial: number): Uint8Array {
  // (global (mut i32) (i32.const initial))
  return concat([Uint8Array.of(0x7f, 1, 0x41), s32(initial), Uint8Array.of(0x0b)]);
}

function scanImports(body: Uint8Array | undefined): { functions: number; globals: number } {
  const counts = { functions: 0, globals: 0 };
  if (body === undefined) return counts;
  const r = new Reader(body);
  for (let n = r.u32(); n > 0; n--) {
    const mod = r.name();
    const field = r.name();
    if (mod === METER_MODULE) {
      throw new ModuleFormatError(
        `the module imports ${mod}.${field}: "${METER_MODULE}" is reserved for the meter`,
      );
    }
    const kind = r.byte();
    if (kind === 0) {
      r.u32();
      counts.functions++;
    } else if (kind === 1) {
      r.refType();
      r.limits();
    } else if (kind === 2) {
      r.limits();
    } else if (kind === 3) {
      r.valType();
      r.byte();
      counts.globals++;
    } else if (kind === 4) {
      r.byte();
      r.u32();
    } else {
      throw new ModuleFormatError(`unknown import kind ${kind}`);
    }
  }
  return counts;
}

function rejectTableInitialisers(body: Uint8Array): void {
  const r = new Reader(body);
  for (let n = r.u32(); n > 0; n--) {
    if (r.peek() === 0x40)
      throw new ModuleFormatError('tables with initialiser expressions cannot be metered');
    r.refType();
    r.limits();
  }
}

function rewriteGlobals(body: Uint8Array, fnIndex: (i: number) => number): Uint8Array {
  const r = new Reader(body);
  const n = r.u32();
  const parts: Uint8Array[] = [u32(n)];
  for (let i = 0; i < n; i++) {
    const start = r.pos;
    r.valType();
    r.byte();
    parts.push(body.subarray(start, r.pos), constExpr(r, fnIndex));
  }
  return concat(parts);
}

function rewriteExports(body: Uint8Array, fnIndex: (i: number) => number): Uint8Array {
  const r = new Reader(body);
  const n = r.u32();
  const parts: Uint8Array[] = [u32(n)];
  for (let i = 0; i < n; i++) {
    const start = r.pos;
    r.name();
    const kind = r.byte();
    const end = r.pos;
    const index = r.u32();
    parts.push(body.subarray(start, end), u32(kind === 0 ? fnIndex(index) : index));
  }
  return concat(parts);
}

function rewriteElements(body: Uint8Array, fnIndex: (i: number) => number): Uint8Array {
  const r = new Reader(body);
  const n = r.u32();
  const parts: Uint8Array[] = [u32(n)];
  for (let i = 0; i < n; i++) {
    const flags = r.u32();
    if (flags > 7) throw new ModuleFormatError(`unknown element segment flags ${flags}`);
    parts.push(u32(flags));
    const start = r.pos;
    if (flags === 2 || flags === 6) r.u32(); // table index
    parts.push(body.subarray(start, r.pos));
    if ((flags & 1) === 0) parts.push(constExpr(r, fnIndex)); // active: offset
    const kindStart = r.pos;
    if ((flags & 3) !== 0) {
      if (flags & 4) r.refType();
      else r.byte(); // elemkind 0x00: funcref
    }
    parts.push(body.subarray(kindStart, r.pos));
    const count = r.u32();
    parts.push(u32(count));
    for (let j = 0; j < count; j++) {
      parts.push(flags & 4 ? constExpr(r, fnIndex) : u32(fnIndex(r.u32())));
    }
  }
  return concat(parts);
}

/** The "name" section renumbered (functions, locals, labels); other custom sections as they are. */
function rewriteCustom(body: Uint8Array, fnIndex: (i: number) => number): Uint8Array | undefined {
  const r = new Reader(body);
  const sectionName = r.name();
  // Branch hints and other code metadata point at function indices and code offsets the rewrite moved.
  if (sectionName.startsWith('metadata.code.')) return undefined;
  if (sectionName !== 'name') return body;
  try {
    const parts: Uint8Array[] = [body.subarray(0, r.pos)];
    while (!r.done()) {
      const id = r.byte();
      const sub = new Reader(r.bytes(r.u32()));
      let content: Uint8Array;
      if (id === 1) content = nameMap(sub, fnIndex);
      else if (id === 2 || id === 3) {
        const n = sub.u32();
        const inner: Uint8Array[] = [u32(n)];
        for (let i = 0; i < n; i++)
          inner.push(
            u32(fnIndex(sub.u32())),
            nameMap(sub, (x) => x),
          );
        content = concat(inner);
      } else content = sub.buf;
      parts.push(Uint8Array.of(id), u32(content.length), content);
    }
    return concat(parts);
  } catch {
    return undefined; // a malformed name section only loses names: engines ignore it too
  }
}

function nameMap(r: Reader, index: (i: number) => number): Uint8Array {
  const n = r.u32();
  const parts: Uint8Array[] = [u32(n)];
  for (let i = 0; i < n; i++) {
    const idx = r.u32();
    const start = r.pos;
    r.name();
    parts.push(u32(index(idx)), r.buf.subarray(start, r.pos));
  }
  return concat(parts);
}

/** A constant expression (up to its `end`) with ref.func renumbered. */
function constExpr(r: Reader, fnIndex: (i: number) => number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (;;) {
    const start = r.pos;
    const op = r.byte();
    if (op === 0x0b) {
      parts.push(r.buf.subarray(start, r.pos));
      return concat(parts);
    }
    if (op === 0xd2) {
      parts.push(Uint8Array.of(0xd2), u32(fnIndex(r.u32())));
      continue;
    }
    skipImmediates(r, op);
    parts.push(r.buf.subarray(start, r.pos));
  }
}

// ---- code ----

interface BodyContext {
  fnIndex(i: number): number;
  fuel: number;
  refillFn: number;
  chargeFn: number;
  /** Functions the original module imports (indices below it are host functions). */
  importedFns: number;
  info: MeterInfo;
}

function rewriteCode(body: Uint8Array, ctx: BodyContext): Uint8Array {
  const r = new Reader(body);
  const n = r.u32();
  const parts: Uint8Array[] = [u32(n)];
  for (let i = 0; i < n; i++) {
    const size = r.u32();
    parts.push(sized(meterBody(new Reader(r.bytes(size)), ctx)));
  }
  return concat(parts);
}

/**
 * One function body metered. First pass: the instructions, with the edits to make (metering points, renumbered
 * indices, bulk charges) and the cost of each metered region (the function, each loop body: its instructions
 * outside nested loops). Second pass: the edits written, each point charging its region's cost.
 */
function meterBody(r: Reader, ctx: BodyContext): Uint8Array {
  for (let groups = r.u32(); groups > 0; groups--) {
    r.u32();
    r.valType();
  }
  const codeStart = r.pos;
  type Edit = { at: number; skip: number; bytes?: Uint8Array; region?: number };
  const edits: Edit[] = [{ at: codeStart, skip: 0, region: 0 }];
  const costs = [0];
  const regions = [0]; // open metered regions, innermost last
  const control: boolean[] = [false]; // per open block: is it a loop (the function body is no loop)
  while (control.length > 0) {
    const op = r.byte();
    costs[regions[regions.length - 1]!]!++;
    switch (op) {
      case 0x02:
      case 0x04:
      case 0x06:
        r.blockType();
        control.push(false);
        break;
      case 0x1f: // try_table
        r.blockType();
        skipCatches(r);
        control.push(false);
        break;
      case 0x03: {
        r.blockType();
        control.push(true);
        const region = costs.length;
        costs.push(0);
        regions.push(region);
        edits.push({ at: r.pos, skip: 0, region });
        break;
      }
      case 0x0b:
        if (control.pop()) regions.pop();
        break;
      case 0x18: // delegate ends a try
        r.u32();
        control.pop();
        break;
      case 0x10:
      case 0x12:
      case 0xd2: {
        const at = r.pos;
        const idx = r.u32();
        edits.push({ at, skip: r.pos - at, bytes: u32(ctx.fnIndex(idx)) });
        if (op !== 0xd2 && idx < ctx.importedFns) costs[regions[regions.length - 1]!]! += IMPORT_CALL_COST;
        break;
      }
      case 0x40: {
        // memory.grow costs about a ms per page in V8 (one instruction of fuel): a deadline check before each
        edits.push({ at: r.pos - 1, skip: 0, bytes: refillNow(ctx) });
        r.u32();
        break;
      }
      case 0xfc: {
        const at = r.pos - 1;
        const sub = r.u32();
        skipFcImmediates(r, sub);
        if (sub === 15) edits.push({ at, skip: 0, bytes: refillNow(ctx) }); // table.grow: likewise
        // memory.init/copy/fill, table.init/copy/fill: the size is on top of the stack; charge it first
        if (sub === 8 || sub === 10 || sub === 11 || sub === 12 || sub === 14 || sub === 17) {
          edits.push({ at, skip: 0, bytes: concat([Uint8Array.of(0x10), u32(ctx.chargeFn)]) });
          ctx.info.bulkOps++;
        }
        break;
      }
      default:
        skipImmediates(r, op);
    }
  }
  if (!r.done()) throw new ModuleFormatError('a function body has bytes after its end');
  const parts: Uint8Array[] = [r.buf.subarray(0, codeStart)];
  let pos = codeStart;
  for (const e of edits) {
    parts.push(r.buf.subarray(pos, e.at));
    if (e.region !== undefined) {
      parts.push(chargeSnippet(ctx, Math.max(1, costs[e.region]!)));
      ctx.info.points++;
    } else parts.push(e.bytes!);
    pos = e.at + e.skip;
  }
  parts.push(r.buf.subarray(pos));
  return concat(parts);
}

/** fuel -= cost; if (fuel < 0) fuel = refill() */
function chargeSnippet(ctx: BodyContext, cost: number): Uint8Array {
  const g = u32(ctx.fuel);
  return concat([
    Uint8Array.of(0x23),
    g,
    Uint8Array.of(0x41),
    s32(cost),
    Uint8Array.of(0x6b, 0x24),
    g,
    Uint8Array.of(0x23),
    g,
    Uint8Array.of(0x41, 0x00, 0x48, 0x04, 0x40, 0x10),
    u32(ctx.refillFn),
    Uint8Array.of(0x24),
    g,
    Uint8Array.of(0x0b),
  ]);
}

/** fuel = refill(): a deadline check whatever the fuel left (stack-neutral). */
function refillNow(ctx: BodyContext): Uint8Array {
  return concat([Uint8Array.of(0x10), u32(ctx.refillFn), Uint8Array.of(0x24), u32(ctx.fuel)]);
}

/** The helper `(param $n i32) (result i32)`: charges n >> BULK_SHIFT like a snippet, returns n. */
function chargeBody(ctx: BodyContext): Uint8Array {
  const g = u32(ctx.fuel);
  return concat([
    Uint8Array.of(0x00), // no locals
    Uint8Array.of(0x23),
    g,
    Uint8Array.of(0x20, 0x00, 0x41, BULK_SHIFT, 0x76, 0x6b, 0x24),
    g,
    Uint8Array.of(0x23),
    g,
    Uint8Array.of(0x41, 0x00, 0x48, 0x04, 0x40, 0x10),
    u32(ctx.refillFn),
    Uint8Array.of(0x24),
    g,
    Uint8Array.of(0x0b, 0x20, 0x00, 0x0b),
  ]);
}

function skipCatches(r: Reader): void {
  for (let n = r.u32(); n > 0; n--) {
    const kind = r.byte();
    if (kind === 0 || kind === 1) r.u32(); // tag
    r.u32(); // label
  }
}

/** Skips the immediates of every opcode but the prefixed 0xFC ones handled by the caller's switch. */
function skipImmediates(r: Reader, op: number): void {
  if (op >= 0x28 && op <= 0x3e) {
    r.memArg();
    return;
  }
  if (op >= 0x45 && op <= 0xc4) return; // numeric
  switch (op) {
    case 0x00:
    case 0x01:
    case 0x05:
    case 0x0a:
    case 0x0b:
    case 0x0f:
    case 0x19:
    case 0x1a:
    case 0x1b:
    case 0xd1:
    case 0xd3:
    case 0xd4:
      return;
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x06:
      r.blockType();
      return;
    case 0x1f:
      r.blockType();
      skipCatches(r);
      return;
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0c:
    case 0x0d:
    case 0x10:
    case 0x12:
    case 0x14:
    case 0x15:
    case 0x18:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0x3f:
    case 0x40:
    case 0xd2:
    case 0xd5:
    case 0xd6:
      r.u32();
      return;
    case 0x0e:
      for (let n = r.u32() + 1; n > 0; n--) r.u32();
      return;
    case 0x11:
    case 0x13:
      r.u32();
      r.u32();
      return;
    case 0x1c:
      for (let n = r.u32(); n > 0; n--) r.valType();
      return;
    case 0x41:
    case 0x42:
      r.sleb();
      return;
    case 0x43:
      r.bytes(4);
      return;
    case 0x44:
      r.bytes(8);
      return;
    case 0xd0:
      r.heapType();
      return;
    case 0xfc:
      skipFcImmediates(r, r.u32());
      return;
    case 0xfd:
      skipSimd(r, r.u32());
      return;
    case 0xfe: {
      const sub = r.u32();
      if (sub === 0x03) r.byte();
      else r.memArg();
      return;
    }
    default:
      throw new ModuleFormatError(`opcode 0x${op.toString(16)} cannot be metered`);
  }
}

function skipFcImmediates(r: Reader, sub: number): void {
  if (sub <= 7) return; // saturating truncations
  if (sub === 8 || sub === 10 || sub === 12 || sub === 14) {
    r.u32();
    r.u32();
  } else if (sub <= 17) r.u32();
  else throw new ModuleFormatError(`opcode 0xfc ${sub} cannot be metered`);
}

function skipSimd(r: Reader, sub: number): void {
  if (sub <= 11 || sub === 92 || sub === 93) r.memArg();
  else if (sub === 12 || sub === 13) r.bytes(16);
  else if (sub >= 21 && sub <= 34) r.byte();
  else if (sub >= 84 && sub <= 91) {
    r.memArg();
    r.byte();
  }
}
