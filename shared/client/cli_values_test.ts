// The command line's values: each checked as the cluster would, with a one-line reason.

import assert from "node:assert/strict";
import {
  amountOf,
  checkKey,
  countOf,
  intervalOf,
  lineField,
  prefixOf,
  quote,
  requestIdOf,
  touchTtlOf,
  ttlOf,
  UsageError,
  versionOf,
} from "./cli_values.ts";

Deno.test("checkKey() and quote() keep a message on one short line", () => {
  assert.throws(() => checkKey("x".repeat(2000)), (error: Error) => error.message.length < 200);
  assert.equal(quote("a\nb"), '"a\\nb"');
  assert.equal(quote("y".repeat(100)), `"${"y".repeat(57)}..."`);
});

Deno.test("lineField() keeps a field on its line, and reads back one way", () => {
  assert.deepEqual(["user:1", "a b", "caf\u00e9", 'say "hi"'].map(lineField), [
    "user:1",
    "a b",
    "caf\u00e9",
    'say "hi"',
  ]);
  // A newline or tab would split the line or the field; a leading quote would read as quoted.
  assert.deepEqual(["a\nb", "a\tb", "a\rb", "\u0000", '"x"', "\ud800"].map(lineField), [
    '"a\\nb"',
    '"a\\tb"',
    '"a\\rb"',
    '"\\u0000"',
    '"\\"x\\""',
    '"\\ud800"',
  ]);
  // DEL and C1 controls move a terminal: quoted, as they are inside the quotes.
  assert.deepEqual(["a\u007f", "\u009b2J"].map(lineField), ['"a\u007f"', '"\u009b2J"']);
  for (const text of ["a\nb", "\ud800", "\u009b"]) assert.equal(JSON.parse(lineField(text)), text);
});

Deno.test("amountOf() takes whole numbers within the safe integers, either sign", () => {
  assert.deepEqual(["0", "7", "-7", "+7", "9007199254740991"].map(amountOf), [
    0,
    7,
    -7,
    7,
    2 ** 53 - 1,
  ]);
  for (const bad of ["", "1.5", "1e3", "0x10", "abc", "9007199254740992", "-9007199254740992"]) {
    assert.throws(() => amountOf(bad), UsageError, bad);
  }
});

Deno.test("ttlOf() and touchTtlOf() take seconds > 0; touchTtlOf() takes none as null", () => {
  assert.equal(ttlOf("0.5"), 0.5);
  assert.throws(() => ttlOf(""), /^UsageError: Invalid --ttl "": write seconds in decimal digits/);
  assert.equal(ttlOf(".5"), 0.5);
  // Number() took these as 16, 5 and 1000 seconds.
  for (const bad of ["0x10", " 5", "1e3", "5 "]) {
    assert.throws(() => ttlOf(bad), /^UsageError: Invalid --ttl .*: write seconds in decimal/, bad);
  }
  assert.equal(touchTtlOf("60"), 60);
  assert.equal(touchTtlOf("none"), null);
  assert.throws(() => touchTtlOf("None"), /^UsageError: Invalid TTL "None"/);
});

Deno.test("countOf(), intervalOf(), prefixOf(), versionOf() and requestIdOf() check their range", () => {
  assert.deepEqual([countOf("1"), countOf("1000")], [1, 1000]);
  for (const bad of ["0", "1001", "2.5", ""]) assert.throws(() => countOf(bad), UsageError, bad);
  assert.equal(intervalOf("100"), 100);
  assert.throws(() => intervalOf("99"), /at least 100/);
  assert.equal(intervalOf("3600000"), 3_600_000);
  assert.throws(() => intervalOf("99999999999999"), /at most 3600000/); // past a timer's reach
  assert.equal(prefixOf(""), "");
  assert.throws(() => prefixOf("p".repeat(1025)), /longer than 1024 UTF-8 bytes/);
  assert.equal(prefixOf("é".repeat(512)), "é".repeat(512));
  assert.throws(() => prefixOf("é".repeat(600)), /longer than 1024 UTF-8 bytes/);
  assert.equal(versionOf("7.1733160000000123"), "7.1733160000000123");
  assert.throws(() => versionOf("v".repeat(65)), /Invalid --if-version/);
  assert.equal(requestIdOf("r".repeat(100)), "r".repeat(100));
  assert.throws(() => requestIdOf("r".repeat(101)), /Invalid --request-id/);
});
