/**
 * Call deadlines without a Node timer per call. Calls with the same timeout expire in the order they started, so
 * each distinct timeout keeps a FIFO list and one timer armed for its head — the idea of Node's own timer lists,
 * minus the Timeout object per call (a setTimeout/clearTimeout pair costs more than the rest of an inline call).
 */
export interface Expirable {
  expire(): void;
}

export class DeadlineEntry {
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  constructor(
    readonly deadline: number,
    readonly target: Expirable,
    readonly list: DeadlineList,
  ) {}
}

class DeadlineList {
  head: DeadlineEntry | undefined = undefined;
  tail: DeadlineEntry | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  armedFor = 0;
}

export class Deadlines {
  readonly #lists = new Map<number, DeadlineList>();

  /** Expires `target` after `timeoutMs` unless the entry is removed first. */
  add(timeoutMs: number, target: Expirable): DeadlineEntry {
    let list = this.#lists.get(timeoutMs);
    if (list === undefined) {
      list = new DeadlineList();
      this.#lists.set(timeoutMs, list);
    }
    const entry = new DeadlineEntry(Date.now() + timeoutMs, target, list);
    if (list.tail === undefined) {
      list.head = list.tail = entry;
    } else {
      entry.prev = list.tail;
      list.tail.next = entry;
      list.tail = entry;
    }
    if (list.timer === undefined) this.#arm(list);
    return entry;
  }

  remove(entry: DeadlineEntry): void {
    const list = entry.list;
    if (entry.prev === undefined && list.head !== entry) return; // already removed
    if (entry.prev) entry.prev.next = entry.next;
    else list.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else list.tail = entry.prev;
    entry.prev = entry.next = undefined;
    // The timer stays armed for a removed head: it re-arms for the new head when it fires (cheaper than re-arming here).
  }

  /** Stops every timer; pending entries never expire. */
  clear(): void {
    for (const list of this.#lists.values()) {
      if (list.timer) clearTimeout(list.timer);
      list.head = list.tail = list.timer = undefined;
    }
    this.#lists.clear();
  }

  #arm(list: DeadlineList): void {
    const head = list.head;
    if (head === undefined) {
      list.timer = undefined;
      return;
    }
    list.armedFor = head.deadline;
    list.timer = setTimeout(() => this.#fire(list), Math.max(0, head.deadline - Date.now()));
  }

  #fire(list: DeadlineList): void {
    list.timer = undefined;
    const now = Date.now();
    let head = list.head;
    while (head !== undefined && head.deadline <= now) {
      this.remove(head);
      head.target.expire();
      head = list.head;
    }
    this.#arm(list);
  }
}
