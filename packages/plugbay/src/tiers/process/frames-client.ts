/**
 * The frames carrier, host side: plugbay.v1 messages (protobufjs) in length-prefixed frames over one unix socket,
 * multiplexed by call id. Frame layout (same as the SDK's): `u32 length | u8 kind | u32 id | payload`, big-endian.
 */
import net from 'node:net';
import type { Health } from '@plugbay/sdk';
import { decodeCallResponse, encodeCallFrame, FrameKind, frameHeaderBytes } from '@plugbay/sdk/process';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext } from '../../core/types.js';
import {
  type Carrier,
  type Described,
  inputJson,
  type Lost,
  noBytesFunctions,
  outputValue,
} from './carrier.js';
import { fromErrorMessage } from './errors.js';
import { type ErrorMessage, protocolTypes } from './proto.js';

export { FrameKind };

const headerBytes = frameHeaderBytes;
const maxFrameBytes = 64 * 1024 * 1024;

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

const encoder = new TextEncoder();

export async function connectFrames(
  socketPath: string,
  source: ErrorSource,
  timeoutMs: number,
): Promise<FramesCarrier> {
  const socket = net.connect(socketPath);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new PlugbayError(
          'PLUGBAY_START_FAILED',
          `could not connect to ${socketPath} within ${timeoutMs} ms`,
          source,
        ),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new PlugbayError('PLUGBAY_START_FAILED', `could not connect to ${socketPath}: ${err.message}`, {
          ...source,
          cause: err,
        }),
      );
    });
  });
  return new FramesCarrier(socket, source);
}

export class FramesCarrier implements Carrier {
  readonly kind = 'frames';
  onLost: Lost | undefined;
  bytesFunctions: ReadonlySet<string> = noBytesFunctions;
  readonly #socket: net.Socket;
  readonly #source: ErrorSource;
  readonly #pending = new Map<number, Pending>();
  readonly #types = protocolTypes();
  #nextId = 1;
  #closedWith: Error | undefined;
  #rest: Buffer | undefined;
  #corked = false;

