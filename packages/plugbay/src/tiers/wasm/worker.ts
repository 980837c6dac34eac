/**
 * Entry of the worker that runs a wasm plugin when calls need a CPU cap: the host terminates this worker when a
 * call overruns its deadline. It runs one call at a time (the host queues them) through the same Engine as the
 * host-thread mode.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WireError } from '../../core/errors.js';
import { Engine, type EngineOptions } from './engine.js';
import { callFailure, loadFailure, WasmFault } from './errors.js';

export type EngineConfig = Omit<EngineOptions, 'log'>;

/** host → worker */
export interface CallMessage {
  id: number;
  fn: string;
  /** The JSON path: a UTF-8 string in, a string out. */
  text?: string;
  bytes?: Uint8Array;
}

/** worker → host */
export type WorkerMessage =
  | { t: 'ready'; instantiations: number }
  | { t: 'init-error'; error: WireError }
  | { t: 'log'; level: string; msg: string }
  | { t: 'result'; id: number; text?: string; bytes?: Uint8Array; instantiations: number }
  | { t: 'error'; id: number; error: WireError; instantiations: number };

const port = parentPort;
if (port !== null) {
  const config = workerData as EngineConfig;
  const send = (m: WorkerMessage, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  let engine: Engine | undefined;
  try {
    engine = new Engine({ ...config, log: (level, msg) => send({ t: 'log', level, msg }) });
    send({ t: 'ready', instantiations: engine.instantiations });
  } catch (err) {
    send({ t: 'init-error', error: wireOf(loadFailure(err, 'plugin module')) });
  }
  port.on('message', (m: CallMessage) => {
    if (engine === undefined) return;
    try {
      if (m.bytes !== undefined) {
        const bytes = engine.callBytes(m.fn, m.bytes);
        send({ t: 'result', id: m.id, bytes, instantiations: engine.instantiations }, [
          bytes.buffer as ArrayBuffer,
        ]);
      } else {
        const text = engine.callString(m.fn, m.text ?? '');
        send({ t: 'result', id: m.id, text, instantiations: engine.instantiations });
      }
    } catch (err) {
      send({ t: 'error', id: m.id, error: wireOf(err), instantiations: engine.instantiations });
    }
  });
}

function wireOf(err: unknown): WireError {
  if (err instanceof WasmFault) return err.toWire();
  const coded = err as { code?: unknown; message?: unknown; details?: Record<string, unknown> };
  if (typeof coded?.code === 'string')
    return { code: coded.code, message: String(coded.message), details: coded.details };
  return callFailure(err, 'worker').toWire();
}
