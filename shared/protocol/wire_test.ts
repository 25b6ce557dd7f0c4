import assert from "node:assert/strict";
import fc from "fast-check";
import { HttpError } from "./errors.ts";
import { headerNumber, utf8Bytes } from "./wire.ts";

const encoder = new TextEncoder();

Deno.test("utf8Bytes() counts what TextEncoder writes, long strings and split pairs included", () => {
  const text = fc.string({ unit: fc.constantFrom("a", "é", "€", "😀", "\ud800", "\udc00") });
  fc.assert(
    fc.property(text, fc.nat(70_000), (tail, pad) => {
      // Padding puts the tail's characters on either side of the 64 KiB the long path encodes at
      // once.
      const long = "x".repeat(pad) + tail;
      assert.equal(utf8Bytes(long), encoder.encode(long).length);
      assert.equal(utf8Bytes(tail), encoder.encode(tail).length);
    }),
    { numRuns: 200 },
  );
  assert.equal(utf8Bytes("x".repeat(65_535) + "😀"), 65_539);
  assert.equal(utf8Bytes("😀".repeat(40_000)), 160_000);
});

Deno.test("headerNumber() reads a whole number, and refuses anything else", () => {
  assert.equal(headerNumber("x-deadline", "17"), 17);
  assert.equal(headerNumber("x-deadline", "1796249380798000"), 1796249380798000);
  assert.equal(headerNumber("x-deadline", null), undefined, "none sent");
  for (const header of ["", " 5", "0x10", "-5", "1.5", "abc", "1e400", String(2 ** 53)]) {
    assert.throws(
      () => headerNumber("x-deadline", header),
      (error) =>
        error instanceof HttpError && error.status === 400 && /x-deadline/.test(error.message),
      header,
    );
  }
});
