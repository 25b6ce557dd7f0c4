// The chunk sizes the store's arena carves its pages into, and which size a record needs.

/** Bytes of one arena page; a page holds chunks of one size class only. */
export const PAGE_BYTES = 65536;

/** The largest chunk; a record bigger than this is chained over several chunks. */
export const MAX_CHUNK_BYTES = 16384;

/** The smallest chunk: a record header and a few bytes of key. */
export const MIN_CHUNK_BYTES = 40;

/**
 * Chunk sizes in bytes, ascending, each a multiple of 8 so every chunk starts 8-byte aligned:
 * every 8 bytes up to 1 KiB (small entries waste at most 7 bytes), then steps of 1/16 up to
 * 4 KiB, then the sizes that divide a page exactly into 16 down to 4 chunks.
 */
export const CHUNK_SIZES: readonly number[] = chunkSizes();

/** Chunks of each class in one page. */
export const CHUNKS_PER_PAGE: readonly number[] = CHUNK_SIZES.map((size) =>
  Math.floor(PAGE_BYTES / size)
);

// The class of a size, by the size in 8-byte units rounded up: a lookup, not a search.
const classByEighths = classTable();

/**
 * The smallest class whose chunks hold `bytes` (1 to {@link MAX_CHUNK_BYTES}).
 *
 * @example
 * ```ts
 * import { CHUNK_SIZES, sizeClass } from "./size_classes.ts";
 * CHUNK_SIZES[sizeClass(152)]; // 152
 * CHUNK_SIZES[sizeClass(1076)]; // 1088
 * ```
 */
export function sizeClass(bytes: number): number {
  return classByEighths[(bytes + 7) >> 3];
}

function chunkSizes(): number[] {
  const sizes: number[] = [];
  for (let size = MIN_CHUNK_BYTES; size <= 1024; size += 8) sizes.push(size);
  for (let size = 1024;;) {
    size = Math.ceil((size * 1.0625) / 8) * 8;
    if (size >= 4096) break;
    sizes.push(size);
  }
  for (let perPage = 16; perPage >= 4; perPage--) {
    sizes.push(Math.floor(PAGE_BYTES / perPage / 8) * 8);
  }
  return sizes;
}

function classTable(): Uint8Array {
  const table = new Uint8Array(MAX_CHUNK_BYTES / 8 + 1);
  let cls = 0;
  for (let eighths = 0; eighths < table.length; eighths++) {
    while (CHUNK_SIZES[cls] < eighths * 8) cls++;
    table[eighths] = cls;
  }
  return table;
}
