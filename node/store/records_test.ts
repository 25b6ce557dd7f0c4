import assert from "node:assert/strict";
import fc from "fast-check";
import { Arena } from "./arena.ts";
import { recordBytes, recordChunks, Records } from "./records.ts";
import { CHUNK_SIZES } from "./size_classes.ts";
import { isWide } from "./wide_values.ts";

const encoder = new TextEncoder();

/** A record store over a fresh arena, and a write that sizes the record as the store does. */
function setup() {
  const arena = new Arena();
  const records = new Records(arena);
  const write = (key: string, value: string) => {
    const wide = isWide(value);
    const valueBytes = wide ? 2 * value.length : encoder.encode(value).length;
    const keyBytes = encoder.encode(key).length;
    return records.write(key, keyBytes, value, valueBytes, wide, (cls) => arena.alloc(cls));
  };
  return { arena, records, write };
}

Deno.test("recordBytes() counts the class-rounded chunks, continuation chunks included", () => {
  assert.equal(recordBytes(16, 100), 152); // 36 + 16 + 100, exactly a class
  assert.equal(recordBytes(1, 0), 40);
  assert.equal(recordBytes(16, 1024), 1088);
  assert.equal(recordBytes(16, 16384 - 36 - 16), 16384); // the largest single chunk
  assert.equal(recordBytes(16, 16384 - 36 - 16 + 1), 16384 + 40); // chained: head and a tail
  // 100 KiB: a head holding 16,324 bytes, five full continuations and a 4,368-byte tail.
  assert.equal(recordBytes(16, 102_400), 6 * 16384 + 4368);
});

Deno.test("Records write and read back keys and values of any size and content", () => {
  const { arena, records, write } = setup();
  const value = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 200 }),
    fc.string({ unit: "binary", maxLength: 200 }), // lone surrogates: stored wide
    fc.nat(70_000).map((n) => "x".repeat(n)),
    fc.nat(20_000).map((n) => "é".repeat(n) + "\ud800"),
  );
  const key = fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 });
  fc.assert(
    fc.property(key, value, (k, v) => {
      const ref = write(k, v);
      assert.equal(records.key(ref), k);
      assert.equal(records.value(ref), v);
      assert.equal(
        records.chunkBytes(ref),
        recordBytes(encoder.encode(k).length, records.valueBytes(ref)),
      );
      records.free(ref);
    }),
    { numRuns: 200 },
  );
  // A leading byte order mark is a character of the value, kept however the value is stored.
  for (
    const v of ["\ufeff", "\ufeffx", "\ufeff" + "x".repeat(100_000), "\ufeff\ufeffé".repeat(9_000)]
  ) {
    const ref = write("\ufeffk", v);
    assert.equal(records.key(ref), "\ufeffk");
    assert.ok(records.value(ref) === v, `${v.length} characters`);
    records.free(ref);
  }
  const before = arena.pages;
  write("k", "v"); // every page went back to the pool: no new page is needed
  assert.equal(arena.pages, before);
});

Deno.test("Records compare keys against their stored bytes, ASCII or not", () => {
  const { records, write } = setup();
  const ascii = write("key:0001", "v");
  const accented = write("é", "v");
  assert.ok(records.keyEquals(ascii, "key:0001", 8));
  assert.ok(!records.keyEquals(ascii, "key:0002", 8));
  assert.ok(records.keyEquals(accented, "é", 2));
  assert.ok(!records.keyEquals(accented, "Ã©", 4), "the same bytes read as Latin-1 are not é");
  assert.ok(!records.keyEquals(write("\ufffd", "v"), "\ud800", 3), "a lone surrogate is no U+FFFD");
  const blocks = new Uint32Array(new TextEncoder().encode("key:0001").buffer);
  assert.ok(records.keyMatches(ascii, blocks, 8));
  assert.ok(!records.keyMatches(ascii, blocks, 7));
});

Deno.test("Records.rewrite() replaces a value in its chunk; stage() encodes it ahead", () => {
  const { records, write } = setup();
  const ref = write("k", "a".repeat(100));
  assert.equal(records.stage("b".repeat(103)), 103);
  records.rewrite(ref, "b".repeat(103), 103, false); // 36 + 1 + 103 still fits 144 bytes
  assert.equal(records.value(ref), "b".repeat(103));
  records.rewrite(ref, "\udc00".repeat(50), 100, true); // 100 bytes of UTF-16: 144 bytes again
  assert.equal(records.value(ref), "\udc00".repeat(50));
  assert.equal(records.key(ref), "k");
});

Deno.test("Records stamp a version, an epoch id and an expiry time", () => {
  const { records, write } = setup();
  const ref = write("k", "v");
  records.stamp(ref, 1_700_000_000_000_123, 3, 1_700_000_060_000.5);
  assert.equal(records.version(ref), 1_700_000_000_000_123);
  assert.equal(records.epochId(ref), 3);
  assert.equal(records.expiresAt(ref), 1_700_000_060_000.5);
  assert.equal(records.value(ref), "v");
});

Deno.test("recordChunks() names chunks adding up to recordBytes(), chained records too", () => {
  for (const valueBytes of [0, 100, 16_300, 16_400, 49_000, 16_384 * 3, 1_048_576]) {
    const bytes = recordBytes(16, valueBytes);
    const chunks = [...recordChunks(bytes)];
    const total = chunks.reduce((sum, [cls, count]) => sum + CHUNK_SIZES[cls] * count, 0);
    assert.equal(total, bytes, `${valueBytes} bytes of value`);
  }
});
