import assert from "node:assert/strict";
import { RecencyList } from "./recency.ts";

/** Refs from least to most recently used, walking the links. */
function order(list: RecencyList): number[] {
  const refs: number[] = [];
  for (let ref = list.oldest; ref !== 0; ref = list.newerThan(ref)) refs.push(ref);
  return refs;
}

Deno.test("RecencyList keeps refs from least to most recently used", () => {
  const list = new RecencyList(new Uint32Array(64));
  for (const ref of [1, 2, 3]) list.append(ref);
  assert.deepEqual(order(list), [1, 2, 3]);
  list.touch(1);
  assert.deepEqual(order(list), [2, 3, 1]);
  list.touch(1); // already the newest
  assert.deepEqual(order(list), [2, 3, 1]);
});

Deno.test("RecencyList.unlink() takes out the oldest, a middle or the newest ref", () => {
  const list = new RecencyList(new Uint32Array(64));
  for (const ref of [1, 2, 3, 4]) list.append(ref);
  list.unlink(1);
  list.unlink(3);
  list.unlink(4);
  assert.deepEqual(order(list), [2]);
  list.unlink(2);
  assert.equal(list.oldest, 0);
  list.append(3);
  assert.deepEqual(order(list), [3]);
  list.clear();
  assert.deepEqual(order(list), []);
});
