import assert from "node:assert/strict";
import { groupBy } from "./group.ts";

Deno.test("groupBy() keeps item order within groups and group order of first items", () => {
  const groups = groupBy(["b1", "a1", "b2", "c1", "a2"], (s) => s[0]);
  assert.deepEqual([...groups], [["b", ["b1", "b2"]], ["a", ["a1", "a2"]], ["c", ["c1"]]]);
  assert.equal(groupBy([], () => 1).size, 0);
});
