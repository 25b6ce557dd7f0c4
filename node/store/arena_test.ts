import assert from "node:assert/strict";
import { Arena, GROWTH_BYTES } from "./arena.ts";
import { CHUNK_SIZES, CHUNKS_PER_PAGE, PAGE_BYTES, sizeClass } from "./size_classes.ts";

const SMALL = sizeClass(152);
const LARGE = sizeClass(16384);

Deno.test("Arena.alloc() hands out distinct chunks of the class, 8-byte aligned, never ref 0", () => {
  const arena = new Arena();
  const refs = new Set<number>();
  for (let i = 0; i < 2 * CHUNKS_PER_PAGE[SMALL] + 5; i++) {
    const ref = arena.alloc(SMALL);
    assert.ok(ref >= PAGE_BYTES / 8, "page 0 is never handed out");
    assert.equal(arena.chunkBytes(ref), 152);
    refs.add(ref);
  }
  assert.equal(refs.size, 2 * CHUNKS_PER_PAGE[SMALL] + 5);
  const sorted = [...refs].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) assert.ok((sorted[i] - sorted[i - 1]) * 8 >= 152);
  assert.equal(arena.pages, 3);
});

Deno.test("Arena grows its buffer a mebibyte at a time, not a page at a time", () => {
  const arena = new Arena();
  assert.equal(arena.byteLength, 0);
  arena.alloc(SMALL);
  assert.equal(arena.byteLength, GROWTH_BYTES);
  for (let page = 2; page < GROWTH_BYTES / PAGE_BYTES; page++) {
    for (let i = 0; i < CHUNKS_PER_PAGE[LARGE]; i++) arena.alloc(LARGE);
  }
  assert.equal(arena.byteLength, GROWTH_BYTES, "pages 1 to 15 fill the first mebibyte");
  for (let i = 0; i < CHUNKS_PER_PAGE[LARGE]; i++) arena.alloc(LARGE);
  assert.equal(arena.byteLength, 2 * GROWTH_BYTES);
});

Deno.test("Arena.free() reuses a chunk, and gives a page whose chunks are all free to any class", () => {
  const arena = new Arena();
  const first = arena.alloc(SMALL);
  const second = arena.alloc(SMALL);
  arena.free(first);
  assert.equal(arena.alloc(SMALL), first);
  arena.free(first);
  arena.free(second);
  const large = arena.alloc(LARGE);
  assert.equal(large, first, "the emptied page went to the large class");
  assert.equal(arena.chunkBytes(large), CHUNK_SIZES[LARGE]);
  assert.equal(arena.pages, 1);
});

Deno.test("Arena with a page limit answers 0 for a class that has pages, unless forced", () => {
  const arena = new Arena(1);
  for (let i = 0; i < CHUNKS_PER_PAGE[LARGE]; i++) assert.notEqual(arena.alloc(LARGE), 0);
  assert.equal(arena.alloc(LARGE), 0, "its only page is full");
  assert.notEqual(arena.alloc(SMALL), 0, "a class without pages still gets one");
  assert.notEqual(arena.alloc(LARGE, true), 0);
  assert.equal(arena.pages, 3);
});

Deno.test("Arena.clear() frees every chunk and the buffer", () => {
  const arena = new Arena();
  const ref = arena.alloc(SMALL);
  arena.words[ref * 2] = 7;
  arena.clear();
  assert.equal(arena.byteLength, 0);
  assert.equal(arena.pages, 0);
  assert.equal(arena.alloc(SMALL), ref);
  assert.equal(arena.words[ref * 2], 0, "a fresh mebibyte, zeroed");
});
