// Items as answers write them: the same JSON whether a value comes as text or as its bytes.

import assert from "node:assert/strict";
import fc from "fast-check";
import { BodyParts } from "@cache/http1/body_parts";
import { addItem, itemJson } from "./items.ts";

/** The item `JSON.stringify()` is given: `ttl` in seconds, only for a key that expires. */
function item(key: string, found: { value: string; version: string; ttlMs?: number }) {
  return found.ttlMs === undefined
    ? { key, value: found.value, version: found.version }
    : { key, value: found.value, ttl: found.ttlMs / 1000, version: found.version };
}

const ttlMs = fc.option(fc.double({ min: 0.001, max: 1e9, noNaN: true }), { nil: undefined });
const version = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map((v) => `3.${v}`);

Deno.test("itemJson() writes what JSON.stringify() writes of the item", () => {
  const read = { value: "v", version: "7.1733160000000123" };
  assert.equal(itemJson("k", read), JSON.stringify(item("k", read)));
  fc.assert(fc.property(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "binary" }),
    ttlMs,
    version,
    (key, value, ttlMs, version) => {
      const found = { value, version, ...(ttlMs === undefined ? {} : { ttlMs }) };
      assert.equal(itemJson(key, found), JSON.stringify(item(key, found)));
    },
  ));
});

Deno.test("addItem() writes a value given as its UTF-8 bytes as JSON.stringify() writes it", () => {
  const unit = fc.constantFrom("a", "é", "😀", "\ufeff", "\u2028", '"', "\\", "\n", "\u0001");
  fc.assert(fc.property(
    fc.string({ unit: "binary" }),
    fc.string({ unit }),
    ttlMs,
    version,
    (key, value, ttlMs, version) => {
      const found = { version, ...(ttlMs === undefined ? {} : { ttlMs }) };
      const parts = new BodyParts();
      const counted: (string | number)[] = [];
      addItem(parts, key, { utf8: new TextEncoder().encode(value), ...found }, (value) => {
        counted.push(value);
      });
      const body = parts.body();
      const text = typeof body === "string" ? body : new TextDecoder().decode(body);
      assert.equal(text, JSON.stringify(item(key, { value, ...found })));
      // Counted as the value's characters: a number of them when copied as bytes, else the text.
      assert.deepEqual(counted, [typeof body === "string" ? value : value.length]);
    },
  ));
});
