// Pure parts of the protocol: the SDK's hand-written codec against protobufjs reading the .proto, the handshake
// parser, log-line parsing, option checks and the failure mapping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PlugbayError } from '../../core/errors.js';
import { inputJson, outputValue } from './carrier.js';
import { fromExit, fromGrpcStatus, GrpcStatus } from './errors.js';
import { type HandshakeMismatch, parseHandshake } from './launch.js';
import { lineSplitter, parseLogLine } from './log-lines.js';
import { resolveOptions } from './options.js';
import { protocolTypes } from './proto.js';
import { sdkServe } from './test-helpers.js';

async function sdkWire(): Promise<Record<string, unknown>> {
  // The SDK built in this checkout (its wire module sits next to serve.js).
  return (await import(new URL('wire.js', `file://${sdkServe}`).href)) as Record<string, unknown>;
}

describe('SDK codec vs protobufjs', () => {
  const t = protocolTypes();
  const enc = new TextEncoder();

  it('CallRequest encoded by the host decodes in the SDK', async () => {
    const w = (await sdkWire()) as { decodeCallRequest(b: Uint8Array): Record<string, unknown> };
    const deadline = Date.now() + 1234;
    const bytes = t.CallRequest.encode({
      function: 'résumé',
      input: enc.encode('{"a":1}'),
      metadata: { traceparent: 'tp', routingKey: 'k', deadlineUnixMs: deadline },
    }).finish();
    const r = w.decodeCallRequest(bytes);
    assert.equal(r.function, 'résumé');
    assert.equal(Buffer.from(r.input as Uint8Array).toString(), '{"a":1}');
    assert.equal(r.traceparent, 'tp');
    assert.equal(r.routingKey, 'k');
    assert.equal(r.deadlineUnixMs, deadline);
  });

  it("the host's Call frame and the SDK's response decoder agree with protobufjs", async () => {
    const w = (await sdkWire()) as {
      encodeCallFrame(id: number, fn: string, input: string, tp: string, key: string, dl: number): Uint8Array;
      encodeCallResponse(o: string | undefined, e: unknown): Uint8Array;
      decodeCallResponse(b: Uint8Array): { output: Uint8Array; error?: Record<string, unknown> };
    };
    const deadline = Date.now() + 1234.7; // host deadlines are fractional: the frame carries whole ms
    const input = JSON.stringify({ text: 'ü'.repeat(100) }); // > 127 bytes: a two-byte length varint
    const frame = Buffer.from(w.encodeCallFrame(0xfffffffe, 'echo', input, 'tp', 'clé', deadline));
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    assert.equal(frame[4], 3);
    assert.equal(frame.readUInt32BE(5), 0xfffffffe);
    const req = t.CallRequest.decode(frame.subarray(9)) as unknown as {
      function: string;
      input: Uint8Array;
      metadata: { traceparent: string; routingKey: string; deadlineUnixMs: { toNumber(): number } | number };
    };
    assert.equal(req.function, 'echo');
    assert.equal(Buffer.from(req.input).toString(), input);
    assert.equal(req.metadata.traceparent, 'tp');
    assert.equal(req.metadata.routingKey, 'clé');
    assert.equal(Number(req.metadata.deadlineUnixMs), Math.floor(deadline));
    const bare = Buffer.from(w.encodeCallFrame(1, 'f', 'null', '', '', Number.POSITIVE_INFINITY));
    assert.deepEqual(t.CallRequest.toObject(t.CallRequest.decode(bare.subarray(9))), {
      function: 'f',
      input: Buffer.from('null'),
    });
    const out = w.decodeCallResponse(t.CallResponse.encode({ output: enc.encode('[1,2]') }).finish());
    assert.equal(Buffer.from(out.output).toString(), '[1,2]');
    assert.equal(out.error, undefined);
    const failed = w.decodeCallResponse(
      t.CallResponse.encode({ error: { code: 'X', message: 'm', details: enc.encode('{}') } }).finish(),
    );
    assert.deepEqual(failed.error, { code: 'X', message: 'm', details: '{}' });
    const long = 'ß'.repeat(200);
    const decoded = t.CallResponse.decode(w.encodeCallResponse(long, undefined)) as unknown as {
      output: Uint8Array;
    };
    assert.equal(Buffer.from(decoded.output).toString(), long);
  });

  it('the SDK decoders agree with protobufjs on random messages and end on any bytes (fuzz)', async () => {
    const w = (await sdkWire()) as {
      decodeCallRequest(b: Uint8Array): Record<string, unknown>;
      decodeCallResponse(b: Uint8Array): { output: Uint8Array; error?: Record<string, unknown> };
      encodeCallRequest(fn: string, input: string, tp: string, key: string, dl: number): Uint8Array;
    };
    // Any bytes: a result or a RangeError, never a hang (a 150-byte varint once looped forever).
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const decode of [w.decodeCallRequest, w.decodeCallResponse]) {
          try {
            decode(bytes);
          } catch (err) {
            assert.ok(err instanceof RangeError, String(err));
          }
        }
      }),
      { numRuns: 3000, seed: 7 },
    );
    assert.throws(() => w.decodeCallRequest(new Uint8Array([0x0a, ...Array(150).fill(0x80), 1])), RangeError);
    // Random values, including non-ASCII text and deadlines past 2^32: protobufjs reads what the SDK wrote.
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(
      fc.property(text, text, text, text, fc.nat({ max: 2 ** 45 }), (fn, input, tp, key, deadline) => {
        const req = t.CallRequest.toObject(
          t.CallRequest.decode(w.encodeCallRequest(fn, input, tp, key, deadline)),
          {
            longs: Number,
            defaults: true,
          },
        ) as { function: string; input: Uint8Array; metadata?: Record<string, unknown> };
        assert.equal(req.function, fn);
        assert.equal(Buffer.from(req.input).toString(), input);
        assert.deepEqual(
          [
            req.metadata?.traceparent ?? '',
            req.metadata?.routingKey ?? '',
            req.metadata?.deadlineUnixMs ?? 0,
          ],
          [tp, key, deadline],
        );
        const back = w.decodeCallRequest(w.encodeCallRequest(fn, input, tp, key, deadline));
        assert.deepEqual(
          [back.function, back.traceparent, back.routingKey, back.deadlineUnixMs],
          [fn, tp, key, deadline],
        );
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it('responses encoded by the SDK decode with protobufjs', async () => {
    const w = (await sdkWire()) as {
      encodeCallResponse(o: Uint8Array | undefined, e: unknown): Uint8Array;
      encodeDescribeResponse(d: unknown): Uint8Array;
      encodeHealthCheckResponse(s: number): Uint8Array;
    };
    const ok = t.CallResponse.decode(w.encodeCallResponse(enc.encode('[1,2]'), undefined)) as {
      output?: Uint8Array;
      error?: unknown;
    };
    assert.equal(Buffer.from(ok.output as Uint8Array).toString(), '[1,2]');
    assert.ok(!ok.error);
    const bad = t.CallResponse.decode(
      w.encodeCallResponse(undefined, { code: 'X', message: 'm', details: '{"d":1}', retryable: false }),
    ) as unknown as {
      error: {
        code: string;
        message: string;
        details: Uint8Array;
        retryable: boolean;
        hasRetryable: boolean;
      };
    };
    assert.equal(bad.error.code, 'X');
    assert.equal(bad.error.message, 'm');
    assert.equal(Buffer.from(bad.error.details).toString(), '{"d":1}');
    assert.equal(bad.error.hasRetryable, true);
    assert.equal(bad.error.retryable, false);
    const d = t.DescribeResponse.decode(
      w.encodeDescribeResponse({ name: 'n', version: '1.2.3', functions: ['a', 'b'] }),
    ) as unknown as {
      functions: string[];
      version: string;
    };
    assert.deepEqual(d.functions, ['a', 'b']);
    assert.equal(d.version, '1.2.3');
    assert.equal(
      (t.HealthCheckResponse.decode(w.encodeHealthCheckResponse(2)) as unknown as { status: number }).status,
      2,
    );
  });
});

describe('call values', () => {
  const source = { plugin: 'p', version: '1.0.0' };
  const code = (work: () => unknown) => {
    try {
      work();
    } catch (err) {
      assert.ok(err instanceof PlugbayError);
      return err.code;
    }
    assert.fail('no error');
  };

  it("input JSON cannot hold is the caller's mistake; output that is not JSON is the plugin's", () => {
    assert.equal(inputJson({ a: 'é' }, source), '{"a":"é"}');
    assert.equal(inputJson(undefined, source), 'null');
    assert.equal(
      code(() => inputJson({ n: 1n }, source)),
      'PLUGBAY_INVALID_INPUT',
    );
    assert.equal(
      code(() => inputJson(() => 1, source)),
      'PLUGBAY_INVALID_INPUT',
    );
    assert.equal(
      code(() => inputJson({ toJSON: () => undefined }, source)),
      'PLUGBAY_INVALID_INPUT',
    );
    assert.deepEqual(outputValue(new TextEncoder().encode('{"a":1}'), source), { a: 1 });
    assert.equal(outputValue(new Uint8Array(0), source), undefined);
    assert.equal(
      code(() => outputValue(new TextEncoder().encode('{'), source)),
      'PLUGBAY_INVALID_OUTPUT',
    );
  });
});

describe('handshake line', () => {
  const opts = { protocolVersions: [1], protocols: ['grpc', 'frames'] };

  it('parses go-plugin and plugbay handshakes', () => {
    assert.deepEqual(parseHandshake('1|1|unix|/tmp/p.sock|grpc|', opts), {
      appVersion: 1,
      network: 'unix',
      address: '/tmp/p.sock',
      protocol: 'grpc',
    });
    assert.equal(
      (parseHandshake('1|1|unix|/tmp/p.sock|frames|', opts) as { protocol: string }).protocol,
      'frames',
    );
    // go-plugin with AutoMTLS adds a sixth field (the server cert)
    assert.equal(typeof parseHandshake('1|1|unix|/tmp/p.sock|grpc|CERT', opts), 'object');
  });

  it('rejects wrong versions and protocols with a reason; ignores lines that are no handshake', () => {
    const cases: [string, HandshakeMismatch['rule'], RegExp][] = [
      ['1|1|unix', 'handshake-fields', /3 fields/],
      ['2|1|unix|/x|grpc|', 'core-version', /core protocol version/],
      ['1|9|unix|/x|grpc|', 'protocol-version', /protocol version 9/],
      ['1|1|udp|/x|grpc|', 'network', /network/],
      ['1|1|unix||grpc|', 'address', /empty address/],
      ['1|1|unix|/x||', 'protocol', /netrpc/],
    ];
    for (const [line, rule, reason] of cases) {
      const got = parseHandshake(line, opts) as HandshakeMismatch;
      assert.equal(got.rule, rule, line);
      assert.match(got.reason, reason, line);
    }
    assert.equal(parseHandshake('hello world', opts), undefined);
    assert.equal(parseHandshake('{"json":1}', opts), undefined);
  });
});

describe('log lines', () => {
  it('parses hclog JSON, [LEVEL] text and plain lines', () => {
    assert.deepEqual(
      parseLogLine('{"@level":"warn","@message":"disk low","@timestamp":"t","free":3}', 'info'),
      {
        level: 'warn',
        msg: 'disk low',
        fields: { free: 3 },
      },
    );
    assert.deepEqual(parseLogLine('2024/01/01 10:00:00 [ERROR] boom', 'info'), {
      level: 'error',
      msg: 'boom',
    });
    assert.deepEqual(parseLogLine('[DEBUG] detail', 'info'), { level: 'debug', msg: 'detail' });
    assert.deepEqual(parseLogLine('just text', 'info'), { level: 'info', msg: 'just text' });
    assert.deepEqual(parseLogLine('{not json', 'info'), { level: 'info', msg: '{not json' });
  });

  it('splits chunks into lines and cuts overlong ones', () => {
    const lines: string[] = [];
    const push = lineSplitter((l) => lines.push(l), 8);
    push(Buffer.from('ab'));
    push(Buffer.from('c\r\nde'));
    push(Buffer.from('f\n0123456789abc\nz\n'));
    assert.deepEqual(lines, ['abc', 'def', '01234567… [cut at 8 bytes]', 'z']);
  });
});

describe('options and failure mapping', () => {
  it('checks options at once, naming the option', () => {
    const problemsOf = (options: Parameters<typeof resolveOptions>[0]): string[] => {
      try {
        resolveOptions(options);
      } catch (e) {
        assert.ok(e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT');
        return e.details?.problems as string[];
      }
      assert.fail('the options were accepted');
    };
    // Every broken rule at once, each naming its option.
    const problems = problemsOf({
      healthIntervalMs: 0,
      nodeCarrier: 'http' as 'grpc',
      sandbox: 'no' as unknown as boolean,
      restart: { initialDelayMs: -1 },
    });
    assert.equal(problems.length, 4);
    for (const name of ['healthIntervalMs', 'nodeCarrier', 'sandbox', 'restart.initialDelayMs'])
      assert.ok(
        problems.some((p) => p.startsWith(`options.${name} `)),
        `${name} in ${problems.join('; ')}`,
      );
    const o = resolveOptions();
    assert.equal(o.healthIntervalMs, 5000);
    assert.equal(o.healthTimeoutMs, 2000);
    assert.equal(o.failureThreshold, 3);
    assert.equal(o.nodeCarrier, 'frames');
  });

  it('maps gRPC status codes and exits to PLUGBAY codes', () => {
    const src = { plugin: 'p', version: '1.0.0' };
    assert.equal(fromGrpcStatus({ code: GrpcStatus.DEADLINE_EXCEEDED }, src).code, 'PLUGBAY_TIMEOUT');
    assert.equal(fromGrpcStatus({ code: GrpcStatus.UNAVAILABLE }, src).code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(fromGrpcStatus({ code: GrpcStatus.UNIMPLEMENTED }, src).code, 'PLUGBAY_UNKNOWN_FUNCTION');
    assert.equal(fromGrpcStatus({ code: GrpcStatus.CANCELLED }, src).code, 'PLUGBAY_CANCELLED');
    assert.equal(fromGrpcStatus({ code: GrpcStatus.UNKNOWN }, src).code, 'PLUGBAY_PLUGIN_ERROR');
    assert.equal(fromGrpcStatus({ code: GrpcStatus.UNKNOWN }, src).plugin, 'p');
    const oom = fromExit(
      {
        code: null,
        signal: 'SIGABRT',
        stderrTail: ['FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'],
      },
      src,
    );
    assert.equal(oom.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(oom.details?.reason, 'out-of-memory');
    assert.equal(fromExit({ code: null, signal: 'SIGKILL', stderrTail: [] }, src).details?.reason, 'signal');
    assert.equal(fromExit({ code: 3, signal: null, stderrTail: [] }, src).details?.exitCode, 3);
  });
});
