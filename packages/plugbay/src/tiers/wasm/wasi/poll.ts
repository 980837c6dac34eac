/**
 * poll_oneoff for clocks and descriptors. Descriptors are always ready (files and plugbay's stdio never block:
 * stdin is at its end, stdout and stderr take everything), so a poll with a ready descriptor returns at once;
 * otherwise the thread sleeps until the earliest clock with Atomics.wait, which blocks without spinning.
 */
import { E, WasiError } from './errno.js';
import type { FdTable } from './fd-table.js';
import type { GuestMemory } from './memory.js';
import { R } from './rights.js';

const EVENT = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 } as const;
const SUBCLOCK_ABSTIME = 1;
const SUBSCRIPTION_SIZE = 48;
const EVENT_SIZE = 32;

interface Event {
  userdata: bigint;
  error: number;
  type: number;
  nbytes: bigint;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** How long a sleep may last (a metered call's deadline): a longer one sleeps until then and calls `overrun`. */
export interface SleepBudget {
  msLeft(): number;
  overrun(): never;
}

export function pollOneoff(
  fds: FdTable,
  mem: GuestMemory,
  now: (clock: number) => bigint,
  fileSize: (fd: number) => bigint,
  inPtr: number,
  outPtr: number,
  nsubs: number,
  neventsPtr: number,
  budget?: SleepBudget,
): number {
  if (nsubs === 0) throw new WasiError(E.INVAL);
  const v = mem.view();
  const events: Event[] = [];
  const clocks: { userdata: bigint; wait: bigint }[] = [];
  for (let i = 0; i < nsubs; i++) {
    const at = inPtr + i * SUBSCRIPTION_SIZE;
    const userdata = v.getBigUint64(at, true);
    const type = v.getUint8(at + 8);
    if (type === EVENT.CLOCK) {
      const id = v.getUint32(at + 16, true);
      const timeout = v.getBigUint64(at + 24, true);
      if (id > 3) {
        events.push({ userdata, error: E.INVAL, type, nbytes: 0n });
        continue;
      }
      const wait = v.getUint16(at + 40, true) & SUBCLOCK_ABSTIME ? timeout - now(id) : timeout;
      clocks.push({ userdata, wait: wait < 0n ? 0n : wait });
    } else if (type === EVENT.FD_READ || type === EVENT.FD_WRITE) {
      events.push(fdEvent(fds, fileSize, userdata, type, v.getUint32(at + 16, true)));
    } else {
      throw new WasiError(E.INVAL);
    }
  }
  if (clocks.length > 0) {
    let earliest = clocks[0]!.wait; // bigints: no Math.min
    for (const c of clocks) if (c.wait < earliest) earliest = c.wait;
    if (events.length === 0 && earliest > 0n) {
      const ms = Number(earliest) / 1e6;
      const left = budget === undefined ? ms : budget.msLeft();
      if (ms > left) {
        Atomics.wait(sleeper, 0, 0, Math.max(0, left));
        budget!.overrun();
      }
      Atomics.wait(sleeper, 0, 0, ms);
    }
    const due = events.length === 0 ? earliest : 0n;
    for (const c of clocks) {
      if (c.wait <= due)
        events.push({ userdata: c.userdata, error: E.SUCCESS, type: EVENT.CLOCK, nbytes: 0n });
    }
  }
  for (const [i, e] of events.entries()) {
    const at = outPtr + i * EVENT_SIZE;
    for (let b = 0; b < EVENT_SIZE; b += 8) v.setBigUint64(at + b, 0n, true);
    v.setBigUint64(at, e.userdata, true);
    v.setUint16(at + 8, e.error, true);
    v.setUint8(at + 10, e.type);
    v.setBigUint64(at + 16, e.nbytes, true);
  }
  v.setUint32(neventsPtr, events.length, true);
  return E.SUCCESS;
}

function fdEvent(
  fds: FdTable,
  fileSize: (fd: number) => bigint,
  userdata: bigint,
  type: number,
  fd: number,
): Event {
  const event: Event = { userdata, type, error: E.SUCCESS, nbytes: 0n };
  try {
    const e = fds.with(fd, R.POLL_FD_READWRITE);
    const right = type === EVENT.FD_READ ? R.FD_READ : R.FD_WRITE;
    if ((e.rights.base & right) === 0n || e.kind === 'dir') event.error = E.BADF;
    else if (e.kind === 'file' && type === EVENT.FD_READ) {
      const left = fileSize(e.fd) - BigInt(e.pos);
      event.nbytes = left > 0n ? left : 0n;
    }
  } catch (err) {
    event.error = err instanceof WasiError ? err.errno : E.IO;
  }
  return event;
}
