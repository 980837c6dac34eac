/**
 * The plugbay.v1 protobuf messages (proto/plugbay/v1/plugin.proto) and grpc.health.v1 Check, encoded by hand so
 * that the SDK needs no protobuf library: a few flat messages of strings, bytes and varints. The host codes the
 * same messages with protobufjs from the .proto file, which keeps this file honest (tests cross-check both).
 *
 * Frames carrier: every frame is `u32 length | u8 kind | u32 call id | payload`, big-endian, where `length`
 * counts the bytes after itself. A reply has the request's kind with the high bit set and the request's id.
 */
export const FrameKind = {
  describe: 1,
  start: 2,
  call: 3,
  stop: 4,
  health: 5,
  shutdown: 6,
  /** Host → plugin: abort call `id`; no reply. */
  cancel: 7,
  /** Reply bit. */
  reply: 0x80,
  /** Plugin → host: a transport failure for request `id`; payload is an Error message. */
  transportError: 0xff,
} as const;

export const frameHeaderBytes = 9;

export interface WireErrorMessage {
  code: string;
  message: string;
  /** JSON text; '' when none. */
  details: string;
  retryable?: boolean;
}

export interface CallRequestMessage {
  function: string;
  input: Uint8Array;
  traceparent: string;
  routingKey: string;
  deadlineUnixMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A growable protobuf writer, just big enough for our messages. */
class Writer {
  buf = new Uint8Array(64);
  pos = 0;

  #grow(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(value: number): void {
    this.#grow(10);
    let v = value;
    while (v > 127) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  bytes(field: number, value: Uint8Array): void {
    if (value.length === 0) return;
    this.tag(field, 2);
    this.varint(value.length);
    this.#grow(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  string(field: number, value: string): void {
    if (value !== '') this.bytes(field, encoder.encode(value));
  }

  uint(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, 0);
    this.varint(value);
  }

  bool(field: number, value: boolean): void {
    if (value) this.uint(field, 1);
  }

  message(field: number, write: (w: Writer) => void): void {
    const inner = new Writer();
    write(inner);
    this.tag(field, 2);
    this.varint(inner.pos);
    this.#grow(inner.pos);
    this.buf.set(inner.buf.subarray(0, inner.pos), this.pos);
    this.pos += inner.pos;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Walks the fields of one message; unknown fields are skipped, as protobuf requires. */
function readFields(buf: Uint8Array, onField: (field: number, value: number | Uint8Array) => void): void {
  const cursor = new FieldCursor(buf, 0, buf.length);
  while (cursor.next()) onField(cursor.field, cursor.isVarint ? cursor.value : cursor.bytes());
}

const str = (v: number | Uint8Array): string => (typeof v === 'number' ? '' : decoder.decode(v));
const bytes = (v: number | Uint8Array): Uint8Array => (typeof v === 'number' ? new Uint8Array(0) : v);
const num = (v: number | Uint8Array): number => (typeof v === 'number' ? v : 0);

function writeError(w: Writer, e: WireErrorMessage): void {
  w.string(1, e.code);
  w.string(2, e.message);
  w.string(3, e.details);
  if (e.retryable !== undefined) {
    w.bool(4, e.retryable);
    w.bool(5, true);
  }
}

function readError(buf: Uint8Array): WireErrorMessage {
  const e: WireErrorMessage = { code: '', message: '', details: '' };
  let retryable = false;
  let hasRetryable = false;
  readFields(buf, (f, v) => {
    if (f === 1) e.code = str(v);
    else if (f === 2) e.message = str(v);
    else if (f === 3) e.details = str(v);
    else if (f === 4) retryable = num(v) !== 0;
    else if (f === 5) hasRetryable = num(v) !== 0;
  });
  if (hasRetryable) e.retryable = retryable;
  return e;
}

export const encodeError = (e: WireErrorMessage): Uint8Array => {
  const w = new Writer();
  writeError(w, e);
  return w.finish();
};
export const decodeError = readError;

export function encodeDescribeResponse(d: {
  name: string;
  version: string;
  functions: string[];
}): Uint8Array {
  const w = new Writer();
  w.string(1, d.name);
  w.string(2, d.version);
  for (const fn of d.functions) w.bytes(3, encoder.encode(fn));
  return w.finish();
}

export function decodeStartRequest(buf: Uint8Array): { config: Uint8Array } {
  let config: Uint8Array = new Uint8Array(0);
  readFields(buf, (f, v) => {
    if (f === 1) config = bytes(v);
  });
  return { config };
}

/** StartResponse, StopResponse: one optional Error in field 1. */
export function encodeErrorOnly(error: WireErrorMessage | undefined): Uint8Array {
  const w = new Writer();
  if (error !== undefined) w.message(1, (m) => writeError(m, error));
  return w.finish();
}

/** CallRequest, the plugin's hot path: one pass over the fields, no closure per call. */
export function decodeCallRequest(buf: Uint8Array): CallRequestMessage {
  const req: CallRequestMessage = {
    function: '',
    input: empty,
    traceparent: '',
    routingKey: '',
    deadlineUnixMs: 0,
  };
  const top = new FieldCursor(buf, 0, buf.length);
  while (top.next()) {
    if (top.field === 1) req.function = top.text();
    else if (top.field === 2) req.input = top.bytes();
    else if (top.field === 3) {
      const meta = new FieldCursor(buf, top.start, top.end);
      while (meta.next()) {
        if (meta.field === 1) req.traceparent = meta.text();
        else if (meta.field === 2) req.routingKey = meta.text();
        else if (meta.field === 3) req.deadlineUnixMs = meta.value;
      }
    }
  }
  return req;
}

const empty = new Uint8Array(0);

/**
 * Steps through the fields of buf[from, to): after next(), `field`, and either `value` (a varint field) or
 * [start, end) (a length-delimited one). Fixed-size fields are skipped. Malformed input throws RangeError, never
 * loops: varints are at most 10 bytes and every length is checked against the end.
 */
class FieldCursor {
  field = 0;
  isVarint = false;
  value = 0;
  start = 0;
  end = 0;
  #pos: number;

  constructor(
    readonly buf: Uint8Array,
    from: number,
    readonly to: number,
  ) {
    this.#pos = from;
  }

  next(): boolean {
    while (this.#pos < this.to) {
      const key = this.#varint();
      this.field = Math.floor(key / 8);
      const type = key % 8;
      if (type === 0) {
        this.isVarint = true;
        this.value = this.#varint();
        this.start = this.end = 0; // text() and bytes() of a varint field are empty, as with a wrong type
        return true;
      }
      if (type === 2) {
        this.isVarint = false;
        this.value = 0;
        this.start = this.#skip(this.#varint());
        this.end = this.#pos;
        return true;
      }
      if (type === 1) this.#skip(8);
      else if (type === 5) this.#skip(4);
      else throw new RangeError(`unsupported wire type ${type}`);
    }
    return false;
  }

  text(): string {
    return decoder.decode(this.buf.subarray(this.start, this.end));
  }

  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Moves past `length` bytes; returns where they start. */
  #skip(length: number): number {
    const at = this.#pos;
    if (!Number.isSafeInteger(length) || length > this.to - at) throw new RangeError('truncated field');
    this.#pos = at + length;
    return at;
  }

  #varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.to) throw new RangeError('truncated varint');
      const b = this.buf[this.#pos++] as number;
      result += (b & 127) * scale;
      if (b < 128) return result;
      scale *= 128;
    }
    throw new RangeError('varint longer than 10 bytes');
  }
}

