import assert from "node:assert/strict";
import { FlatReader } from "./raw_json.ts";

const encoder = new TextEncoder();

Deno.test("FlatReader reads known fields in any order, strings as text or bytes, and its end", () => {
  const reader = new FlatReader([["name", "string"], ["data", "bytes"], ["n", "number"]]);
  const bytes = encoder.encode('[{ "n": -1.5e2, "data": "d", "name": "é" }, 1]');
  for (
    const [text, n] of [["0", 0], ["7", 7], ["123456789012345", 123456789012345], ["1e3", 1000]]
  ) {
    assert.equal(reader.read(encoder.encode(`{"n":${text}}`), 0)?.values[2], n, text as string);
  }
  const read = reader.read(bytes, 1)!;
  assert.deepEqual(read.values, ["é", encoder.encode("d"), -150]);
  assert.equal(bytes[read.end], 0x2c, "just past the closing brace");
  const only = reader.read(encoder.encode('{"n":1}'), 0)!.values;
  assert.deepEqual([only[0], only[1], only[2]], [undefined, undefined, 1]);
});

Deno.test("FlatReader keeps a leading byte order mark, as JSON.parse does", () => {
  const reader = new FlatReader([["key", "string"], ["value", "string"]]);
  const text = '{"key":"\ufeffvictim","value":"\ufeffv"}';
  const { key, value } = JSON.parse(text);
  assert.deepEqual(reader.read(encoder.encode(text), 0)?.values, [key, value]);
  assert.equal(key, "\ufeffvictim");
});

Deno.test("FlatReader reads nothing it cannot read exactly as JSON.parse does", () => {
  const reader = new FlatReader([["a", "string"], ["n", "number"]]);
  for (
    const text of [
      '{"a":"x\\u0041"}',
      '{"a":"x","a":"y"}',
      '{"b":"x"}',
      '{"n":[1]}',
      '{"n":true}',
      '{"n":"1"}',
      '{"n":1,}',
      '{"n":01}',
      '{"n":1.}',
      '{"n":--1}',
      "{}",
      '{"a":"x"',
    ]
  ) {
    assert.equal(reader.read(encoder.encode(text), 0), undefined, text);
  }
});
