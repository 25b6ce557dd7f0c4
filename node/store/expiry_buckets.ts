// The expiry queue's buckets: refs in blocks, read a few at a time from where a reading stands.

/** Refs a bucket block holds once the bucket is large; its first blocks are smaller. */
const BLOCK_REFS = 4096;

/** Where a reading of a bucket stands: the next ref is `blocks[block][offset]`, the `index`th. */
export interface Cursor {
  block: number;
  offset: number;
  index: number;
}

/** A cursor at a bucket's first ref. */
export function startCursor(): Cursor {
  return { block: 0, offset: 0, index: 0 };
}

/** Refs pooled at most, in blocks given back, for buckets to take before allocating. */
const POOLED_REFS = 1 << 20;

/**
 * Blocks of buckets let go, kept for new buckets: allocating typed arrays by the thousand (a
 * second's deadlines taken apart by millisecond) held the event loop for tens of milliseconds.
 */
export class BlockPool {
  readonly #free = new Map<number, Uint32Array[]>(); // by size
  #refs = 0;

  /** A block of `size` refs, maybe one given back (its contents are not cleared). */
  take(size: number): Uint32Array {
    const block = this.#free.get(size)?.pop();
    if (block === undefined) return new Uint32Array(size);
    this.#refs -= size;
    return block;
  }

  /** Keeps `bucket`'s blocks for later buckets, up to the pool's bound; the bucket is let go. */
  give(bucket: Bucket): void {
    for (const block of bucket.blocks) {
      if (this.#refs + block.length > POOLED_REFS) return;
      let free = this.#free.get(block.length);
      if (free === undefined) this.#free.set(block.length, free = []);
      free.push(block);
      this.#refs += block.length;
    }
  }
}

/** A bucket's refs in blocks of 4 bytes a ref: growing it never copies what it holds. */
export class Bucket {
  readonly blocks: Uint32Array[] = [];
  length = 0;
  /** Seconds the bucket's deadlines span from its start: 1, or more when they were far. */
  seconds = 1;
  readonly #pool: BlockPool;
  #room = 0; // free slots in the last block

  constructor(pool: BlockPool) {
    this.#pool = pool;
  }

  push(ref: number): void {
    if (this.#room === 0) {
      const size = Math.min(BLOCK_REFS, Math.max(8, this.length));
      this.blocks.push(this.#pool.take(size));
      this.#room = size;
    }
    const last = this.blocks[this.blocks.length - 1];
    last[last.length - this.#room--] = ref;
    this.length++;
  }

  /** The ref at `cursor`, or 0 past the last. */
  peek(cursor: Cursor): number {
    return cursor.index < this.length ? this.blocks[cursor.block][cursor.offset] : 0;
  }

  /** Moves `cursor` past the ref it is at. */
  skip(cursor: Cursor): void {
    cursor.index++;
    if (++cursor.offset === this.blocks[cursor.block].length) {
      cursor.block++;
      cursor.offset = 0;
    }
  }

  /**
   * Calls `visit` with up to `count` refs from `cursor` on, in the order they were added, and
   * moves the cursor past them. Refs pushed meanwhile are read too, once the cursor gets there.
   */
  read(cursor: Cursor, count: number, visit: (ref: number) => void): void {
    let left = Math.min(count, this.length - cursor.index);
    while (left > 0) {
      const block = this.blocks[cursor.block];
      const n = Math.min(left, block.length - cursor.offset);
      for (let i = cursor.offset; i < cursor.offset + n; i++) visit(block[i]);
      cursor.offset += n;
      cursor.index += n;
      left -= n;
      if (cursor.offset === block.length) {
        cursor.block++;
        cursor.offset = 0;
      }
    }
  }
}
