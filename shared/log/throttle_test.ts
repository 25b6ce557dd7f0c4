import assert from "node:assert/strict";
import { Throttle } from "./throttle.ts";

Deno.test("Throttle lets one line per key through per interval, counting those held back", () => {
  let now = 0;
  const throttle = new Throttle(1000, () => now);
  assert.equal(throttle.take("a"), 0);
  assert.equal(throttle.take("a"), undefined);
  assert.equal(throttle.take("b"), 0, "another key has its own interval");
  now = 999;
  assert.equal(throttle.take("a"), undefined);
  now = 1000;
  assert.equal(throttle.take("a"), 2, "two held back since the last line");
  assert.equal(throttle.end("a"), true);
  assert.equal(throttle.end("a"), false);
  assert.equal(throttle.take("a"), 0, "a new trouble logs at once");
});
