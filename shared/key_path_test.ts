import assert from "node:assert/strict";
import fc from "fast-check";
import { keySegment } from "./key_path.ts";
import { fastKeyGet } from "./fast_get.ts";
import { silentLogger as log } from "./log.ts";
import { Metrics } from "./metrics.ts";

Deno.test("keySegment() keeps what a segment may carry and escapes the rest", () => {
  assert.equal(keySegment("user:42@eu;v=1&x=$2,+"), "user:42@eu;v=1&x=$2,+");
  assert.equal(keySegment("a/b c?d#e%f"), "a%2Fb%20c%3Fd%23e%25f");
  assert.equal(keySegment("café"), "caf%C3%A9");
});

Deno.test("keySegment() decodes back to the key", () => {
  fc.assert(fc.property(fc.string({ minLength: 1, unit: "grapheme" }), (key) => {
    assert.equal(decodeURIComponent(keySegment(key)), key);
    assert.equal(new URL(`http://h/keys/${keySegment(key)}`).pathname.split("/").length, 3);
  }));
});

Deno.test("keySegment() of a printable ASCII key reaches the fast read when nothing is escaped", () => {
  const fast = fastKeyGet({ read: (key) => Response.json({ key }), metrics: new Metrics(), log });
  for (const key of ["user:42", "a@b", "k=v;w", "x$y&z", "1+1,2", "~._-!*'()"]) {
    const answer = fast(new Request(`http://h:1/keys/${keySegment(key)}`));
    assert.ok(answer, key);
  }
});
