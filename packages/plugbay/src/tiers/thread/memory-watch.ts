/**
 * The worker side of the thread tier's cap on memory that V8's resourceLimits do not count: ArrayBuffers and
 * Buffers, the isolate's external memory. The worker checks it after each batch of outputs and every 100 ms
 * while its event loop turns, and reports once when it is over `permissions.memoryMb`; the host then ends the
 * worker as out of memory. A synchronous stretch of plugin code is checked only when it yields.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

const checkEveryMs = 100;

export class MemoryWatch {
  readonly #limitBytes: number;
  readonly #over: (externalBytes: number) => void;
  readonly #timer: NodeJS.Timeout;
  #reported = false;

  /** `over` is called once, with the external bytes still held after a full garbage collection. */
  constructor(limitBytes: number, over: (externalBytes: number) => void) {
    this.#limitBytes = limitBytes;
    this.#over = over;
    this.#timer = setInterval(() => this.check(), checkEveryMs).unref();
  }

  /** Cheap (about 2 µs) unless the figure is over the limit. */
  check(): void {
    if (this.#reported || externalBytes() <= this.#limitBytes) return;
    // Dropped Buffers count until V8 collects them, which it does only every ~64 MB of new external memory:
    // collect first, so that only memory the plugin still holds ends the worker.
    collectGarbage();
    const held = externalBytes();
    if (held <= this.#limitBytes) return;
    this.#reported = true;
    clearInterval(this.#timer);
    this.#over(held);
  }
}

function externalBytes(): number {
  return v8.getHeapStatistics().external_memory;
}

let gc: (() => void) | undefined;

function collectGarbage(): void {
  if (gc === undefined) {
    // V8 gives gc() only to contexts made while --expose-gc is set: make one for this module, then unset it.
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
    v8.setFlagsFromString('--no-expose-gc');
  }
  // The second collection frees the backing stores the first one found dead (measured on Node 20).
  gc();
  gc();
}
