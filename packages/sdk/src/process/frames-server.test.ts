import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { serveFrames } from './frames-server.js';
import type { PluginHandlers } from './handlers.js';
import { decodeError, encodeFrame, FrameKind, FrameReader } from './wire.js';

const text = (s: string) => new TextEncoder().encode(s);
const textOf = (b: Uint8Array) => new TextDecoder().decode(b);

/** Handlers that answer with what they were asked; `call` of "throw" throws, of "wait" waits for its abort. */
function echoHandlers(aborted: (signal: AbortSignal) => void): PluginHandlers {
  return {
    describe: () => text('described'),
    start: async (req) => text(`started ${textOf(req)}`),
    stop: async () => text('stopped'),
    health: async () => text('healthy'),
    call: (req, abort) => {
      const what = textOf(req);
      if (what === 'throw') throw new Error('sync failure');
      if (what === 'wait') {
        return new Promise((resolve) => {
          abort.signal.addEventListener('abort', () => {
            aborted(abort.signal);
            resolve(text('aborted'));
          });
        });
      }
      return text(`called ${what}`);
    },
  };
}

/** A frames server on a fresh socket and a client that collects the frames it gets, in order. */
async function connect(t: TestContext, handlers: PluginHandlers) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-frames-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await serveFrames(path.join(dir, 's.sock'), handlers, () => {});
  t.after(() => server.close());
  const socket = net.connect(path.join(dir, 's.sock'));
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const waiting: ((frame: [number, number, Uint8Array]) => void)[] = [];
  const queued: [number, number, Uint8Array][] = [];
  const reader = new FrameReader((kind, id, payload) => {
    const frame: [number, number, Uint8Array] = [kind, id, payload.slice()];
    const next = waiting.shift();
    if (next) next(frame);
    else queued.push(frame);
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  const next = () =>
    new Promise<[number, number, Uint8Array]>((resolve) => {
      const frame = queued.shift();
      if (frame) resolve(frame);
      else waiting.push(resolve);
    });
  const send = (kind: number, id: number, payload = '') => socket.write(encodeFrame(kind, id, text(payload)));
  return { socket, send, next };
}

test('every request kind gets a reply with its id and the reply bit', async (t) => {
  const { send, next } = await connect(
    t,
    echoHandlers(() => {}),
  );
  const asked: [number, string, string][] = [
    [FrameKind.describe, '', 'described'],
    [FrameKind.start, '{}', 'started {}'],
    [FrameKind.call, 'x', 'called x'],
    [FrameKind.health, '', 'healthy'],
    [FrameKind.stop, '', 'stopped'],
  ];
  for (const [i, [kind, payload, answer]] of asked.entries()) {
    send(kind, i + 1, payload);
    const [gotKind, gotId, got] = await next();
    assert.deepEqual([gotKind, gotId, textOf(got)], [kind | FrameKind.reply, i + 1, answer]);
  }
});

test('an unknown kind, or a call that throws, is a transport error for that id; the connection stays up', async (t) => {
  const { send, next } = await connect(
    t,
    echoHandlers(() => {}),
  );
  send(0x42, 7);
  const [kind, id, payload] = await next();
  assert.deepEqual([kind, id], [FrameKind.transportError, 7]);
  assert.equal(decodeError(payload).code, 'PLUGBAY_INTERNAL');
  assert.match(decodeError(payload).message, /unknown frame kind 66/);

  send(FrameKind.call, 8, 'throw');
  const [kind2, id2, payload2] = await next();
  assert.deepEqual(
    [kind2, id2, decodeError(payload2).message],
    [FrameKind.transportError, 8, 'sync failure'],
  );

  send(FrameKind.describe, 9);
  assert.deepEqual((await next()).slice(0, 2), [FrameKind.describe | FrameKind.reply, 9]);
});

test('a cancel frame aborts the signal of that call', async (t) => {
  let signal: AbortSignal | undefined;
  const { send, next } = await connect(
    t,
    echoHandlers((s) => {
      signal = s;
    }),
  );
  send(FrameKind.call, 3, 'wait');
  send(FrameKind.cancel, 3);
  const [kind, id, payload] = await next();
  assert.deepEqual([kind, id, textOf(payload)], [FrameKind.call | FrameKind.reply, 3, 'aborted']);
  assert.equal(signal?.aborted, true);
});

test('a frame with an impossible length drops the connection', async (t) => {
  const { socket } = await connect(
    t,
    echoHandlers(() => {}),
  );
  const closed = once(socket, 'close');
  socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 1]));
  await closed;
});
