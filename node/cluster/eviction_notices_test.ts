import assert from "node:assert/strict";
import { silentLogger } from "@cache/log/log";
import type { EvictedState } from "@cache/protocol/replica";
import { EvictionNotices, MAX_WAITING } from "./eviction_notices.ts";
import { MAX_BATCH_BYTES } from "@cache/protocol/wire";

const SELF = "http://a";

/** Notices over a ring where this node is the primary of keys starting with "mine". */
function notices(
  send: (backup: string, evicted: EvictedState[]) => Promise<void>,
  gatherMs = 0,
) {
  return new EvictionNotices({
    self: SELF,
    owners: (key) =>
      key.startsWith("mine") ? [SELF, "http://b", "http://c"] : ["http://b", SELF, "http://c"],
    send,
    log: silentLogger,
    gatherMs,
  });
}

Deno.test("EvictionNotices tells a key's backups only when this node is its primary", async () => {
  const sent: [string, EvictedState[]][] = [];
  const evictions = notices((backup, evicted) => {
    sent.push([backup, evicted]);
    return Promise.resolve();
  });
  evictions.evicted("mine1", { epoch: 2, version: 7 });
  evictions.evicted("theirs", { epoch: 2, version: 8 });
  evictions.evicted("mine2", { version: 9 });
  await evictions.idle();
  const told = [{ key: "mine1", epoch: 2, version: 7 }, { key: "mine2", epoch: 0, version: 9 }];
  assert.deepEqual(sent, [["http://b", told], ["http://c", told]]);
});

Deno.test("EvictionNotices gathers notices while a backup's call is out, and goes on past a failure", async () => {
  const calls: [string, string[]][] = [];
  let release = () => {};
  const evictions = notices(async (backup, evicted) => {
    calls.push([backup, evicted.map((notice) => notice.key)]);
    if (calls.length > 1) return;
    await new Promise<void>((resolve) => release = resolve); // the first call waits, then fails
    throw new Error("the backup did not answer");
  });
  evictions.evicted("mine1", { epoch: 1, version: 1 });
  await new Promise((resolve) => setTimeout(resolve, 0));
  for (let i = 2; i <= 4; i++) evictions.evicted(`mine${i}`, { epoch: 1, version: 1 });
  await new Promise((resolve) => setTimeout(resolve, 0));
  release();
  await evictions.idle();
  assert.deepEqual(calls, [
    ["http://b", ["mine1"]],
    ["http://c", ["mine1"]],
    ["http://c", ["mine2", "mine3", "mine4"]], // b's call was still out: its notices wait
    ["http://b", ["mine2", "mine3", "mine4"]],
  ]);
  assert.equal(evictions.unsent, 1); // b's first call failed
});

Deno.test("EvictionNotices keeps at most MAX_WAITING notices per backup, counting the rest", async () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const evictions = notices(() => gate);
  evictions.evicted("mine0", { epoch: 1, version: 1 });
  await new Promise((resolve) => setTimeout(resolve, 0)); // the first call is out
  for (let i = 1; i <= MAX_WAITING + 5; i++) {
    evictions.evicted(`mine${i}`, { epoch: 1, version: 1 });
  }
  assert.equal(evictions.unsent, 2 * 5);
  release();
  await evictions.idle();
});

Deno.test("EvictionNotices sends long keys in calls within a body any node takes", async () => {
  const sizes: number[] = [];
  const evictions = notices((_backup, evicted) => {
    sizes.push(JSON.stringify({ evicted }).length);
    return Promise.resolve();
  });
  for (let i = 0; i < 300; i++) evictions.evicted(`mine${i}`.padEnd(1000, "x"), { version: 1 });
  await evictions.idle();
  assert.ok(sizes.length > 2, `${sizes.length} calls`);
  assert.ok(sizes.every((size) => size <= MAX_BATCH_BYTES), `call bodies ${sizes}`);
});

Deno.test("EvictionNotices gather for a moment: evictions of writes close together go in one call", async () => {
  const calls: string[][] = [];
  const evictions = notices((backup, evicted) => {
    if (backup === "http://b") calls.push(evicted.map((notice) => notice.key));
    return Promise.resolve();
  }, 30);
  evictions.evicted("mine1", { version: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5)); // another write, a little later
  evictions.evicted("mine2", { version: 1 });
  await evictions.idle();
  assert.deepEqual(calls, [["mine1", "mine2"]]);
});
