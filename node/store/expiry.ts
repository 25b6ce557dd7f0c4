// When keys expire: record refs in lazy per-second buckets, so the store finds due keys unscanned.

/** Refs a bucket block holds once the bucket is large; its first blocks are smaller. */
const BLOCK_REFS = 4096;

/** Seconds ahead within which buckets are one second wide; later ones are wider. */
const FINE_SECONDS = 1024;

/** A bucket's refs in blocks of 4 bytes a ref: growing it never copies what it holds. */
class Bucket {
  readonly blocks: Uint32Array[] = [];
  length = 0;
  /** Seconds the bucket's deadlines span from its start: 1, or more when they were far. */
  seconds = 1;
  #room = 0; // free slots in the last block

  push(ref: number): void {
    if (this.#room === 0) {
      const size = Math.min(BLOCK_REFS, Math.max(8, this.length));
      this.blocks.push(new Uint32Array(size));
      this.#room = size;
    }
    const last = this.blocks[this.blocks.length - 1];
    last[last.length - this.#room--] = ref;
    this.length++;
  }

  /** Calls `visit` with each ref, in the order they were added. */
  forEach(visit: (ref: number) => void): void {
    let left = this.length;
    for (const block of this.blocks) {
      const count = Math.min(block.length, left);
      for (let i = 0; i < count; i++) visit(block[i]);
      left -= count;
    }
  }
}

/** Refs and their deadlines, sorted by deadline. */
interface Run {
  refs: Uint32Array;
  at: Float64Array;
  length: number;
}

/**
 * Expiry times of records, 4 bytes per write with a TTL: each ref goes into the bucket of its
 * deadline's second, or of a wider span when the deadline is far. Refs are never removed early,
 * and may go stale as records are deleted, rewritten or their chunks reused: a bucket come due is
 * sorted by the deadlines its refs' chunks hold then (to the millisecond, in one pass, whatever
 * they are), and a ref is yielded only if `isLive` and its record still expires when it was sorted
 * for. A ref whose record now expires later is filed again. Due refs are yielded earliest first.
 *
 * @example
 * ```ts
 * import { ExpiryQueue } from "./expiry.ts";
 * const deadlines = new Map([[8, 1500], [16, 1200]]);
 * const queue = new ExpiryQueue((ref) => deadlines.get(ref) ?? 0, (ref) => deadlines.has(ref));
 * queue.add(8, 1500, 0);
 * queue.add(16, 1200, 0);
 * queue.popDue(2000); // 16
 * ```
 */
export class ExpiryQueue {
  readonly #deadlineAt: (ref: number) => number;
  readonly #isLive: (ref: number) => boolean;
  readonly #buckets = new Map<number, Bucket>(); // by the second a bucket starts
  #starts: number[] = []; // the buckets' start seconds, a min-heap
  #due: Run = emptyRun(); // refs of buckets come due, earliest first
  #next = 0; // the first of #due not yet yielded
  #size = 0;
  readonly #perMs = new Uint32Array(1001); // counts for sorting one second by milliseconds

  /**
   * `deadlineAt(ref)` reads the deadline field of whatever is at `ref`, a record or not (any
   * number, NaN included; 0 means never); `isLive(ref)` says whether a live record is at `ref`.
   */
  constructor(deadlineAt: (ref: number) => number, isLive: (ref: number) => boolean) {
    this.#deadlineAt = deadlineAt;
    this.#isLive = isLive;
  }

  /** Refs held, stale ones included. */
  get size(): number {
    return this.#size;
  }

