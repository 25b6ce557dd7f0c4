// When keys expire: record refs in lazy per-second buckets, so the store finds due keys unscanned.

import { BlockPool, Bucket, type Cursor, startCursor } from "./expiry_buckets.ts";

/** Seconds ahead within which buckets are one second wide; later ones are wider. */
const FINE_SECONDS = 1024;

/** Refs a step of preparing or compacting looks at, when given more; stale refs popDue() skips. */
const STEP_REFS = 4096;

/** Seconds ahead `prepareAhead()` takes buckets apart: they are ready when they come due. */
const AHEAD_SECONDS = 2;

/** Refs a compacted bucket keeps at most for its marks to be cleared one by one, not anew. */
const UNMARK_REFS = 65_536;

/** A bucket come due, being taken apart: a wide one into narrower buckets, a one-second one
 * into its milliseconds. */
interface Taken {
  bucket: Bucket;
  start: number;
  cursor: Cursor;
}

/** The refs of one millisecond's deadlines, yielded from `cursor` on. */
interface Millisecond {
  bucket: Bucket;
  cursor: Cursor;
}

/** A pass over the buckets held when it began, dropping stale and repeated refs. */
interface Compaction {
  starts: number[];
  at: number; // the index in `starts` of the bucket being compacted
  source?: Bucket; // that bucket, as it was when its compaction began
  kept: Bucket; // its refs kept so far
  cursor: Cursor;
}

/**
 * Expiry times of records, 4 bytes per write with a TTL: each ref goes into the bucket of its
 * deadline's second, or of a wider span when the deadline is far. Refs are never removed early,
 * and may go stale as records are deleted, rewritten or their chunks reused. A bucket come due is
 * taken apart a few refs at a time (`prepare()`): a wide one filed again into narrower buckets, a
 * one-second one into a bucket per millisecond of the deadlines its refs' chunks hold then. A ref
 * is yielded only if `isLive` and its record still expires in the millisecond it was filed for;
 * one whose record now expires later was filed again by its write. Due refs are yielded
 * millisecond by millisecond, earliest first. `compact()` drops stale and repeated refs, also a
 * few at a time: no step holds the event loop for long, whatever the number of refs.
 *
 * @example
 * ```ts
 * import { ExpiryQueue } from "./expiry.ts";
 * const deadlines = new Map([[8, 1500], [16, 1200]]);
 * const queue = new ExpiryQueue((ref) => deadlines.get(ref) ?? 0, (ref) => deadlines.has(ref));
 * queue.add(8, 1500, 0);
 * queue.add(16, 1200, 0);
 * while (queue.prepare(2000));
 * queue.popDue(2000); // 16
 * ```
 */
export class ExpiryQueue {
  readonly #deadlineAt: (ref: number) => number;
  readonly #isLive: (ref: number) => boolean;
  readonly #buckets = new Map<number, Bucket>(); // by the second a bucket starts
  #starts: number[] = []; // the buckets' start seconds, a min-heap
  readonly #due = new Map<number, Millisecond>(); // taken apart, by millisecond
  #dueMs: number[] = []; // their milliseconds, a min-heap
  #head: Millisecond | undefined; // the millisecond first in #dueMs, once looked up
  #headMs = NaN;
  #taken: Taken | undefined;
  #compacting: Compaction | undefined;
  #marks = new Uint8Array(0); // a bit per ref kept by the bucket being compacted
  readonly #pool = new BlockPool();
  #size = 0;
  #keptByLastPass = 0;

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

  /** Refs held when the last compaction pass ended: repeats in overlapping buckets may stay. */
  get keptByLastPass(): number {
    return this.#keptByLastPass;
  }

