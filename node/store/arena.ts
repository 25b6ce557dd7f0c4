// The store's memory: one resizable buffer cut into pages, each page carved into chunks of one
// size.

import { CHUNK_SIZES, CHUNKS_PER_PAGE, PAGE_BYTES } from "./size_classes.ts";

/** Most bytes an arena reserves: refs are u32 counts of 8-byte units. */
export const MAX_ARENA_BYTES = 2 ** 35;

/** Bytes the buffer grows by at a time: one resize per 16 pages, not one per page. */
export const GROWTH_BYTES = 1 << 20;

const UNITS_PER_PAGE = PAGE_BYTES / 8; // refs per page
const PAGE_SHIFT = 13; // ref >>> PAGE_SHIFT is the ref's page
const FREE_PAGE = 255; // a page's class while it holds no chunk

/**
 * Chunks of memory in one resizable `ArrayBuffer`, named by refs: a u32 offset in 8-byte units,
 * 0 meaning none (page 0 is never handed out). Each 64 KiB page serves one size class
 * ({@link CHUNK_SIZES}); a page whose chunks are all free goes back to a pool any class may take.
 * Growing the buffer touches no memory until it is written, and never moves what is stored.
 *
 * With a page limit, a class that already has pages gets no new one past the limit: {@link alloc}
 * answers 0 and the caller frees chunks (the store evicts) and asks again.
 *
 * @example
 * ```ts
 * import { Arena } from "./arena.ts";
 * import { sizeClass } from "./size_classes.ts";
 * const arena = new Arena();
 * const ref = arena.alloc(sizeClass(152));
 * arena.doubles[ref] = 1.5; // the chunk's first 8 bytes
 * arena.chunkBytes(ref); // 152
 * arena.free(ref);
 * ```
 */
