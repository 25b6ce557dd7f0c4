// An answer's body of text and bytes: one string when all text, else the bytes in order.

import assert from "node:assert/strict";
import { BodyParts } from "./body_parts.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("BodyParts gives text alone as one string", () => {
  const parts = new BodyParts();
  parts.add("{");
  parts.add('"a":"é"');
  parts.add("}");
  assert.equal(parts.body(), '{"a":"é"}');
  assert.equal(new BodyParts().body(), "");
});

Deno.test("BodyParts gives text and bytes as the bytes of each in order", () => {
  const parts = new BodyParts();
  parts.add('{"a":"');
  parts.add(utf8("é😀 and more"));
  parts.add('","b":"');
  parts.add(utf8("x"));
  parts.add(utf8("y"));
  parts.add('"}');
  const body = parts.body();
  assert.ok(body instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(body), '{"a":"é😀 and more","b":"xy"}');
  const bytesOnly = new BodyParts();
  bytesOnly.add(utf8("ab"));
  assert.deepEqual(bytesOnly.body(), utf8("ab"));
});
