import assert from "node:assert/strict";
import { readMsetBody, readSetBody, readStampedBody } from "./set_body.ts";
import { MAX_BATCH, MSetRequest, SetRequest, StampedRequest } from "./wire.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What readSetBody makes of `body`, with the value as text. */
function read(body: string) {
  const write = readSetBody(encoder.encode(body));
  return write && { ...write, value: decoder.decode(write.value) };
}

Deno.test("readSetBody reads a plain write in any order, with spaces and a TTL", () => {
  assert.deepEqual(read('{"key":"k","value":"v"}'), { key: "k", value: "v" });
  assert.deepEqual(read(' {\n "value" : "a b/c" ,\t"ttl": 1.5e1, "key":"user:42" }\r\n'), {
    key: "user:42",
    value: "a b/c",
    ttl: 15,
  });
  assert.deepEqual(read('{"key":"k","value":""}'), { key: "k", value: "" });
  assert.deepEqual(read('{"key":"ключ","value":"é😀"}'), { key: "ключ", value: "é😀" });
});

Deno.test("readSetBody leaves every other body to the JSON parser", () => {
  const others = [
    '{"key":"k","value":"v","if":"absent"}', // another field
    '{"key":"k","value":"a\\"b"}', // an escape
    '{"key":"k","value":"a\tb"}', // a control character: the parser refuses it
    '{"key":"k","key":"j","value":"v"}', // a repeated field
    '{"key":"k","value":"v",}',
    '{"key":"k","value":"v"} x',
    '{"key":"k","value":"v"',
    '{"key":"k"}',
    '{"value":"v"}',
    '{"key":"","value":"v"}', // the schema refuses it
    '{"key":"..","value":"v"}',
    `{"key":"${"k".repeat(1025)}","value":"v"}`,
    '{"key":"k","value":"v","ttl":0}',
    '{"key":"k","value":"v","ttl":"60"}',
    '{"key":"k","value":"v","ttl":1e999}',
    '{"key":"k","value":"v","ttl":01}',
    '{"key":"k","value":7}',
    "{}",
    "[]",
    "",
  ];
  for (const body of others) assert.deepEqual(read(body), undefined, body);
});

Deno.test("readSetBody agrees with the JSON parser and the schema wherever it reads a body", () => {
  const bodies = [
    '{"key":"a","value":"1"}',
    '{"ttl":60,"key":"a b","value":"{\'x\': 1}"}',
    '{ "key" : "~!@#$%^&*()_+`-=[]{}|;:,./<>?" , "value" : "" , "ttl" : 0.001 }',
  ];
  for (const body of bodies) {
    const parsed = SetRequest.parse(JSON.parse(body));
    assert.deepEqual(read(body), parsed, body);
  }
});

Deno.test("readSetBody's value is a view of the body: no copy", () => {
  const bytes = encoder.encode('{"key":"k","value":"0123456789"}');
  const write = readSetBody(bytes)!;
  assert.deepEqual(write.value.buffer, bytes.buffer);
  assert.deepEqual(write.value.byteOffset, 20);
});

Deno.test("readSetBody finds an escape, a control character or invalid UTF-8 anywhere in a value", () => {
  const value = "0123456789abcdef".repeat(8);
  for (let at = 0; at < value.length; at++) {
    for (const special of ["\\\\", "\\n", "\n", "\u0001", '"']) {
      const body = `{"key":"k","value":"${value.slice(0, at)}${special}${value.slice(at)}"}`;
      // Taken only as the JSON parser takes it; an escape is left to the parser.
      assert.equal(read(body), undefined, JSON.stringify(special) + " at " + at);
    }
  }
  const bytes = encoder.encode(`{"key":"k","value":"${value}"}`);
  for (const at of [20, 21, 22, 23, 100, bytes.length - 3]) {
    const invalid = bytes.slice();
    invalid[at] = 0xff;
    assert.equal(readSetBody(invalid), undefined, `0xff at ${at}`);
  }
  // The same body at every alignment of its buffer.
  for (let shift = 0; shift < 4; shift++) {
    const shifted = new Uint8Array(bytes.length + shift);
    shifted.set(bytes, shift);
    assert.equal(decoder.decode(readSetBody(shifted.subarray(shift))!.value), value);
  }
});

Deno.test("readMsetBody reads every plain write of a batch, or leaves the batch to JSON", () => {
  const read = (body: string) =>
    readMsetBody(encoder.encode(body), 0)?.items.map((w) => ({
      ...w,
      value: decoder.decode(w.value),
    }));
  const body = '{"items":[{"key":"a","value":"1"}, {"ttl":5,"key":"é","value":"😀"}]}';
  assert.deepEqual(read(body), MSetRequest.parse(JSON.parse(body)).items);
  const others = [
    '{"items":[{"key":"a","value":"1"},{"key":"b","value":"a\\"b"}]}', // one escape: all to JSON
    '{"items":[{"key":"a","value":"1","x":1}]}',
    '{"items":[{"key":"","value":"1"}]}',
    '{"items":[]}',
    '{"items":[{"key":"a","value":"1"}],"more":1}',
    '{"keys":[{"key":"a","value":"1"}]}',
  ];
  for (const other of others) assert.equal(read(other), undefined, other);
  const many = `{"items":[${Array(MAX_BATCH + 1).fill('{"key":"k","value":"v"}').join(",")}]}`;
  assert.equal(read(many), undefined, "past the schema's most items");
  assert.equal(readMsetBody(encoder.encode(body)), undefined, "16 KiB at least by default");
});

Deno.test("readStampedBody reads stamped writes the schema takes, or leaves the batch to JSON", () => {
  const read = (body: string) =>
    readStampedBody(encoder.encode(body), 0)?.items.map((w) => ({
      ...w,
      value: decoder.decode(w.value),
    }));
  const body = '{"items":[{"key":"a","value":"1","version":7},' +
    ' {"version":9007199254740991,"ttl":5,"key":"é","value":"😀"}]}';
  assert.deepEqual(read(body), StampedRequest.parse(JSON.parse(body)).items);
  const others = [
    '{"items":[{"key":"a","value":"1"}]}', // no version
    '{"items":[{"key":"a","value":"1","version":0}]}',
    '{"items":[{"key":"a","value":"1","version":-3}]}',
    '{"items":[{"key":"a","value":"1","version":1.5}]}',
    '{"items":[{"key":"a","value":"1","version":9007199254740992}]}',
    '{"items":[{"key":"a","value":"1","version":"7"}]}',
    '{"items":[{"key":"a","value":"1","version":7,"x":1}]}', // dropped by the schema: JSON's
    '{"items":[{"key":"a","value":"a\\"b","version":7}]}',
    '{"items":[]}',
  ];
  for (const other of others) assert.equal(read(other), undefined, other);
  assert.equal(readStampedBody(encoder.encode(body)), undefined, "16 KiB at least by default");
});