export class Arena {
  readonly #buffer = new ArrayBuffer(0, { maxByteLength: MAX_ARENA_BYTES });
  /** The buffer's bytes; tracks its length as it grows. */
  readonly bytes = new Uint8Array(this.#buffer);
  /** The buffer as u32s: a ref's first word is at `ref * 2`. */
  readonly words = new Uint32Array(this.#buffer);
  /** The buffer as f64s: a ref's first double is at `ref`. */
  readonly doubles = new Float64Array(this.#buffer);
  readonly #maxPages: number;
  #top = 1; // the next page never handed out
  #freePages: number[] = [];
  // Per page, by page number.
  #pageClass = new Uint8Array(0);
  #used = new Uint16Array(0); // chunks in use
  #carved = new Uint16Array(0); // chunks handed out at least once; the rest were never touched
  #freeChunk = new Uint32Array(0); // the ref of the page's first free chunk, linked by first words
  #nextPartial = new Uint32Array(0); // pages of one class with a free chunk: a doubly linked list
  #prevPartial = new Uint32Array(0);
  // Per class.
  readonly #partial = new Uint32Array(CHUNK_SIZES.length); // first page with a free chunk
  readonly #classPages = new Uint32Array(CHUNK_SIZES.length);

  /** `maxPages` limits the pages handed out; 0 means no limit. */
  constructor(maxPages = 0) {
    this.#maxPages = maxPages;
    this.#growPageTables(64);
  }

  /** Pages handed out to size classes, now or before (free pages in the pool count). */
  get pages(): number {
    return this.#top - 1;
  }

  /** Bytes of the buffer, as the process pays for them once written. */
  get byteLength(): number {
    return this.#buffer.byteLength;
  }

  /**
   * How many chunks page `page` has handed out since a class took it (some may be free again), in
   * order from the page's start (see {@link chunkAt}); 0 for a page in the pool or past the
   * pages handed out. For a walk over every chunk in the buffer's order.
   */
  carved(page: number): number {
    if (page <= 0 || page >= this.#top || this.#pageClass[page] === FREE_PAGE) return 0;
    return this.#carved[page];
  }

  /** The ref of chunk `i` of page `page`, by the page's class now (see {@link carved}). */
  chunkAt(page: number, i: number): number {
    return page * UNITS_PER_PAGE + ((i * CHUNK_SIZES[this.#pageClass[page]]) >>> 3);
  }

  /** Bytes of the chunk at `ref`: its class's size. */
  chunkBytes(ref: number): number {
    return CHUNK_SIZES[this.#pageClass[ref >>> PAGE_SHIFT]];
  }

  /**
   * A free chunk of class `cls`, or 0 when the class would need a new page past the limit. A class
   * without pages always gets one, and `force` ignores the limit.
   */
  alloc(cls: number, force = false): number {
    let page = this.#partial[cls];
    if (page === 0) {
      page = this.#takePage(cls, force);
      if (page === 0) return 0;
    }
    let ref = this.#freeChunk[page];
    if (ref !== 0) this.#freeChunk[page] = this.words[ref * 2];
    else ref = page * UNITS_PER_PAGE + ((this.#carved[page]++ * CHUNK_SIZES[cls]) >>> 3);
    if (++this.#used[page] === CHUNKS_PER_PAGE[cls]) this.#unlinkPartial(page, cls);
    return ref;
  }

  /**
   * Whether {@link alloc} would give every chunk `needs` counts by class without `force`: free
   * chunks of the class first, then free pages and room under the limit, shared by all classes.
   */
  canAllocAll(needs: Map<number, number>): boolean {
    if (this.#maxPages === 0) return true;
    let pages = 0; // needed past the classes' free chunks
    for (const [cls, chunks] of needs) {
      const short = chunks - this.#freeChunks(cls, chunks);
      if (short <= 0) continue;
      // A class without pages gets one past the limit.
      pages += Math.ceil(short / CHUNKS_PER_PAGE[cls]) - (this.#classPages[cls] === 0 ? 1 : 0);
    }
    return pages <= this.#freePages.length + Math.max(0, this.#maxPages - this.pages);
  }

  /** Free chunks in the pages of class `cls`, counted up to `enough`. */
  #freeChunks(cls: number, enough: number): number {
    let free = 0;
    for (
      let page = this.#partial[cls];
      page !== 0 && free < enough;
      page = this.#nextPartial[page]
    ) {
      free += CHUNKS_PER_PAGE[cls] - this.#used[page];
    }
    return free;
  }

  /** Gives the chunk at `ref` back; its page returns to the pool once all its chunks are free. */
  free(ref: number): void {
    const page = ref >>> PAGE_SHIFT;
    const cls = this.#pageClass[page];
    if (this.#used[page] === CHUNKS_PER_PAGE[cls]) this.#linkPartial(page, cls);
    this.words[ref * 2] = this.#freeChunk[page];
    this.#freeChunk[page] = ref;
    if (--this.#used[page] === 0) {
      this.#unlinkPartial(page, cls);
      this.#pageClass[page] = FREE_PAGE;
      this.#classPages[cls]--;
      this.#freePages.push(page);
    }
  }

  /** Frees every chunk and gives the buffer's memory back. */
  clear(): void {
    this.#buffer.resize(0);
    this.#top = 1;
    this.#freePages = [];
    this.#partial.fill(0);
    this.#classPages.fill(0);
    this.#growPageTables(64);
  }

  #takePage(cls: number, force: boolean): number {
    let page = this.#freePages.pop();
    if (page === undefined) {
      const limited = this.#maxPages > 0 && this.#classPages[cls] > 0;
      if (!force && limited && this.pages >= this.#maxPages) return 0;
      page = this.#top++;
      if (page >= this.#pageClass.length) this.#growPageTables(2 * this.#pageClass.length);
      const end = (page + 1) * PAGE_BYTES;
      if (end > this.#buffer.byteLength) this.#grow(end);
    }
    this.#pageClass[page] = cls;
    this.#used[page] = 0;
    this.#carved[page] = 0;
    this.#freeChunk[page] = 0;
    this.#classPages[cls]++;
    this.#linkPartial(page, cls);
    return page;
  }

  #grow(end: number): void {
    const bytes = Math.min(MAX_ARENA_BYTES, Math.max(end, this.#buffer.byteLength + GROWTH_BYTES));
    if (end > bytes) {
      throw new RangeError(`Cannot grow the store's arena past ${MAX_ARENA_BYTES} bytes`);
    }
    this.#buffer.resize(bytes);
  }

  #linkPartial(page: number, cls: number): void {
    const first = this.#partial[cls];
    this.#nextPartial[page] = first;
    this.#prevPartial[page] = 0;
    if (first !== 0) this.#prevPartial[first] = page;
    this.#partial[cls] = page;
  }

  #unlinkPartial(page: number, cls: number): void {
    const next = this.#nextPartial[page];
    const prev = this.#prevPartial[page];
    if (prev !== 0) this.#nextPartial[prev] = next;
    else this.#partial[cls] = next;
    if (next !== 0) this.#prevPartial[next] = prev;
  }

  /** Makes room in the per-page tables for `pages` pages, keeping what they hold. */
  #growPageTables(pages: number): void {
    const widen = <T extends Uint8Array | Uint16Array | Uint32Array>(old: T, next: T): T => {
      next.set(old.subarray(0, Math.min(old.length, this.#top)));
      return next;
    };
    this.#pageClass = widen(this.#pageClass, new Uint8Array(pages).fill(FREE_PAGE));
    this.#used = widen(this.#used, new Uint16Array(pages));
    this.#carved = widen(this.#carved, new Uint16Array(pages));
    this.#freeChunk = widen(this.#freeChunk, new Uint32Array(pages));
    this.#nextPartial = widen(this.#nextPartial, new Uint32Array(pages));
    this.#prevPartial = widen(this.#prevPartial, new Uint32Array(pages));
  }
}
