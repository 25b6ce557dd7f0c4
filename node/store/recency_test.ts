import assert from "node:assert/strict";
import { RecencyList } from "./recency.ts";

interface Entry {
  key: string;
  older: Entry | undefined;
  newer: Entry | undefined;
}

const entry = (key: string): Entry => ({ key, older: undefined, newer: undefined });

/** Keys from least to most recently used, walking the links. */
function order(list: RecencyList<Entry>): string[] {
  const keys: string[] = [];
  for (let at = list.oldest; at; at = at.newer) keys.push(at.key);
  return keys;
}

Deno.test("RecencyList keeps entries from least to most recently used", () => {
  const list = new RecencyList<Entry>();
  const [a, b, c] = ["a", "b", "c"].map(entry);
  for (const e of [a, b, c]) list.append(e);
  assert.deepEqual(order(list), ["a", "b", "c"]);
  list.touch(a);
  assert.deepEqual(order(list), ["b", "c", "a"]);
  list.touch(a); // already the newest
  assert.deepEqual(order(list), ["b", "c", "a"]);
});

Deno.test("RecencyList.unlink() takes out the oldest, a middle or the newest entry", () => {
  const list = new RecencyList<Entry>();
  const [a, b, c, d] = ["a", "b", "c", "d"].map(entry);
  for (const e of [a, b, c, d]) list.append(e);
  list.unlink(a);
  list.unlink(c);
  list.unlink(d);
  assert.deepEqual(order(list), ["b"]);
  assert.equal(b.older, undefined);
  assert.equal(b.newer, undefined);
  list.unlink(b);
  assert.equal(list.oldest, undefined);
  list.append(c);
  assert.deepEqual(order(list), ["c"]);
});
