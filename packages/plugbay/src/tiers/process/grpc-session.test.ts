// The lean gRPC client (grpc-session.ts) against grpc-js's own server on a unix socket, and against bare node:http2
// servers for what a well-behaved gRPC server never sends (trailers-only by hand, HTTP errors, broken framing).
import assert from 'node:assert/strict';
import { AsyncResource } from 'node:async_hooks';
import http2 from 'node:http2';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { PlugbayError } from '../../core/errors.js';
import { GrpcStatus } from './errors.js';
import { callFailure, unary } from './grpc-client.js';
import { type CallOptions, GrpcSession, grpcTimeout, percentDecode, type Status } from './grpc-session.js';
import { tempRoot } from './test-helpers.js';

const dirs = tempRoot();
after(() => dirs.cleanup());
let sockets = 0;
const socketPath = () => path.join(dirs.root, `s${++sockets}.sock`);

const id = (b: Buffer) => b;
const method = (name: string, responseStream = false) => ({
  path: `/test.Svc/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: id,
  requestDeserialize: id,
  responseSerialize: id,
  responseDeserialize: id,
});
const service = {
  Echo: method('Echo'),
  Fail: method('Fail'),
  Hang: method('Hang'),
  Meta: method('Meta'),
  Stream: method('Stream', true),
};

type Unary = grpc.handleUnaryCall<Buffer, Buffer>;
interface Handlers {
  Echo?: Unary;
  Fail?: Unary;
  Hang?: Unary;
  Meta?: Unary;
  Stream?: grpc.handleServerStreamingCall<Buffer, Buffer>;
}

const unimplemented: Unary = (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not here' });
const echo: Unary = (call, cb) => cb(null, call.request);
const endAtOnce: grpc.handleServerStreamingCall<Buffer, Buffer> = (call) => call.end();

async function grpcServer(
  handlers: Handlers,
  options: grpc.ServerOptions = {},
): Promise<{ server: grpc.Server; path: string }> {
  const server = new grpc.Server(options);
  server.addService(service, {
    Echo: handlers.Echo ?? echo,
    Fail: handlers.Fail ?? unimplemented,
    Hang: handlers.Hang ?? unimplemented,
    Meta: handlers.Meta ?? unimplemented,
    Stream: handlers.Stream ?? endAtOnce,
  });
  const p = socketPath();
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${p}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return { server, path: p };
}

/** One unary call as a promise of its outcome (the status, or the response). */
function call(
  session: GrpcSession,
  name: string,
  request: Buffer = Buffer.from('hi'),
  opts: CallOptions = { deadline: Number.POSITIVE_INFINITY },
): Promise<{ status?: Status; response?: Buffer }> {
  return new Promise((resolve) =>
    session.unary(`/test.Svc/${name}`, request, opts, (status, response) =>
      resolve(status ? { status } : { response: response as Buffer }),
    ),
  );
}

const source = { plugin: 'p', version: '1.0.0' };

// A broken client hangs rather than fails here (a cancel that never reaches the server): bounded.
describe('grpc-session against a grpc-js server', { timeout: 60_000 }, () => {
  it('a unary call: the response, metadata and grpc-timeout reach the server', async () => {
    let seen: { key: unknown; deadline: number } | undefined;
    const { server, path: p } = await grpcServer({
      Meta: (c, cb) => {
        seen = { key: c.metadata.get('x-plugbay-key')[0], deadline: Number(c.getDeadline()) };
        cb(null, Buffer.from('ok'));
      },
    });
    const session = new GrpcSession(p);
    const before = Date.now();
    const out = await call(session, 'Meta', Buffer.from('x'), {
      deadline: before + 60_000,
      metadata: { 'x-plugbay-key': 'tenant-1' },
    });
    assert.equal(out.response?.toString(), 'ok');
    assert.equal(seen?.key, 'tenant-1');
    // grpc-timeout travelled: the server's deadline is ours, give or take the transit
    assert.ok(seen !== undefined && seen.deadline > before + 55_000 && seen.deadline <= Date.now() + 60_000);
    assert.deepEqual(
      (await call(session, 'Echo', Buffer.alloc(0))).response,
      Buffer.alloc(0),
      'empty message',
    );
    session.close();
    server.forceShutdown();
  });

  it("AsyncResource#bind is Node's own again after each request (ours is swapped in only inside it)", async () => {
    const { server, path: p } = await grpcServer({});
    const session = new GrpcSession(p);
    const nodeBind = AsyncResource.prototype.bind;
    const outs = await Promise.all([call(session, 'Echo'), call(session, 'Echo')]);
    assert.deepEqual(
      outs.map((o) => o.response?.toString()),
      ['hi', 'hi'],
    );
    assert.equal(AsyncResource.prototype.bind, nodeBind);
    assert.ok(
      'asyncResource' in new AsyncResource('x').bind(() => {}),
      'other binds keep the documented shape',
    );
    session.close();
    server.forceShutdown();
  });

  it('status codes and messages come through, non-ASCII and percent signs intact; PLUGBAY codes by the table', async () => {
    const details = 'clé « introuvable » ✓ 100% 日本';
    const codes = [
      [grpc.status.NOT_FOUND, 'PLUGBAY_PLUGIN_ERROR'],
      [grpc.status.INVALID_ARGUMENT, 'PLUGBAY_INVALID_INPUT'],
      [grpc.status.PERMISSION_DENIED, 'PLUGBAY_PERMISSION_DENIED'],
      [grpc.status.UNIMPLEMENTED, 'PLUGBAY_UNKNOWN_FUNCTION'],
      [grpc.status.DEADLINE_EXCEEDED, 'PLUGBAY_TIMEOUT'],
      [grpc.status.UNAVAILABLE, 'PLUGBAY_PLUGIN_CRASHED'],
    ] as const;
    let next = 0;
    const { server, path: p } = await grpcServer({
      Fail: (_c, cb) => cb({ code: codes[next++]?.[0] ?? grpc.status.UNKNOWN, details }),
    });
    const session = new GrpcSession(p);
    for (const [code, plugbay] of codes) {
      const out = await call(session, 'Fail');
      assert.deepEqual(out.status, { code, details });
      const err = callFailure(out.status as Status, source, undefined);
      assert.ok(err instanceof PlugbayError);
      assert.equal(err.code, plugbay);
      assert.equal(err.message, details);
    }
    session.close();
    server.forceShutdown();
  });

  it('a deadline that passes: DEADLINE_EXCEEDED (PLUGBAY_TIMEOUT), and the server sees the call cancelled', async () => {
    let cancelled!: () => void;
    const serverSaw = new Promise<void>((resolve) => {
      cancelled = resolve;
    });
    const { server, path: p } = await grpcServer({ Hang: (c) => c.on('cancelled', () => cancelled()) });
    const session = new GrpcSession(p);
    const out = await call(session, 'Hang', undefined, { deadline: Date.now() + 50, timer: true });
    assert.equal(out.status?.code, GrpcStatus.DEADLINE_EXCEEDED);
    await serverSaw;
    // the same through unary(), as health and Shutdown use it
    const err = await unary(session, '/test.Svc/Hang', id, id, Buffer.from('x'), {
      deadline: Date.now() + 50,
      source,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_TIMEOUT');
    session.close();
    server.forceShutdown();
  });

  it('cancel() resets the stream: the server sees the call cancelled, the callback never runs', async () => {
    let arrived!: () => void;
    let cancelled!: () => void;
    const inServer = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const serverSaw = new Promise<void>((resolve) => {
      cancelled = resolve;
    });
    const { server, path: p } = await grpcServer({
      Hang: (c) => {
        c.on('cancelled', () => cancelled());
        arrived();
      },
    });
    const session = new GrpcSession(p);
    let answered = false;
    const handle = session.unary('/test.Svc/Hang', Buffer.from('x'), { deadline: Infinity }, () => {
      answered = true;
    });
    await inServer;
    handle.cancel();
    await serverSaw;
    // the connection serves on, and the cancelled call never answered
    assert.equal((await call(session, 'Echo')).response?.toString(), 'hi');
    assert.equal(answered, false);
    session.close();
    server.forceShutdown();
  });

  it('8 MiB both ways: past the 64 KiB default window and our 4 MiB stream window', async () => {
    const size = 8 * 1024 * 1024;
    const { server, path: p } = await grpcServer(
      { Echo: (c, cb) => cb(null, Buffer.concat([c.request, c.request])) },
      {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
      },
    );
    const session = new GrpcSession(p);
    const big = Buffer.alloc(size / 2);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
    const [a, b] = await Promise.all([call(session, 'Echo', big), call(session, 'Echo', big.subarray(1))]);
    assert.equal(a.response?.length, size);
    assert.ok(a.response?.equals(Buffer.concat([big, big])));
    assert.ok(b.response?.equals(Buffer.concat([big.subarray(1), big.subarray(1)])));
    session.close();
    server.forceShutdown();
  });

  it('100 concurrent calls on one connection, each answered with its own response', async () => {
    const waiting: (() => void)[] = [];
    const { server, path: p } = await grpcServer({
      // nobody is answered until all 100 are in the server at once
      Echo: (c, cb) => {
        waiting.push(() => cb(null, c.request));
        if (waiting.length === 100) for (const answer of waiting) answer();
      },
    });
    const session = new GrpcSession(p);
    const outs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => call(session, 'Echo', Buffer.from(`call ${i}`))),
    );
    assert.deepEqual(
      outs.map((o) => o.response?.toString()),
      Array.from({ length: 100 }, (_, i) => `call ${i}`),
    );
    assert.equal(session.connectionsOpened, 1);
    session.close();
    server.forceShutdown();
  });

  it('the server going away: a hard shutdown fails the call in flight UNAVAILABLE (the lost path)', async () => {
    let arrived!: () => void;
    const inServer = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const { server, path: p } = await grpcServer({ Hang: () => arrived() });
    const session = new GrpcSession(p);
    const pending = call(session, 'Hang');
    await inServer;
    server.forceShutdown();
    const out = await pending;
    assert.equal(out.status?.code, GrpcStatus.UNAVAILABLE);
    const lost: PlugbayError[] = [];
    const err = callFailure(out.status as Status, source, (e) => {
      lost.push(e);
      return e;
    });
    assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(lost.length, 1, 'the carrier hears the connection is lost');
    // nobody listens any more: new calls fail UNAVAILABLE too
    assert.equal((await call(session, 'Echo')).status?.code, GrpcStatus.UNAVAILABLE);
    session.close();
  });

  it('GOAWAY: the call in flight completes, the next call opens a new connection to whoever listens now', async () => {
    let answer!: () => void;
    let arrived!: () => void;
    const inServer = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const first = await grpcServer({
      Hang: (c, cb) => {
        answer = () => cb(null, c.request);
        arrived();
      },
    });
    const session = new GrpcSession(first.path);
    const pending = call(session, 'Hang', Buffer.from('finished'));
    await inServer;
    const shutDown = new Promise<void>((resolve) => first.server.tryShutdown(() => resolve()));
    answer();
    assert.equal((await pending).response?.toString(), 'finished');
    await shutDown;
    // nothing listens: UNAVAILABLE; then a new server on the same path is reached on a new connection
    assert.equal((await call(session, 'Echo')).status?.code, GrpcStatus.UNAVAILABLE);
    const second = new grpc.Server();
    second.addService(service, { Echo: echo });
    await new Promise<void>((resolve, reject) =>
      second.bindAsync(`unix:${first.path}`, grpc.ServerCredentials.createInsecure(), (e) =>
        e ? reject(e) : resolve(),
      ),
    );
    assert.equal((await call(session, 'Echo', Buffer.from('again'))).response?.toString(), 'again');
    assert.ok(session.connectionsOpened >= 2);
    session.close();
    second.forceShutdown();
  });

  it('a server stream: messages in order, then the status; UNIMPLEMENTED when the server has no such method', async () => {
    const { server, path: p } = await grpcServer({
      Stream: (c) => {
        for (let i = 0; i < 5; i++) c.write(Buffer.from(`m${i}`));
        c.write(Buffer.alloc(100_000, 1)); // a message over several DATA frames
        c.end();
      },
    });
    const session = new GrpcSession(p);
    const got: string[] = [];
    const status = await new Promise<Status | undefined>((resolve) =>
      session.serverStream(
        '/test.Svc/Stream',
        Buffer.alloc(0),
        { deadline: Infinity },
        (m) => got.push(m.length > 10 ? `big ${m.length}` : m.toString()),
        resolve,
      ),
    );
    assert.equal(status, undefined);
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4', 'big 100000']);
    const missing = await new Promise<Status | undefined>((resolve) =>
      session.serverStream('/test.Svc/Nope', Buffer.alloc(0), { deadline: Infinity }, () => {}, resolve),
    );
    assert.equal(missing?.code, GrpcStatus.UNIMPLEMENTED);
    session.close();
    server.forceShutdown();
  });

  it('a header value Node refuses fails that call INTERNAL; the connection serves on', async () => {
    const { server, path: p } = await grpcServer({});
    const session = new GrpcSession(p);
    assert.equal((await call(session, 'Echo')).response?.toString(), 'hi');
    const bad = await call(session, 'Echo', undefined, {
      deadline: Number.POSITIVE_INFINITY,
      metadata: { connection: 'close' }, // a connection-specific header, refused in HTTP/2
    });
    assert.equal(bad.status?.code, GrpcStatus.INTERNAL);
    assert.equal((await call(session, 'Echo')).response?.toString(), 'hi');
    assert.equal(session.connectionsOpened, 1);
    session.close();
    server.forceShutdown();
  });

  it('close(): calls in flight and new calls fail UNAVAILABLE; a socket nobody listens on too', async () => {
    const { server, path: p } = await grpcServer({ Hang: () => {} });
    const session = new GrpcSession(p);
    assert.equal((await call(session, 'Echo')).response?.toString(), 'hi');
    const pending = call(session, 'Hang');
    session.close();
    assert.equal((await pending).status?.code, GrpcStatus.UNAVAILABLE);
    assert.equal((await call(session, 'Echo')).status?.code, GrpcStatus.UNAVAILABLE);
    server.forceShutdown();
    const nobody = new GrpcSession(path.join(dirs.root, 'nobody.sock'));
    assert.equal((await call(nobody, 'Echo')).status?.code, GrpcStatus.UNAVAILABLE);
    nobody.close();
  });
});

/** A bare HTTP/2 server answering every stream with `answer`: what a broken or foreign server sends. */
async function h2Server(
  answer: (stream: http2.ServerHttp2Stream) => void,
): Promise<{ path: string; close: () => void }> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    answer(stream);
  });
  const p = socketPath();
  await new Promise<void>((resolve) => server.listen(p, resolve));
  return { path: p, close: () => server.close() };
}

describe('grpc-session against servers that break the rules', { timeout: 60_000 }, () => {
  const framed = (...messages: Buffer[]) =>
    Buffer.concat(
      messages.flatMap((m) => {
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(m.length, 1);
        return [prefix, m];
      }),
    );

  const cases: [string, (s: http2.ServerHttp2Stream) => void, number, RegExp][] = [
    [
      'trailers-only (status in the headers)',
      (s) =>
        s.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc',
            'grpc-status': '7',
            'grpc-message': 'non%20%C3%A9',
          },
          { endStream: true },
        ),
      GrpcStatus.PERMISSION_DENIED,
      /^non é$/,
    ],
    [
      'HTTP 503 without grpc-status',
      (s) => s.respond({ ':status': 503 }, { endStream: true }),
      GrpcStatus.UNAVAILABLE,
      /HTTP 503/,
    ],
    [
      'HTTP 404 without grpc-status',
      (s) => s.respond({ ':status': 404 }, { endStream: true }),
      GrpcStatus.UNIMPLEMENTED,
      /HTTP 404/,
    ],
    [
      'a compressed message nobody negotiated',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/grpc' });
        const body = framed(Buffer.from('x'));
        body[0] = 1;
        s.write(body);
      },
      GrpcStatus.INTERNAL,
      /compressed/,
    ],
    [
      'a message length over 64 MiB',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/grpc' });
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(64 * 1024 * 1024 + 1, 1);
        s.write(prefix);
      },
      GrpcStatus.RESOURCE_EXHAUSTED,
      /over the limit/,
    ],
    [
      'two messages for a unary call',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
        s.end(framed(Buffer.from('a'), Buffer.from('b')));
      },
      GrpcStatus.INTERNAL,
      /more than one/,
    ],
    [
      'OK without a message',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
        s.end();
      },
      GrpcStatus.INTERNAL,
      /without a response message/,
    ],
    [
      'a reset with no status',
      (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM),
      GrpcStatus.UNAVAILABLE,
      /refused/,
    ],
  ];
  for (const [name, answer, code, details] of cases) {
    it(name, async () => {
      const server = await h2Server(answer);
      const session = new GrpcSession(server.path);
      const out = await call(session, 'X');
      assert.equal(out.status?.code, code, JSON.stringify(out.status));
      assert.match(out.status?.details ?? '', details);
      session.close();
      server.close();
    });
  }

  it('grpc-timeout stays within 8 digits; a malformed grpc-message is shown as it came', () => {
    assert.equal(grpcTimeout(0.2), '1m');
    assert.equal(grpcTimeout(1500), '1500m');
    assert.equal(grpcTimeout(99_999_999), '99999999m');
    assert.equal(grpcTimeout(100_000_000), '100000S');
    assert.equal(grpcTimeout(1e15), '99999999S');
    assert.equal(percentDecode('50%25 done'), '50% done');
    assert.equal(percentDecode('bad %E2%82 and %zz'), 'bad %E2%82 and %zz');
  });
});
