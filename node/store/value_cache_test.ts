import assert from "node:assert/strict";
import { MAX_CACHED_LENGTH, ValueCache } from "./value_cache.ts";

Deno.test("ValueCache keeps a value read twice, until its record changes", () => {
  const cache = new ValueCache();
  let decoded = 0;
  const decode = () => {
    decoded++;
    return "v";
  };
  for (let i = 0; i < 4; i++) assert.equal(cache.read(19, decode), "v");
  assert.equal(decoded, 2, "decoded on the first two reads, kept after");
  cache.forget(19);
  cache.read(19, decode);
  cache.read(19, decode);
  assert.equal(decoded, 4);
  cache.clear();
  cache.read(19, decode);
  assert.equal(decoded, 5);
});

Deno.test("ValueCache keeps nothing for a scan, nor a value too long", () => {
  const cache = new ValueCache();
  let decoded = 0;
  const decode = (ref: number) => {
    decoded++;
    return ref === 1 ? "x".repeat(MAX_CACHED_LENGTH + 1) : `${ref}`;
  };
  for (let ref = 1; ref <= 10_000; ref++) cache.read(ref, decode);
  assert.equal(decoded, 10_000);
  for (let i = 0; i < 3; i++) cache.read(1, decode);
  assert.equal(decoded, 10_003, "read three times, never kept");
});
