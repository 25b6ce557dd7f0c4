import assert from "node:assert/strict";
import { isWide, readUnits, unitBytes, writeUnits } from "./wide_values.ts";

Deno.test("isWide() is true only for a string with a lone surrogate", () => {
  assert.deepEqual(["", "abc", "é", "😀", "\ud800", "a\udc00b", "😀"[0]].map(isWide), [
    false,
    false,
    false,
    false,
    true,
    true,
    true,
  ]);
});

Deno.test("UTF-16 code units round-trip, lone surrogates and all, across 4096-unit slices", () => {
  const text = "a\ud800é😀\udc00".repeat(2000);
  const bytes = unitBytes(text);
  assert.equal(bytes.length, 2 * text.length);
  assert.equal(readUnits(bytes, 0, bytes.length), text);
  const offset = new Uint8Array(bytes.length + 3);
  writeUnits(text, offset, 3);
  assert.equal(readUnits(offset, 3, offset.length), text);
  assert.equal(readUnits(bytes, 0, 0), "");
});