  /** Files the record at `ref` to expire at `expiresAt` (ms), as of `now`. */
  add(ref: number, expiresAt: number, now: number): void {
    const second = Math.floor(expiresAt / 1000);
    const ahead = second - Math.floor(now / 1000);
    // Far deadlines share buckets a power of two wide, at most 1/512 of the time ahead: a few
    // hundred buckets per doubling of distance, each starting after `now`'s second.
    const seconds = ahead < FINE_SECONDS ? 1 : 2 ** Math.floor(Math.log2(ahead / 512));
    const start = second - (second % seconds);
    let bucket = this.#buckets.get(start);
    if (!bucket) {
      bucket = new Bucket();
      this.#buckets.set(start, bucket);
      pushHeap(this.#starts, start);
    }
    bucket.seconds = Math.max(bucket.seconds, seconds);
    bucket.push(ref);
    this.#size++;
  }

  /** The ref of a live record due at `now`, earliest first, or 0 when none is due. */
  popDue(now: number): number {
    if (this.#starts.length > 0 && this.#starts[0] <= Math.floor(now / 1000)) this.#drain(now);
    const due = this.#due;
    while (this.#next < due.length) {
      const ref = due.refs[this.#next];
      const at = due.at[this.#next];
      const current = this.#isLive(ref) && this.#deadlineAt(ref) === at; // else gone or rewritten
      if (current && at > now) return 0; // sorted: nothing after it is due either
      this.#next++;
      this.#size--;
      if (current) return ref;
    }
    if (due.length > 0) this.#due = emptyRun();
    this.#next = 0;
    return 0;
  }

  /** Drops stale and repeated refs, filing each live record's ref once. */
  compact(now: number): void {
    const refs = new Uint32Array(this.#size);
    let held = 0;
    for (let i = this.#next; i < this.#due.length; i++) refs[held++] = this.#due.refs[i];
    for (const bucket of this.#buckets.values()) bucket.forEach((ref) => refs[held++] = ref);
    this.clear();
    const sorted = refs.subarray(0, held).sort(); // repeats side by side
    for (let i = 0; i < sorted.length; i++) {
      const ref = sorted[i];
      if (ref === sorted[i - 1] || !this.#isLive(ref)) continue;
      const at = this.#deadlineAt(ref);
      if (at !== 0) this.add(ref, at, now);
    }
  }

  /** Forgets every ref. */
  clear(): void {
    this.#buckets.clear();
    this.#starts = [];
    this.#due = emptyRun();
    this.#next = 0;
    this.#size = 0;
  }

  /**
   * Moves the refs of every bucket come due at `now` into #due, sorted: one second's bucket at a
   * time, in order, each sorted by milliseconds; a wider bucket's refs are filed again first.
   */
  #drain(now: number): void {
    const second = Math.floor(now / 1000);
    const runs: Run[] = [];
    let total = 0;
    while (this.#starts.length > 0 && this.#starts[0] <= second) {
      const start = popHeap(this.#starts);
      const bucket = this.#buckets.get(start)!;
      this.#buckets.delete(start);
      this.#size -= bucket.length;
      // A ref whose chunk holds a deadline outside the bucket's span is stale: dropped.
      const inSpan = (at: number) =>
        at !== 0 && at >= start * 1000 && at < (start + bucket.seconds) * 1000; // 0: never
      if (bucket.seconds > 1) {
        bucket.forEach((ref) => {
          const at = this.#deadlineAt(ref);
          if (inSpan(at)) this.add(ref, at, now); // into a narrower bucket, maybe due now
        });
        continue;
      }
      const run = this.#sortSecond(bucket, start);
      runs.push(run);
      total += run.length;
    }
    const fresh = concat(runs, total); // each run later than the one before
    const left = sliceRun(this.#due, this.#next);
    this.#due = left.length === 0 ? fresh : merge(left, fresh);
    this.#next = 0;
    this.#size += total;
  }

  /** The refs of a one-second bucket, sorted by the deadline each holds, stale ones dropped. */
  #sortSecond(bucket: Bucket, start: number): Run {
    const base = start * 1000;
    const perMs = this.#perMs.fill(0);
    const refs = new Uint32Array(bucket.length);
    const at = new Float64Array(bucket.length);
    let kept = 0;
    bucket.forEach((ref) => {
      const deadline = this.#deadlineAt(ref);
      if (deadline === 0 || !(deadline >= base && deadline < base + 1000)) return; // 0: never
      refs[kept] = ref;
      at[kept++] = deadline;
      perMs[Math.floor(deadline - base) + 1]++;
    });
    for (let ms = 1; ms <= 1000; ms++) perMs[ms] += perMs[ms - 1]; // where each ms starts
    const sorted: Run = { refs: new Uint32Array(kept), at: new Float64Array(kept), length: kept };
    for (let i = 0; i < kept; i++) {
      const to = perMs[Math.floor(at[i] - base)]++;
      sorted.refs[to] = refs[i];
      sorted.at[to] = at[i];
    }
    return sortWithinMs(sorted);
  }
}

function emptyRun(): Run {
  return { refs: new Uint32Array(0), at: new Float64Array(0), length: 0 };
}

function sliceRun(run: Run, from: number): Run {
  return { refs: run.refs.subarray(from), at: run.at.subarray(from), length: run.length - from };
}

/** Runs one after another, as one run. */
function concat(runs: Run[], total: number): Run {
  if (runs.length === 1) return runs[0];
  const joined: Run = { refs: new Uint32Array(total), at: new Float64Array(total), length: total };
  let at = 0;
  for (const run of runs) {
    joined.refs.set(run.refs, at);
    joined.at.set(run.at, at);
    at += run.length;
  }
  return joined;
}

/** Two sorted runs as one: refs filed for a second already drained meet those still waiting. */
function merge(a: Run, b: Run): Run {
  const length = a.length + b.length;
  const merged: Run = { refs: new Uint32Array(length), at: new Float64Array(length), length };
  let i = 0;
  let j = 0;
  for (let k = 0; k < length; k++) {
    const fromA = j >= b.length || (i < a.length && a.at[i] <= b.at[j]);
    merged.refs[k] = fromA ? a.refs[i] : b.refs[j];
    merged.at[k] = fromA ? a.at[i++] : b.at[j++];
  }
  return merged;
}

/** Orders deadlines that share a millisecond by their fractions, if any: rare, and few. */
function sortWithinMs(run: Run): Run {
  for (let i = 1; i < run.length; i++) {
    if (run.at[i] >= run.at[i - 1]) continue;
    const ref = run.refs[i];
    const at = run.at[i];
    let j = i - 1;
    for (; j >= 0 && run.at[j] > at; j--) {
      run.refs[j + 1] = run.refs[j];
      run.at[j + 1] = run.at[j];
    }
    run.refs[j + 1] = ref;
    run.at[j + 1] = at;
  }
  return run;
}

function pushHeap(heap: number[], value: number): void {
  let i = heap.push(value) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= value) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = value;
}

function popHeap(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right] < heap[left] ? right : left;
    if (heap[child] >= last) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = last;
  return top;
}