/**
 * CallResponse. The output may come as JSON text, written straight into a pooled Buffer: on the call path a
 * TextEncoder result or a Uint8Array over 64 bytes is a fresh off-heap allocation per call, and their garbage
 * collection cost more than the rest of the frame.
 */
export function encodeCallResponse(
  output: Uint8Array | string | undefined,
  error: WireErrorMessage | undefined,
): Uint8Array {
  if (error !== undefined) {
    const w = new Writer();
    if (output !== undefined) w.bytes(1, typeof output === 'string' ? encoder.encode(output) : output);
    w.message(2, (m) => writeError(m, error));
    return w.finish();
  }
  if (output === undefined) return new Uint8Array(0);
  const length = typeof output === 'string' ? Buffer.byteLength(output) : output.length;
  if (length === 0) return new Uint8Array(0);
  const out = Buffer.allocUnsafe(1 + varintSize(length) + length);
  out[0] = 0x0a; // field 1, length-delimited
  const pos = putVarint(out, 1, length);
  if (typeof output === 'string') out.write(output, pos, 'utf8');
  else out.set(output, pos);
  return out;
}

/** CallResponse as the host reads it: the output bytes, or the plugin's error. */
export function decodeCallResponse(buf: Uint8Array): {
  output: Uint8Array;
  error: WireErrorMessage | undefined;
} {
  let output: Uint8Array = new Uint8Array(0);
  let error: WireErrorMessage | undefined;
  readFields(buf, (f, v) => {
    if (f === 1) output = bytes(v);
    else if (f === 2) error = readError(bytes(v));
  });
  return { output, error };
}

/**
 * A CallRequest as the host passes it: `input` is JSON text, or the raw bytes of a `codec: "bytes"` function;
 * `deadlineUnixMs` is truncated to whole ms (0: none).
 */
type CallRequestArgs = [
  fn: string,
  input: string | Uint8Array,
  traceparent: string,
  routingKey: string,
  deadlineUnixMs: number,
];

/** A whole Call frame (header and CallRequest) in one pooled Buffer, the host's hot path. */
export function encodeCallFrame(id: number, ...request: CallRequestArgs): Buffer {
  const frame = writeCallRequest(frameHeaderBytes, ...request);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = FrameKind.call;
  frame.writeUInt32BE(id, 5);
  return frame;
}

