import assert from "node:assert/strict";
import { jsonDepth } from "./api.ts";

Deno.test("jsonDepth() counts nesting outside strings", () => {
  assert.equal(jsonDepth('{"key":"k","value":"v"}'), 1);
  assert.equal(jsonDepth('{"items":[{"key":"k"}]}'), 3);
  assert.equal(jsonDepth('{"key":"[[[{{{","value":"\\"]]"}'), 1);
  assert.equal(jsonDepth("[[[[]]]]"), 4);
  assert.equal(jsonDepth("12"), 0);
});
