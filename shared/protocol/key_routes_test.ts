// The count of an answer's characters as JSON writes them, from a value's text or its UTF-8 bytes.

import assert from "node:assert/strict";
import fc from "fast-check";
import { plainJsonUnits, utf16Units } from "./key_routes.ts";

Deno.test("plainJsonUnits() counts the characters JSON writes as they are, and sees any escape", () => {
  const unit = fc.constantFrom(
    "a",
    " ",
    "é",
    "€",
    "😀",
    "\u2028",
    "\u007f",
    '"',
    "\\",
    "\n",
    "\u0001",
  );
  fc.assert(fc.property(fc.string({ unit }), (text) => {
    const units = plainJsonUnits(new TextEncoder().encode(text));
    const plain = JSON.stringify(text) === `"${text}"`;
    assert.equal(units, plain ? text.length : -1, JSON.stringify(text));
  }));
  assert.equal(plainJsonUnits(new TextEncoder().encode("é😀")), 3);
});

Deno.test("utf16Units() counts what .length counts of the text the bytes encode", () => {
  const unit = fc.constantFrom("a", "é", "€", "😀", "\u2028", '"', "\n");
  fc.assert(fc.property(fc.string({ unit }), (text) => {
    assert.equal(utf16Units(new TextEncoder().encode(text)), text.length);
  }));
});
