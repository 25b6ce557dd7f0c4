import assert from "node:assert/strict";
import {
  MAX_REPLICA_ENTRIES,
  type RawReplica,
  readReplicaBody,
  replicaBody,
} from "./replica_body.ts";
import { Replica } from "./replica.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `replicas` with every bytes value as text. */
function asText(replicas: RawReplica[]): Replica[] {
  return replicas.map((r) =>
    r.value instanceof Uint8Array ? { ...r, value: decoder.decode(r.value) } : r as Replica
  );
}

Deno.test("replicaBody() splices bytes values into the JSON the same replicas make as text", () => {
  const replicas: RawReplica[] = [
    { key: "a", version: 1, epoch: 3, value: encoder.encode("x".repeat(100_000)), ttlMs: 500 },
    { key: "b", version: 2, value: 'with "quotes"' },
    { key: "c", version: 3, deleted: true },
    { key: "ключ", version: 4, value: encoder.encode("é😀") },
  ];
  const body = replicaBody(replicas);
  assert.ok(body instanceof Uint8Array);
  assert.deepEqual(JSON.parse(decoder.decode(body)), { entries: asText(replicas) });
  const text = replicaBody(asText(replicas));
  assert.equal(typeof text, "string", "no bytes values: JSON text, as before");
  assert.deepEqual(JSON.parse(text as string), { entries: asText(replicas) });
});

Deno.test("readReplicaBody() reads values' states with values as bytes, as the schema takes them", () => {
  const replicas: RawReplica[] = [
    { key: "a", version: 1, epoch: 3, value: encoder.encode("x".repeat(1000)), ttlMs: 500 },
    { key: "ключ", version: 4, value: encoder.encode("é😀") },
    { key: "gone", version: 5 }, // no value: a deletion, as the JSON route applies it too
  ];
  const read = readReplicaBody(replicaBody(replicas) as Uint8Array, 0)!;
  assert.deepEqual(asText(read.entries), asText(replicas));
  const spaced = encoder.encode(' { "entries" : [ {"version":1, "key":"k" , "value":"v"} ] } ');
  assert.deepEqual(asText(readReplicaBody(spaced, 0)!.entries), [{
    key: "k",
    version: 1,
    value: "v",
  }]);
});

Deno.test("readReplicaBody() leaves every other body to the JSON parser and the schema", () => {
  const others = [
    '{"entries":[{"key":"k","version":1,"deleted":true}]}',
    '{"entries":[{"key":"k","version":1,"value":"v","requests":[]}]}',
    '{"entries":[{"key":"k","version":1,"value":"a\\nb"}]}',
    '{"entries":[{"key":"k","version":0,"value":"v"}]}', // the schema's positive version
    '{"entries":[{"key":"k","version":1.5,"value":"v"}]}',
    '{"entries":[{"key":"","version":1,"value":"v"}]}',
    '{"entries":[{"version":1,"value":"v"}]}',
    '{"entries":[{"key":"k","version":1,"value":"v"}],"x":1}',
    '{"entries":[{"key":"k","version":1,"value":"v"},]}',
    '{"entries":[]}',
    '{"entries":{}}',
    '{"entry":[{"key":"k","version":1,"value":"v"}]}',
    '{"entries":[{"key":"k","version":1,"value":"v"}]',
  ];
  for (const body of others) {
    assert.equal(readReplicaBody(encoder.encode(body), 0), undefined, body);
  }
  const entry = { key: "k", version: 1, value: encoder.encode("v") };
  const many = replicaBody(Array.from({ length: MAX_REPLICA_ENTRIES + 1 }, () => entry));
  assert.equal(readReplicaBody(many as Uint8Array, 0), undefined, "past the schema's most entries");
});
