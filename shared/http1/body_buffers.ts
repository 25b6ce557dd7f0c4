// Buffers for request bodies, reused: a body read whole is garbage the moment it is answered.

/** Capacity of the smallest buffer: a body's first read goes into one this size. */
export const FIRST_BODY_BYTES = 64 * 1024;

/**
 * Bytes of body buffers kept for reuse: 64 bodies of up to 128 KiB, or 4 of up to 2 MiB (values
 * near the 1 MiB limit). The others are released once answered. 8 writers of 1 MiB values to a
 * node: 247-327 writes/s keeping 2 MiB, 467-509 keeping 8 (peak RSS 453 and 460 MiB).
 */
export const KEPT_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Buffers for bodies read whole, in capacities of 64 KiB times a power of 2, handed back once the
 * request is answered and kept for the next body, up to `maxFreeBytes` of them. A fresh buffer per
 * body is memory outside the JavaScript heap that the engine counts only loosely: under a stream of
 * 100 KB writes, tens of megabytes of answered bodies waited for a collection. Reused, the buffers
 * of the requests in flight are all a server holds.
 *
 * @example
 * ```ts
 * import { BodyBuffers } from "./body_buffers.ts";
 * const buffers = new BodyBuffers(4 * 1024 * 1024);
 * const buffer = buffers.take(100_000); // 128 KiB, reused if one was handed back
 * buffers.give(buffer);
 * ```
 */
export class BodyBuffers {
  readonly #maxFreeBytes: number;
  readonly #free = new Map<number, Uint8Array<ArrayBuffer>[]>(); // by capacity
  #freeBytes = 0;

  constructor(maxFreeBytes: number) {
    this.#maxFreeBytes = maxFreeBytes;
  }

  /** Bytes of the buffers kept for reuse. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** A buffer of at least `bytes` capacity: one handed back, or a new one. */
  take(bytes: number): Uint8Array<ArrayBuffer> {
    let capacity = FIRST_BODY_BYTES;
    while (capacity < bytes) capacity *= 2;
    const kept = this.#free.get(capacity)?.pop();
    if (kept === undefined) return new Uint8Array(capacity);
    this.#freeBytes -= capacity;
    return kept;
  }

  /**
   * Hands back a buffer from {@link take} (or a view of one) that nothing reads any more. One not
   * kept is released at once (detached): left to the collector, the buffers of 4 MiB bodies, and
   * the halves each grew from, took a node at `--max-memory 64mb` to 2.45-2.57 times its bound
   * above idle under 4 clients of `/mset` (1.79-1.80 released, keeping {@link KEPT_BODY_BYTES}).
   */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    const whole = new Uint8Array(buffer.buffer);
    if (this.#freeBytes + whole.length > this.#maxFreeBytes) {
      buffer.buffer.transfer(0);
      return;
    }
    const list = this.#free.get(whole.length) ?? [];
    list.push(whole);
    this.#free.set(whole.length, list);
    this.#freeBytes += whole.length;
  }
}
