// The unreplicated keys read out of a primary's error body.

import assert from "node:assert/strict";
import { unreplicatedKeys } from "./unreplicated.ts";

Deno.test("unreplicatedKeys() reads the keys an error body names", () => {
  assert.deepEqual(unreplicatedKeys({ error: "e", unreplicated: ["a", "b"] }), new Set(["a", "b"]));
  assert.deepEqual(unreplicatedKeys({ error: "e", unreplicated: [] }), new Set());
});

Deno.test("unreplicatedKeys() is undefined for a body that names no keys", () => {
  for (const body of [undefined, null, "text", 3, [], { error: "e" }, { unreplicated: "a" }]) {
    assert.equal(unreplicatedKeys(body), undefined, JSON.stringify(body));
  }
  assert.equal(unreplicatedKeys({ unreplicated: ["a", 1] }), undefined, "a key not a string");
});
