import assert from "node:assert/strict";
import fc from "fast-check";
import { digitsOf, versionOf } from "./versions.ts";

Deno.test("versionOf() writes the epoch and the version, 0 for no epoch", () => {
  assert.equal(versionOf({ epoch: 7, version: 1733160000000123 }), "7.1733160000000123");
  assert.equal(versionOf({ version: 5 }), "0.5");
  assert.equal(
    versionOf({ epoch: 1796237050234, version: 1796237061379000 }),
    "1796237050234.1796237061379000",
  );
});

Deno.test("digitsOf() is String() for every safe non-negative integer", () => {
  for (const n of [0, 9, 0x3fffffff, 0x40000000, 1e8, 1e8 + 1, 1e16 - 1, Number.MAX_SAFE_INTEGER]) {
    assert.equal(digitsOf(n), String(n));
  }
  fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
    assert.equal(digitsOf(n), String(n));
  }));
});
