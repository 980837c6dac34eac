import type { CallContext } from '../../core/types.js';

/**
 * A request waiting for its answer; calls keep what it takes to send them again. Slots are reused: read what you
 * need from a slot `take()` returned before the next `add()`.
 */
export class Pending {
  id = 0;
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  fn: string | undefined = undefined;
  input: unknown = undefined;
  ctx: CallContext | undefined = undefined;
}

function noop(): void {}

/**
 * Requests in flight by id, without a Map. Ids grow one by one, so the live ones span a short window: slot
 * `id & mask` of a ring holds each, and the ring's slot objects are reused as ids advance — no allocation, no
 * rehash per call (a Map keyed by ever-growing ids reallocates its table every few dozen calls, and a table that
 * reached the old generation keeps the answers it pointed to alive through the next scavenges). An id whose slot
 * is still taken by an older request (a slow call far behind the rest) goes to a small overflow map; the ring
 * doubles when it is half full.
 */
export class PendingSlots {
  #ring: Pending[];
  #mask: number;
  /** Live requests in the ring (not counting the overflow). */
  #inRing = 0;
  readonly #overflow = new Map<number, Pending>();

  constructor(capacity = 64) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.#ring = Array.from({ length: size }, () => new Pending());
    this.#mask = size - 1;
  }

  get size(): number {
    return this.#inRing + this.#overflow.size;
  }

  /** Ring length, for tests and the warm-up (which grows it to the in-flight count it expects). */
  get capacity(): number {
    return this.#ring.length;
  }

  /** A slot for request `id` (> 0, never live already): fill its fields. */
  add(id: number): Pending {
    let slot = this.#ring[id & this.#mask]!;
    if (slot.id !== 0) {
      if (this.#inRing * 2 >= this.#ring.length) {
        this.#grow();
        slot = this.#ring[id & this.#mask]!;
      }
      if (slot.id !== 0) {
        const extra = new Pending();
        extra.id = id;
        this.#overflow.set(id, extra);
        return extra;
      }
    }
    slot.id = id;
    this.#inRing++;
    return slot;
  }

  has(id: number): boolean {
    return this.#ring[id & this.#mask]!.id === id || this.#overflow.has(id);
  }

  /**
   * Removes request `id` and returns its slot, or undefined if it is not live. Read the slot, then `release()` it
   * before the next add: a freed slot must not keep the last call's input and promise alive.
   */
  take(id: number): Pending | undefined {
    const slot = this.#ring[id & this.#mask]!;
    if (slot.id === id) {
      slot.id = 0;
      this.#inRing--;
      return slot;
    }
    const extra = this.#overflow.get(id);
    if (extra !== undefined) this.#overflow.delete(id);
    return extra;
  }

  release(slot: Pending): void {
    clear(slot);
  }

  /** Grows the ring to hold at least `inflight` requests at half load (the warm-up's buffer growth). */
  reserve(inflight: number): void {
    while (this.#ring.length < inflight * 2) this.#grow();
  }

  /** Removes and returns every live request, in id order (copies: the slots are cleared). */
  drain(): Pending[] {
    const all: Pending[] = [];
    for (const slot of this.#ring) {
      if (slot.id === 0) continue;
      all.push(Object.assign(new Pending(), slot));
      clear(slot);
    }
    all.push(...this.#overflow.values());
    this.#overflow.clear();
    this.#inRing = 0;
    return all.sort((a, b) => a.id - b.id);
  }

  #grow(): void {
    const old = this.#ring;
    const size = old.length * 2;
    const ring = Array.from({ length: size }, () => new Pending());
    const mask = size - 1;
    for (const slot of old) {
      if (slot.id !== 0) Object.assign(ring[slot.id & mask]!, slot); // ids in the old ring differ mod its size
    }
    this.#ring = ring;
    this.#mask = mask;
    // overflowed ids may fit now
    for (const [id, extra] of this.#overflow) {
      const slot = ring[id & mask]!;
      if (slot.id !== 0) continue;
      Object.assign(slot, extra);
      this.#overflow.delete(id);
      this.#inRing++;
    }
  }
}

function clear(slot: Pending): void {
  slot.id = 0;
  slot.resolve = noop;
  slot.reject = noop;
  slot.fn = undefined;
  slot.input = undefined;
  slot.ctx = undefined;
}