/** A CallRequest alone (the gRPC carrier's message), encoded as encodeCallFrame does. */
export function encodeCallRequest(...request: CallRequestArgs): Buffer {
  return writeCallRequest(0, ...request);
}

/** Writes a CallRequest after `offset` free bytes of a new pooled Buffer sized for both. */
function writeCallRequest(
  offset: number,
  ...[fn, input, traceparent, routingKey, deadlineUnixMs]: CallRequestArgs
): Buffer {
  const fnLength = Buffer.byteLength(fn);
  const inputLength = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  const tpLength = Buffer.byteLength(traceparent);
  const keyLength = Buffer.byteLength(routingKey);
  const deadline = Number.isFinite(deadlineUnixMs) && deadlineUnixMs > 0 ? Math.floor(deadlineUnixMs) : 0;
  const metadata =
    fieldSize(tpLength) + fieldSize(keyLength) + (deadline === 0 ? 0 : 1 + varintSize(deadline));
  const body = fieldSize(fnLength) + fieldSize(inputLength) + fieldSize(metadata);
  const buf = Buffer.allocUnsafe(offset + body);
  let pos = offset;
  pos = putString(buf, pos, 0x0a, fn, fnLength);
  pos =
    typeof input === 'string'
      ? putString(buf, pos, 0x12, input, inputLength)
      : putBytes(buf, pos, 0x12, input, inputLength);
  if (metadata > 0) {
    buf[pos++] = 0x1a;
    pos = putVarint(buf, pos, metadata);
    pos = putString(buf, pos, 0x0a, traceparent, tpLength);
    pos = putString(buf, pos, 0x12, routingKey, keyLength);
    if (deadline !== 0) {
      buf[pos++] = 0x18;
      putVarint(buf, pos, deadline);
    }
  }
  return buf;
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 128; v = Math.floor(v / 128)) size++;
  return size;
}

/** Bytes of a length-delimited field holding `length` bytes; 0 when empty (proto3 leaves it out). */
function fieldSize(length: number): number {
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

function putVarint(buf: Uint8Array, at: number, value: number): number {
  let pos = at;
  let v = value;
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

function putString(buf: Buffer, at: number, key: number, value: string, length: number): number {
  if (length === 0) return at;
  buf[at] = key;
  const pos = putVarint(buf, at + 1, length);
  return pos + buf.write(value, pos, length, 'utf8');
}

function putBytes(buf: Buffer, at: number, key: number, value: Uint8Array, length: number): number {
  if (length === 0) return at;
  buf[at] = key;
  const pos = putVarint(buf, at + 1, length);
  buf.set(value, pos);
  return pos + length;
}

export function decodeHealthCheckRequest(buf: Uint8Array): { service: string } {
  let service = '';
  readFields(buf, (f, v) => {
    if (f === 1) service = str(v);
  });
  return { service };
}

/** grpc.health.v1 ServingStatus. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export function encodeHealthCheckResponse(status: number): Uint8Array {
  const w = new Writer();
  w.uint(1, status);
  return w.finish();
}

/** Builds one frame: header and payload in one buffer, so that one socket write sends it. */
export function encodeFrame(kind: number, id: number, payload: Uint8Array): Uint8Array {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length); // pooled: no off-heap allocation per frame
  frame.writeUInt32BE(frameHeaderBytes - 4 + payload.length, 0);
  frame[4] = kind;
  frame.writeUInt32BE(id, 5);
  frame.set(payload, frameHeaderBytes);
  return frame;
}

/** Largest frame either side accepts; a bigger length prefix means a broken peer. */
export const maxFrameBytes = 64 * 1024 * 1024;

/**
 * Splits a byte stream into frames. Feed it socket chunks; it calls `onFrame` for every complete frame and
 * keeps the partial rest.
 */
export class FrameReader {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  readonly #onFrame: (kind: number, id: number, payload: Uint8Array) => void;

  constructor(onFrame: (kind: number, id: number, payload: Uint8Array) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Uint8Array): void {
    let buf: Uint8Array = chunk;
    if (this.#pendingBytes > 0) {
      this.#pending.push(chunk);
      buf = concat(this.#pending, this.#pendingBytes + chunk.length);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let pos = 0;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (buf.length - pos >= 4) {
      const len = view.getUint32(pos);
      if (len < frameHeaderBytes - 4 || len > maxFrameBytes) throw new RangeError(`bad frame length ${len}`);
      if (buf.length - pos - 4 < len) break;
      const kind = view.getUint8(pos + 4);
      const id = view.getUint32(pos + 5);
      this.#onFrame(kind, id, buf.subarray(pos + frameHeaderBytes, pos + 4 + len));
      pos += 4 + len;
    }
    if (pos < buf.length) {
      this.#pending.push(buf.subarray(pos));
      this.#pendingBytes = buf.length - pos;
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
