import assert from "node:assert/strict";
import fc from "fast-check";
import { isPlainSegment, keySegment } from "./key_path.ts";

Deno.test("keySegment() keeps what a segment may carry and escapes the rest", () => {
  assert.equal(keySegment("user:42@eu;v=1&x=$2,+"), "user:42@eu;v=1&x=$2,+");
  assert.equal(keySegment("a/b c?d#e%f"), "a%2Fb%20c%3Fd%23e%25f");
  assert.equal(keySegment("café"), "caf%C3%A9");
});

Deno.test("keySegment() decodes back to the key", () => {
  const keys = fc.string({ minLength: 1, unit: "grapheme" }).filter((k) => k !== "." && k !== "..");
  fc.assert(fc.property(keys, (key) => {
    assert.equal(decodeURIComponent(keySegment(key)), key);
    // A URL keeps the segment as it is: no path step, no second encoding.
    assert.equal(new URL(`http://h/keys/${keySegment(key)}`).pathname, `/keys/${keySegment(key)}`);
  }));
});

Deno.test("isPlainSegment() takes exactly the segments keySegment() leaves as they are", () => {
  const ascii = fc.string({
    minLength: 1,
    unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)),
  });
  fc.assert(fc.property(ascii, (key) => {
    const segment = keySegment(key);
    const dots = key === "." || key === "..";
    assert.equal(isPlainSegment(segment), segment === key && !dots, JSON.stringify(key));
  }));
  assert.equal(isPlainSegment(".."), false);
});
