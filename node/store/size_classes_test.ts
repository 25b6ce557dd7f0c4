import assert from "node:assert/strict";
import {
  CHUNK_SIZES,
  CHUNKS_PER_PAGE,
  MAX_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  PAGE_BYTES,
  sizeClass,
} from "./size_classes.ts";

Deno.test("CHUNK_SIZES ascend in multiples of 8 from the smallest to the largest chunk", () => {
  assert.equal(CHUNK_SIZES[0], MIN_CHUNK_BYTES);
  assert.equal(CHUNK_SIZES.at(-1), MAX_CHUNK_BYTES);
  for (let i = 1; i < CHUNK_SIZES.length; i++) {
    assert.ok(CHUNK_SIZES[i] > CHUNK_SIZES[i - 1], `class ${i}`);
    assert.equal(CHUNK_SIZES[i] % 8, 0, `class ${i}`);
  }
  assert.ok(CHUNK_SIZES.length < 255, "a page's class fits a byte, 255 meaning free");
});

Deno.test("CHUNK_SIZES step by 8 to 1 KiB, then by at most 1/16, then divide a page", () => {
  assert.deepEqual(CHUNK_SIZES.slice(0, 3), [40, 48, 56]);
  assert.ok(CHUNK_SIZES.includes(1024));
  for (let i = CHUNK_SIZES.indexOf(1024) + 1; CHUNK_SIZES[i] <= 4096; i++) {
    assert.ok(CHUNK_SIZES[i] <= Math.ceil((CHUNK_SIZES[i - 1] * 1.0625) / 8) * 8);
  }
  assert.deepEqual(CHUNK_SIZES.slice(-4), [9360, 10920, 13104, 16384]);
  for (const [i, size] of CHUNK_SIZES.entries()) {
    assert.ok(CHUNKS_PER_PAGE[i] * size <= PAGE_BYTES);
    if (size >= 4096) assert.ok(PAGE_BYTES - CHUNKS_PER_PAGE[i] * size < 8 * CHUNKS_PER_PAGE[i]);
  }
});

Deno.test("sizeClass() picks the smallest class that holds the bytes", () => {
  for (let bytes = 1; bytes <= MAX_CHUNK_BYTES; bytes++) {
    const cls = sizeClass(bytes);
    assert.ok(CHUNK_SIZES[cls] >= bytes, `${bytes}`);
    if (cls > 0) assert.ok(CHUNK_SIZES[cls - 1] < bytes, `${bytes}`);
  }
  assert.equal(CHUNK_SIZES[sizeClass(152)], 152); // a 16-byte key and a 100-byte value
  assert.equal(CHUNK_SIZES[sizeClass(1076)], 1088); // a 1 KiB value
});
