import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeCallRequest,
  decodeCallResponse,
  decodeError,
  encodeCallFrame,
  encodeCallRequest,
  encodeCallResponse,
  encodeError,
  encodeFrame,
  FrameKind,
  FrameReader,
  frameHeaderBytes,
  maxFrameBytes,
} from './wire.js';

type Frame = [kind: number, id: number, payload: string];

/** A FrameReader that copies every frame it is given (payloads are views into its buffers). */
function reader() {
  const frames: Frame[] = [];
  const r = new FrameReader((kind, id, payload) =>
    frames.push([kind, id, Buffer.from(payload).toString('utf8')]),
  );
  return { frames, push: (chunk: Uint8Array) => r.push(chunk) };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('frames', () => {
  it('a frame is u32 length | u8 kind | u32 id | payload, big-endian; the length counts what follows it', () => {
    const frame = encodeFrame(FrameKind.call | FrameKind.reply, 0xdeadbeef, text('hi'));
    assert.deepEqual([...frame], [0, 0, 0, 7, 0x83, 0xde, 0xad, 0xbe, 0xef, ...text('hi')]);
    assert.equal(frame.length, frameHeaderBytes + 2);
  });

  it('FrameReader gives back every frame, whether chunks hold several, one, or a byte of one', () => {
    const sent: Frame[] = [
      [FrameKind.describe, 1, ''],
      [FrameKind.call, 2, 'héllo wörld'],
      [FrameKind.health | FrameKind.reply, 3, 'x'.repeat(300)],
    ];
    const stream = Buffer.concat(sent.map(([k, id, p]) => encodeFrame(k, id, text(p))));

    const whole = reader();
    whole.push(stream);
    assert.deepEqual(whole.frames, sent);

    const bytes = reader();
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
    assert.deepEqual(bytes.frames, sent);

    // Cut inside the length prefix, then inside a payload.
    const odd = reader();
    for (const [from, to] of [
      [0, 2],
      [2, 15],
      [15, 40],
      [40, stream.length],
    ] as const) {
      odd.push(stream.subarray(from, to));
    }
    assert.deepEqual(odd.frames, sent);
  });

  it('a partial frame waits for its rest and is not delivered early', () => {
    const r = reader();
    const frame = encodeFrame(FrameKind.start, 9, text('config'));
    r.push(frame.subarray(0, frame.length - 1));
    assert.deepEqual(r.frames, []);
    r.push(frame.subarray(frame.length - 1));
    assert.deepEqual(r.frames, [[FrameKind.start, 9, 'config']]);
  });

  it('a length over maxFrameBytes, or too short for a header, is a broken peer: RangeError', () => {
    const header = (length: number) => {
      const b = Buffer.alloc(frameHeaderBytes);
      b.writeUInt32BE(length, 0);
      return b;
    };
    assert.throws(() => reader().push(header(maxFrameBytes + 1)), RangeError);
    assert.throws(() => reader().push(header(frameHeaderBytes - 5)), RangeError);
    assert.doesNotThrow(() => reader().push(header(maxFrameBytes)), 'the largest length is allowed');
  });
});

describe('messages', () => {
  it('encodeCallFrame is a call frame whose payload decodes to the request; deadlines are whole ms', () => {
    const r = new FrameReader((kind, id, payload) => {
      assert.deepEqual([kind, id], [FrameKind.call, 77]);
      const req = decodeCallRequest(payload);
      assert.deepEqual(
        { ...req, input: new TextDecoder().decode(req.input) },
        {
          function: 'grüß',
          input: '{"name":"Ada ✓"}',
          traceparent: 'tp',
          routingKey: 'tenant',
          deadlineUnixMs: 1_700_000_000_123,
        },
      );
      seen++;
    });
    let seen = 0;
    r.push(encodeCallFrame(77, 'grüß', '{"name":"Ada ✓"}', 'tp', 'tenant', 1_700_000_000_123.9));
    assert.equal(seen, 1);
  });

  it('encodeCallRequest leaves empty fields and a missing deadline out', () => {
    assert.deepEqual([...encodeCallRequest('f', '', '', '', 0)], [0x0a, 1, 0x66]);
    for (const deadline of [0, -1, Number.POSITIVE_INFINITY, Number.NaN]) {
      assert.equal(decodeCallRequest(encodeCallRequest('f', '{}', '', 'k', deadline)).deadlineUnixMs, 0);
    }
  });

  it('a CallResponse carries the output as text or bytes, or an error with retryable only when set', () => {
    assert.equal(
      new TextDecoder().decode(decodeCallResponse(encodeCallResponse('"ok"', undefined)).output),
      '"ok"',
    );
    assert.deepEqual(
      [...decodeCallResponse(encodeCallResponse(new Uint8Array([1, 2]), undefined)).output],
      [1, 2],
    );
    assert.deepEqual(decodeCallResponse(encodeCallResponse(undefined, undefined)), {
      output: new Uint8Array(0),
      error: undefined,
    });
    const error = { code: 'PLUGBAY_TIMEOUT', message: 'slow', details: '{"ms":5}', retryable: false };
    assert.deepEqual(decodeCallResponse(encodeCallResponse(undefined, error)).error, error);
    assert.deepEqual(decodeError(encodeError({ code: 'E', message: 'm', details: '' })), {
      code: 'E',
      message: 'm',
      details: '',
    });
  });

  it('unknown fields are skipped; truncated input is a RangeError, never a loop', () => {
    const known = encodeCallRequest('f', '{}', '', '', 0);
    // field 9 as fixed64 and field 10 as fixed32, which no message of ours uses
    const extra = Buffer.from([0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x55, 1, 2, 3, 4]);
    assert.equal(decodeCallRequest(Buffer.concat([extra, known])).function, 'f');
    assert.throws(() => decodeCallRequest(known.subarray(0, known.length - 1)), RangeError);
    assert.throws(() => decodeCallRequest(new Uint8Array([0x0a, 0x80])), RangeError);
    assert.throws(() => decodeCallRequest(new Uint8Array([0x0b])), RangeError, 'wire type 3');
  });
});
