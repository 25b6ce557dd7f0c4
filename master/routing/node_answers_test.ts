// What the master cuts out of a node's `/mget` lines: each read's own body, long ones as bytes.

import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import { LINES_TYPE } from "@cache/protocol/wire";
import fc from "fast-check";
import { foundLines, LARGE_LINE_BYTES, valueChars, versionEpochOf } from "./node_answers.ts";

const lines = (text: string) => ({
  status: 200,
  headers: [["content-type", LINES_TYPE]] as [string, string][],
  body: new TextEncoder().encode(text),
});
const item = (key: string, value: string) => JSON.stringify({ key, value, version: "1.2" });

Deno.test("foundLines() gives each key asked its line, none for null, long lines as bytes", () => {
  const long = item("b", "é".repeat(LARGE_LINE_BYTES));
  for (const filler of ["", "x".repeat(LARGE_LINE_BYTES)]) {
    const short = item("a", `v${filler.slice(0, 10)}`);
    const body = `${short}\nnull\n${filler ? long : item("b", "w")}\n`;
    const found = foundLines("http://n:1", lines(body), ["a", "c", "b"]);
    assert.deepEqual([...found.keys()], ["a", "b"]);
    assert.equal(found.get("a"), short, "a short line as text");
    const b = found.get("b")!;
    if (filler) {
      assert.ok(b instanceof Uint8Array, "a long line as the node's bytes");
      assert.equal(new TextDecoder().decode(b), long);
    } else assert.equal(b, item("b", "w"));
  }
});

Deno.test("foundLines() refuses an answer with fewer lines than keys asked, short or long", () => {
  for (const value of ["v", "x".repeat(LARGE_LINE_BYTES)]) {
    assert.throws(
      () => foundLines("http://n:1", lines(`${item("a", value)}\nnull`), ["a", "b"]),
      (error) => error instanceof HttpError && error.status === 502,
    );
  }
});

Deno.test("valueChars() counts a value's characters in its item's JSON, from text or bytes", () => {
  const unit = fc.constantFrom("a", "é", "😀", '"', "\\", "\n", "\u0001", "\ud800", ",", '","');
  const text = fc.string({ unit });
  const ttl = fc.option(fc.double({ min: 0.001, max: 1e9, noNaN: true }), { nil: undefined });
  fc.assert(fc.property(text, text, ttl, (key, value, ttl) => {
    const body = JSON.stringify({
      key,
      value,
      ...(ttl === undefined ? {} : { ttl }),
      version: "7.1",
    });
    const chars = JSON.stringify(value).length - 2;
    assert.equal(valueChars(key, body), chars);
    assert.equal(valueChars(key, new TextEncoder().encode(body)), chars);
  }));
});

Deno.test("versionEpochOf() reads the epoch of an item's version from its end, text or bytes", () => {
  const item = JSON.stringify({ key: "k", value: '"version":"9.9"}', ttl: 1.5, version: "7.12" });
  assert.equal(versionEpochOf(item), 7);
  assert.equal(versionEpochOf(new TextEncoder().encode(item)), 7);
  assert.equal(versionEpochOf('{"key":"k"}'), 0);
});