  /** Whether a compaction pass is under way. */
  get compacting(): boolean {
    return this.#compacting !== undefined;
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
      bucket = new Bucket(this.#pool);
      this.#buckets.set(start, bucket);
      pushHeap(this.#starts, start);
    }
    bucket.seconds = Math.max(bucket.seconds, seconds);
    bucket.push(ref);
    this.#size++;
  }

  /**
   * The ref of a live record due at `now`, earliest first; 0 when none is, or when `prepare()`
   * has work to do first (a bucket come due, or many stale refs ahead).
   */
  popDue(now: number): number {
    if (this.#preparing(now)) return 0;
    const ref = this.#firstDue(now, STEP_REFS);
    if (ref === 0) return 0;
    const head = this.#head!;
    head.bucket.skip(head.cursor);
    this.#size--;
    return ref;
  }

  /**
   * Prepares what `popDue(now)` needs, `work` refs looked at most: buckets come due taken apart,
   * stale refs skipped. Returns false when nothing was left to do.
   */
  prepare(now: number, work = Infinity): boolean {
    if (!this.#preparing(now)) {
      const size = this.#size;
      this.#firstDue(now, work);
      return this.#size < size; // stale refs were skipped
    }
    this.#takeApartUntil(Math.floor(now / 1000), work, now, false);
    return true;
  }

  /**
   * Takes apart, `work` refs at most, buckets that come due within {@link AHEAD_SECONDS}, so that
   * `popDue()` finds them ready then: the expirer's spare time, not a write's. Returns whether it
   * did any work.
   */
  prepareAhead(now: number, work = Infinity): boolean {
    return this.#takeApartUntil(Math.floor(now / 1000) + AHEAD_SECONDS, work, now, true);
  }

  /**
   * Drops stale and repeated refs, `work` of them looked at most, bucket by bucket: one pass,
   * begun by the first call after the last pass ended. Returns whether the pass goes on.
   */
  compact(work = Infinity): boolean {
    const pass = this.#compacting ??= {
      starts: [...this.#buckets.keys()],
      at: 0,
      kept: new Bucket(this.#pool),
      cursor: startCursor(),
    };
    while (work > 0 && pass.at < pass.starts.length) {
      const start = pass.starts[pass.at];
      const bucket = this.#buckets.get(start);
      if (bucket === undefined || bucket !== pass.source) {
        // Not begun, or taken apart meanwhile: what was kept of it is let go.
        this.#unmarkAll(pass.kept);
        this.#pool.give(pass.kept);
        pass.kept = new Bucket(this.#pool);
        pass.cursor = startCursor();
        pass.source = bucket;
        if (bucket === undefined) {
          pass.at++;
          continue;
        }
      }
      const step = Math.min(work, STEP_REFS, bucket.length - pass.cursor.index);
      work -= Math.max(step, 1);
      this.#keepCurrent(bucket, start, pass, step);
      if (pass.cursor.index < bucket.length) continue;
      pass.kept.seconds = bucket.seconds;
      this.#buckets.set(start, pass.kept);
      this.#size -= bucket.length - pass.kept.length;
      this.#unmarkAll(pass.kept);
      this.#pool.give(bucket);
      pass.kept = new Bucket(this.#pool);
      pass.cursor = startCursor();
      pass.source = undefined;
      pass.at++;
    }
    if (pass.at < pass.starts.length) return true;
    this.#compacting = undefined;
    this.#marks = new Uint8Array(0);
    this.#keptByLastPass = this.#size;
    return false;
  }

  /** Forgets every ref. */
  clear(): void {
    this.#buckets.clear();
    this.#starts = [];
    this.#due.clear();
    this.#dueMs = [];
    this.#head = undefined;
    this.#headMs = NaN;
    this.#taken = undefined;
    this.#compacting = undefined;
    this.#marks = new Uint8Array(0);
    this.#size = 0;
    this.#keptByLastPass = 0;
  }

  /**
   * Whether a bucket come due at `now` must be taken apart before a ref can be yielded: one is
   * under way, or the earliest waiting is due and no millisecond taken apart comes before it.
   */
  #preparing(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (this.#taken !== undefined && this.#taken.start <= second) return true;
    const starts = this.#starts;
    if (starts.length === 0 || starts[0] > second) return false;
    return this.#dueMs.length === 0 || this.#dueMs[0] >= starts[0] * 1000;
  }

  /**
   * Takes apart, `work` refs at most, the bucket being taken apart and then those starting by
   * `second`, earliest first, each once the refs taken apart before it are yielded (or, `ahead`,
   * once none is due): millions of due refs otherwise piled up by millisecond, and slowed all.
   */
  #takeApartUntil(second: number, work: number, now: number, ahead: boolean): boolean {
    let did = false;
    while (
      work > 0 && (this.#taken !== undefined || (this.#mayTake(now, ahead) && this.#take(second)))
    ) {
      const taken = this.#taken!;
      const step = Math.min(work, STEP_REFS, taken.bucket.length - taken.cursor.index);
      work -= Math.max(step, 1);
      this.#takeApart(taken, step, now);
      did = true;
    }
    return did;
  }

  /** Whether the earliest bucket waiting may be taken apart now (see #takeApartUntil). */
  #mayTake(now: number, ahead: boolean): boolean {
    const dueMs = this.#dueMs;
    if (dueMs.length === 0 || this.#starts.length === 0) return true;
    return ahead ? dueMs[0] > now : dueMs[0] >= this.#starts[0] * 1000;
  }

  /** Takes the earliest bucket come due by `second` apart; false if there is none. */
  #take(second: number): boolean {
    if (this.#starts.length === 0 || this.#starts[0] > second) return false;
    const start = popHeap(this.#starts);
    const bucket = this.#buckets.get(start)!;
    this.#buckets.delete(start);
    this.#taken = { bucket, start, cursor: startCursor() };
    return true;
  }

  /** Files up to `work` refs of the taken bucket again, by millisecond if it spans one second. */
  #takeApart(taken: Taken, work: number, now: number): void {
    const { bucket, start, cursor } = taken;
    const wide = bucket.seconds > 1;
    bucket.read(cursor, work, (ref) => {
      const at = this.#deadlineAt(ref);
      if (!inSpan(at, start, bucket.seconds)) this.#size--; // stale
      else if (wide) {
        this.#size--;
        this.add(ref, at, now); // into a narrower bucket, maybe due now
      } else this.#fileDue(ref, Math.floor(at));
    });
    if (cursor.index < bucket.length) return;
    this.#taken = undefined;
    this.#pool.give(bucket);
  }

  #fileDue(ref: number, ms: number): void {
    let due = this.#due.get(ms);
    if (due === undefined) {
      due = { bucket: new Bucket(this.#pool), cursor: startCursor() };
      this.#due.set(ms, due);
      pushHeap(this.#dueMs, ms);
    }
    due.bucket.push(ref);
  }

  /**
   * The first live ref due at `now`, left where it is; stale ones before it are skipped, `skips`
   * of them at most. 0 when none is due, or the skips ran out.
   */
  #firstDue(now: number, skips: number): number {
    const waiting = this.#starts.length > 0 ? this.#starts[0] * 1000 : Infinity;
    while (this.#dueMs.length > 0 && this.#dueMs[0] <= now) {
      const ms = this.#dueMs[0];
      if (ms >= waiting) return 0; // a bucket come due waits to be taken apart first

      if (ms !== this.#headMs) {
        this.#head = this.#due.get(ms)!;
        this.#headMs = ms;
      }
      const { bucket, cursor } = this.#head!;
      for (let ref = bucket.peek(cursor); ref !== 0; ref = bucket.peek(cursor)) {
        const at = this.#isLive(ref) ? this.#deadlineAt(ref) : NaN;
        if (Math.floor(at) === ms) return at <= now ? ref : 0; // a fraction may wait a little
        if (skips-- === 0) return 0;
        bucket.skip(cursor); // gone, or rewritten since: filed again by its write
        this.#size--;
      }
      this.#due.delete(ms);
      this.#headMs = NaN;
      this.#pool.give(bucket);
      popHeap(this.#dueMs);
    }
    return 0;
  }

  /** Keeps up to `work` more of `bucket`'s refs that are live, in its span and not yet kept. */
  #keepCurrent(bucket: Bucket, start: number, pass: Compaction, work: number): void {
    bucket.read(pass.cursor, work, (ref) => {
      if (!this.#isLive(ref) || !inSpan(this.#deadlineAt(ref), start, bucket.seconds)) return;
      if (this.#marked(ref)) return;
      this.#mark(ref);
      pass.kept.push(ref);
    });
  }

  #marked(ref: number): boolean {
    const byte = ref >>> 3;
    return byte < this.#marks.length && (this.#marks[byte] & (1 << (ref & 7))) !== 0;
  }

  #mark(ref: number): void {
    const byte = ref >>> 3;
    if (byte >= this.#marks.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#marks.length * 2));
      grown.set(this.#marks);
      this.#marks = grown;
    }
    this.#marks[byte] |= 1 << (ref & 7);
  }

  /** Clears the marks of `bucket`'s refs: one by one for a few, else all at once, anew. */
  #unmarkAll(bucket: Bucket): void {
    if (bucket.length > UNMARK_REFS) {
      this.#marks = new Uint8Array(this.#marks.length);
      return;
    }
    bucket.read(startCursor(), bucket.length, (ref) => {
      this.#marks[ref >>> 3] &= ~(1 << (ref & 7));
    });
  }
}

/** Whether `at` is a deadline within the span of the bucket starting at second `start`. */
function inSpan(at: number, start: number, seconds: number): boolean {
  return at !== 0 && at >= start * 1000 && at < (start + seconds) * 1000; // 0: never
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
