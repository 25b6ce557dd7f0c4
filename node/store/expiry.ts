// A min-heap of expiry times, so the store finds due keys without scanning every key.

/** One scheduled expiry; `ref` tells whether it still applies when it comes due. */
export interface Expiry<T> {
  at: number;
  key: string;
  ref: T;
}

/**
 * Expiry times in a binary min-heap. Records are never removed early: a record whose key was
 * rewritten or deleted is skipped when it surfaces, and {@link compact} drops such records in bulk.
 */
export class ExpiryHeap<T> {
  #heap: Expiry<T>[] = []; // heap-ordered by `at`, smallest first

  /** Records held, stale ones included. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `key` to expire at `at`. */
  push(deadline: Expiry<T>): void {
    const heap = this.#heap;
    heap.push(deadline);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].at <= heap[i].at) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  /** Removes and returns the earliest record if it is due at `now`. */
  popDue(now: number): Expiry<T> | undefined {
    const heap = this.#heap;
    if (heap.length === 0 || heap[0].at > now) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Keeps only the records for which `live` is true. */
  compact(live: (deadline: Expiry<T>) => boolean): void {
    this.#heap = this.#heap.filter(live);
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left].at < heap[smallest].at) smallest = left;
      if (right < heap.length && heap[right].at < heap[smallest].at) smallest = right;
      if (smallest === i) return;
      [heap[smallest], heap[i]] = [heap[i], heap[smallest]];
      i = smallest;
    }
  }
}
