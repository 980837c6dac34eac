/**
 * Call deadlines without a Node timer per call. Calls with the same timeout expire in the order they started, so
 * each distinct timeout keeps a FIFO list and one timer armed for its head — the idea of Node's own timer lists,
 * minus the Timeout object per call (a setTimeout/clearTimeout pair costs more than the rest of an inline call).
 */

/** Something with a deadline; it is its own list node, so scheduling allocates nothing. */
export abstract class DeadlineEntry {
  abstract readonly deadline: number;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  list: DeadlineList | undefined = undefined;
  /** Called once when the deadline passes before the entry was removed. */
  abstract expire(): void;
}

class DeadlineList {
  head: DeadlineEntry | undefined = undefined;
  tail: DeadlineEntry | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
}

export class Deadlines {
  readonly #lists = new Map<number, DeadlineList>();

  /**
   * Expires `entry` at its deadline unless it is removed first. `timeoutMs` names its list: entries added with
   * the same timeout must have deadlines in the order they are added (now + timeoutMs does).
   */
  add(timeoutMs: number, entry: DeadlineEntry): void {
    let list = this.#lists.get(timeoutMs);
    if (list === undefined) {
      list = new DeadlineList();
      this.#lists.set(timeoutMs, list);
    }
    entry.list = list;
    if (list.tail === undefined) {
      list.head = list.tail = entry;
    } else {
      entry.prev = list.tail;
      list.tail.next = entry;
      list.tail = entry;
    }
    if (list.timer === undefined) this.#arm(list);
  }

  remove(entry: DeadlineEntry): void {
    const list = entry.list;
    if (list === undefined) return; // never added, or already removed
    if (entry.prev) entry.prev.next = entry.next;
    else list.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else list.tail = entry.prev;
    entry.prev = entry.next = entry.list = undefined;
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
    list.timer = setTimeout(() => this.#fire(list), Math.max(0, head.deadline - Date.now()));
  }

  #fire(list: DeadlineList): void {
    list.timer = undefined;
    const now = Date.now();
    let head = list.head;
    while (head !== undefined && head.deadline <= now) {
      this.remove(head);
      head.expire();
      head = list.head;
    }
    this.#arm(list);
  }
}
