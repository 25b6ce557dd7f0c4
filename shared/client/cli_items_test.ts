// mset's two input forms, its errors by line, and the batches mget and mset send.

import assert from "node:assert/strict";
import { batches, itemBytes } from "./batches.ts";
import { ItemsError, parseItems } from "./cli_items.ts";
import { MAX_BATCH, MAX_BATCH_BYTES } from "@cache/protocol/wire";

Deno.test("parseItems() reads JSON lines, skipping blank lines, with \\r\\n or \\n", () => {
  const text = '\uFEFF{"key":"a","value":"1"}\r\n\r\n  {"value":"2","key":"b","ttl":60}\n';
  assert.deepEqual(parseItems(text, "in"), [
    { key: "a", value: "1" },
    { key: "b", value: "2", ttlSeconds: 60 },
  ]);
});

Deno.test("parseItems() reads one JSON array, over several lines", () => {
  const text = '\n[\n  {"key":"a","value":"1","ttl":0.5},\n  {"key":"b","value":""}\n]\n';
  assert.deepEqual(parseItems(text, "in"), [
    { key: "a", value: "1", ttlSeconds: 0.5 },
    { key: "b", value: "" },
  ]);
});

Deno.test("parseItems() names the source, the line or index, and the reason of a bad item", () => {
  const cases: [string, string][] = [
    ['{"key":"a","value":"1"}\n{"key":"a",', "Invalid JSON on line 2 of f.jsonl: "],
    ['{"key":"a","value":1}', "Invalid item on line 1 of f.jsonl: value must be a string"],
    ['{"key":1,"value":"1"}', "Invalid item on line 1 of f.jsonl: key must be a string"],
    ['{"key":"","value":"1"}', "Invalid item on line 1 of f.jsonl: Key must not be empty"],
    ['{"key":"a","value":"1","ttl":-1}', "Invalid item on line 1 of f.jsonl: ttl must be > 0"],
    ['{"key":"a","value":"1","ttlSeconds":5}', 'unknown field "ttlSeconds": expected key, value'],
    ['"a"', "Invalid item on line 1 of f.jsonl: expected an object"],
    ['[{"key":"a","value":"1"}, []]', "Invalid item 2 of the array in f.jsonl: expected"],
    ['[{"key":"a"', "Invalid JSON array in f.jsonl: "],
    ["\n \n", "No items in f.jsonl"],
    ["[]", "No items in f.jsonl"],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseItems(text, "f.jsonl"),
      (error: Error) => error instanceof ItemsError && error.message.includes(message),
      `${text} -> ${message}`,
    );
  }
});

Deno.test("batches() cuts at MAX_BATCH items and at MAX_BATCH_BYTES, keeping order", () => {
  const many = Array.from({ length: MAX_BATCH * 2 + 1 }, (_, i) => i);
  assert.deepEqual(batches(many, () => 1).map((batch) => batch.length), [MAX_BATCH, MAX_BATCH, 1]);
  assert.deepEqual(batches(many, () => 1).flat(), many);
  const big = MAX_BATCH_BYTES / 2;
  assert.deepEqual(batches([1, 2, 3], () => big), [[1, 2], [3]]);
  assert.deepEqual(batches([1, 2, 3], (n) => n === 2 ? MAX_BATCH_BYTES * 3 : 10), [[1], [2], [3]]);
  assert.deepEqual(batches([], () => 1), []);
});

Deno.test("itemBytes() counts an item's JSON in UTF-8, and a comma", () => {
  assert.equal(itemBytes({ key: "a", value: "1" }), '{"key":"a","value":"1"}'.length + 1);
  // "é" is 2 bytes in UTF-8, 1 character in JSON.
  assert.equal(
    itemBytes({ key: "a", value: "é", ttlSeconds: 5 }),
    '{"key":"a","value":"é","ttl":5}'.length + 2,
  );
});
