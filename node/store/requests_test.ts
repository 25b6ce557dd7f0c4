import assert from "node:assert/strict";
import {
  MAX_REQUEST_KEY_CHARS,
  MAX_REQUESTS,
  MAX_REQUESTS_PER_KEY,
  REQUEST_MS,
  RequestLog,
} from "./requests.ts";

Deno.test("RequestLog recalls an increment by key and id until REQUEST_MS have passed", () => {
  let now = 0;
  const log = new RequestLog(() => now);
  log.remember("k", { id: "a", value: 1, version: "0.1" });
  assert.deepEqual(log.recall("k", "a"), { id: "a", value: 1, version: "0.1" });
  assert.equal(log.recall("other", "a"), undefined);
  assert.equal(log.recall("k", "b"), undefined);
  now = REQUEST_MS;
  assert.equal(log.recall("k", "a"), undefined);
  assert.equal(log.size, 0);
});

Deno.test("RequestLog keeps the last MAX_REQUESTS_PER_KEY ids of a key", () => {
  const log = new RequestLog(() => 0);
  for (let i = 0; i <= MAX_REQUESTS_PER_KEY; i++) {
    log.remember("k", { id: `r${i}`, value: i, version: `0.${i}` });
  }
  assert.equal(log.recall("k", "r0"), undefined);
  assert.equal(log.recall("k", `r${MAX_REQUESTS_PER_KEY}`)?.value, MAX_REQUESTS_PER_KEY);
  assert.equal(log.of("k")?.length, MAX_REQUESTS_PER_KEY);
});

Deno.test("RequestLog.replace() takes a newer state's ids in place of its own", () => {
  const log = new RequestLog(() => 0);
  log.remember("k", { id: "mine", value: 1, version: "0.1" });
  log.replace("k", [{ id: "theirs", value: 7, version: "2.5" }]);
  assert.equal(log.recall("k", "mine"), undefined);
  assert.deepEqual(log.of("k"), [{ id: "theirs", value: 7, version: "2.5" }]);
});

Deno.test("RequestLog forgets the least recently written keys past MAX_REQUESTS ids in all", () => {
  const log = new RequestLog(() => 0);
  const keys = MAX_REQUESTS / 4 + 1;
  for (let i = 0; i < keys; i++) {
    for (let r = 0; r < 4; r++) log.remember(`k${i}`, { id: `r${r}`, value: 0, version: "0" });
  }
  assert.ok(log.count <= MAX_REQUESTS, `${log.count} ids kept`);
  assert.equal(log.recall("k0", "r0"), undefined);
  assert.ok(log.recall(`k${keys - 1}`, "r3"));
  // Forgotten within two minutes: an id not found may have been applied, so the key counts as full.
  assert.equal(log.full("k0"), true);
  assert.equal(log.full(`k${keys - 1}`), false);
});

Deno.test("RequestLog forgets the least recently written keys past MAX_REQUEST_KEY_CHARS of keys", () => {
  const log = new RequestLog(() => 0);
  const long = (i: number) => `${i}:`.padEnd(1024, "k");
  const keys = MAX_REQUEST_KEY_CHARS / 1024 + 100;
  for (let i = 0; i < keys; i++) log.remember(long(i), { id: "r", value: 0, version: "0" });
  assert.ok(log.size <= MAX_REQUEST_KEY_CHARS / 1024, `${log.size} keys kept`);
  assert.equal(log.recall(long(0), "r"), undefined);
  assert.ok(log.recall(long(keys - 1), "r"));
  assert.equal(log.full(long(0)), true, "forgotten early: counts as full");
  log.clear();
  for (let i = 0; i < 10; i++) log.remember(long(i), { id: "r", value: 0, version: "0" });
  assert.equal(log.size, 10, "cleared: room again");
});

Deno.test("RequestLog no longer counts a key as full once its dropped ids would have expired", () => {
  const clock = { now: 0 };
  const log = new RequestLog(() => clock.now);
  for (let i = 0; i <= MAX_REQUESTS; i++) {
    log.remember(`k${i}`, { id: "r", value: 0, version: "0" });
  }
  assert.equal(log.full("k0"), true, "dropped for room");
  clock.now = REQUEST_MS + 1;
  assert.equal(log.full("k0"), false);
});