  constructor(socket: net.Socket, source: ErrorSource) {
    this.#socket = socket;
    this.#source = source;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#onData(chunk);
      } catch (err) {
        // a frame we cannot decode: the peer is broken, so is every call on this connection
        this.#lost(PlugbayError.from(err, 'PLUGBAY_PLUGIN_CRASHED', this.#source));
      }
    });
    socket.on('error', () => {}); // 'close' follows and fails what is pending
    socket.on('close', () =>
      this.#lost(
        new PlugbayError('PLUGBAY_PLUGIN_CRASHED', 'connection to the plugin process closed', this.#source),
      ),
    );
  }

  /** The connection broke (not by destroy()): the instance hears it first and says what the calls fail with. */
  #lost(err: PlugbayError): void {
    if (this.#closedWith) return;
    this.destroy(this.onLost?.(err) ?? err);
  }

  #onData(chunk: Buffer): void {
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (len < headerBytes - 4 || len > maxFrameBytes) {
        this.#lost(
          new PlugbayError(
            'PLUGBAY_PLUGIN_CRASHED',
            `plugin sent a broken frame (length ${len})`,
            this.#source,
          ),
        );
        return;
      }
      if (buf.length - pos - 4 < len) break;
      const kind = buf[pos + 4] as number;
      const id = buf.readUInt32BE(pos + 5);
      const payload = buf.subarray(pos + headerBytes, pos + 4 + len);
      pos += 4 + len;
      const p = this.#pending.get(id);
      if (p === undefined) continue; // a reply to a call we already gave up on (cancelled, timed out)
      this.#pending.delete(id);
      if (kind === FrameKind.transportError) {
        const e = this.#types.Error.decode(payload) as unknown as ErrorMessage;
        p.reject(
          new PlugbayError('PLUGBAY_INTERNAL', `plugin transport error: ${e.message ?? ''}`, this.#source),
        );
      } else p.resolve(payload);
    }
    if (pos < buf.length) this.#rest = buf.subarray(pos);
  }

  #send(kind: number, id: number, payload: Uint8Array): void {
    const frame = Buffer.allocUnsafe(headerBytes + payload.length);
    frame.writeUInt32BE(headerBytes - 4 + payload.length, 0);
    frame[4] = kind;
    frame.writeUInt32BE(id, 5);
    frame.set(payload, headerBytes);
    this.#write(frame);
  }

  /** Frames written in one tick leave in one syscall: under load this halves the cost per call. */
  #write(frame: Uint8Array): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    this.#socket.write(frame);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  #id(): number {
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** A lifecycle request with its own timeout (calls use the host's deadline instead). */
  #request(kind: number, payload: Uint8Array, timeoutMs: number, what: string): Promise<Uint8Array> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const id = this.#id();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new PlugbayError('PLUGBAY_TIMEOUT', `${what} got no answer within ${timeoutMs} ms`, this.#source),
        );
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#send(kind, id, payload);
    });
  }

  async describe(timeoutMs: number): Promise<Described> {
    const res = await this.#request(FrameKind.describe, new Uint8Array(0), timeoutMs, 'Describe');
    const d = this.#types.DescribeResponse.decode(res) as unknown as Partial<Described>;
    return { name: d.name ?? '', version: d.version ?? '', functions: d.functions ?? [] };
  }

  async start(config: unknown, timeoutMs: number): Promise<void> {
    const req = this.#types.StartRequest.encode({
      config: config === undefined ? undefined : encoder.encode(JSON.stringify(config)),
    }).finish();
    const res = this.#types.StartResponse.decode(
      await this.#request(FrameKind.start, req, timeoutMs, 'Start'),
    ) as { error?: ErrorMessage };
    if (res.error) throw fromErrorMessage(res.error, this.#source);
  }

  /** The hot path: the frame is encoded by hand into one pooled Buffer (wire.ts says why), not by protobufjs. */
  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const id = this.#id();
    let frame: Uint8Array;
    try {
      frame = encodeCallFrame(
        id,
        fn,
        inputJson(input, this.#source, this.bytesFunctions.has(fn)),
        ctx.traceparent ?? '',
        ctx.key ?? '',
        ctx.deadline,
      );
    } catch (err) {
      return Promise.reject(err); // Instance.call rejects, never throws
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (payload) => {
          try {
            const res = decodeCallResponse(payload);
            if (res.error !== undefined) reject(fromErrorMessage(res.error, this.#source));
            else resolve(outputValue(res.output, this.#source, this.bytesFunctions.has(fn)));
          } catch (err) {
            reject(PlugbayError.from(err, 'PLUGBAY_INTERNAL', this.#source));
          }
        },
        reject,
      });
      ctx.onAbort((reason) => {
        if (!this.#pending.delete(id)) return;
        if (!this.#socket.destroyed) this.#send(FrameKind.cancel, id, new Uint8Array(0)); // the plugin aborts ctx.signal
        reject(reason);
      });
      this.#write(frame);
    });
  }

  async stop(timeoutMs: number): Promise<void> {
    const res = this.#types.StopResponse.decode(
      await this.#request(FrameKind.stop, new Uint8Array(0), timeoutMs, 'Stop'),
    ) as {
      error?: ErrorMessage;
    };
    if (res.error) throw fromErrorMessage(res.error, this.#source);
  }

  async health(timeoutMs: number): Promise<Health> {
    const req = this.#types.HealthCheckRequest.encode({ service: 'plugin' }).finish();
    const res = this.#types.HealthCheckResponse.decode(
      await this.#request(FrameKind.health, req, timeoutMs, 'Health'),
    ) as {
      status?: number;
    };
    return res.status === 1
      ? { status: 'ok' }
      : { status: 'failing', message: `health status ${res.status ?? 0}` };
  }

  async shutdown(timeoutMs: number): Promise<void> {
    await this.#request(FrameKind.shutdown, new Uint8Array(0), timeoutMs, 'Shutdown');
  }

  destroy(err: Error): void {
    if (this.#closedWith) return;
    this.#closedWith = err;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    this.#socket.destroy();
  }
}
