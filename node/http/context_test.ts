import assert from "node:assert/strict";
import fc from "fast-check";
import { item, itemJson } from "./context.ts";

Deno.test("itemJson() writes what JSON.stringify() writes of the item", () => {
  const read = { value: "v", version: "7.1733160000000123" };
  assert.equal(itemJson("k", read), JSON.stringify(item("k", read)));
  fc.assert(fc.property(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "binary" }),
    fc.option(fc.double({ min: 0.001, max: 1e9, noNaN: true }), { nil: undefined }),
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    (key, value, ttlMs, version) => {
      const found = { value, version: `3.${version}`, ...(ttlMs === undefined ? {} : { ttlMs }) };
      assert.equal(itemJson(key, found), JSON.stringify(item(key, found)));
    },
  ));
});
