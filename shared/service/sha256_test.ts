import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { Sha256 } from "./sha256.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const reference = (text: string) => createHash("sha256").update(text).digest("hex");

Deno.test("Sha256.digest() gives the standard's digests of known strings", () => {
  const sha = new Sha256();
  assert.equal(
    hex(sha.digest("")),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    hex(sha.digest("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(sha.digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("Sha256.digest() agrees with node:crypto at every length around a block's edges", () => {
  const sha = new Sha256();
  for (let length = 0; length <= 200; length++) {
    for (const unit of ["a", "é", "€", "😀"]) {
      const text = unit.repeat(length);
      assert.equal(hex(sha.digest(text)), reference(text), `${length} x ${unit}`);
    }
  }
});

Deno.test("Sha256.digest() agrees with node:crypto on any string, past its scratch space too", () => {
  const sha = new Sha256();
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 600 }), (text) => {
      assert.equal(hex(sha.digest(text)), reference(text));
    }),
    { numRuns: 500 },
  );
  const long = "token-".repeat(2000); // 12,000 bytes: more than the 1 KiB reused
  assert.equal(hex(sha.digest(long)), reference(long));
  assert.equal(hex(sha.digest("abc")), reference("abc")); // and the scratch space after it
});

Deno.test("Sha256.digest() wipes the text it digested from its scratch space", () => {
  const scratch = new Uint8Array(1024);
  const sha = new Sha256(scratch);
  const token = "s3cret-token-4242";
  assert.equal(hex(sha.digest(token)), reference(token));
  assert.ok(scratch.subarray(0, token.length).every((byte) => byte === 0));
  assert.equal(hex(sha.digest(token)), reference(token), "and digests the same again");
  // Scratch space given as a view into a larger buffer, at an offset.
  const inner = new Uint8Array(2048).subarray(100, 1124);
  assert.equal(hex(new Sha256(inner).digest(token)), reference(token));
});
