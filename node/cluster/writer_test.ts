// The node's write path on its own store: conditional writes, increments and touches.

import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import { Store } from "../store/store.ts";
import { MAX_REQUESTS_PER_KEY } from "../store/requests.ts";
import { Writer } from "./writer.ts";

const MAX_VALUE_BYTES = 1024;

/** A writer with no replicator over a store whose clock the test owns, still at 0 at first. */
function writer(defaultTtlSeconds = 0) {
  const clock = { now: 0 };
  const store = new Store({ now: () => clock.now });
  return { clock, store, writer: new Writer(store, undefined, MAX_VALUE_BYTES, defaultTtlSeconds) };
}

/** The HttpError `promise` rejects with; fails when it resolves or rejects with anything else. */
async function refusal(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof HttpError, `an HttpError, not ${error}`);
  return error;
}

Deno.test("Writer.write() with if absent writes a key not stored, else 412 with its version", async () => {
  const { store, writer: w } = writer();
  await w.write([{ key: "k", value: "first" }], {}, { if: "absent" });
  assert.deepEqual(store.peek("k"), { value: "first", version: "0.1" });
  const error = await refusal(w.write([{ key: "k", value: "second" }], {}, { if: "absent" }));
  assert.equal(error.status, 412);
  assert.deepEqual(error.details, { version: "0.1" });
  assert.match(error.message, /^Key "k" is at version 0\.1: "if": "absent" does not hold$/);
  assert.deepEqual(store.peek("k"), { value: "first", version: "0.1" }, "unchanged");
});

Deno.test("Writer.write() with if present replaces a stored key, else 412 with a null version", async () => {
  const { store, writer: w } = writer();
  const error = await refusal(w.write([{ key: "k", value: "v" }], {}, { if: "present" }));
  assert.equal(error.status, 412);
  assert.deepEqual(error.details, { version: null });
  assert.match(error.message, /^Key "k" is not stored: "if": "present" does not hold$/);
  assert.equal(store.peek("k"), undefined, "nothing written");
  assert.deepEqual(store.keys(), []);
  await w.write([{ key: "k", value: "v" }]);
  await w.write([{ key: "k", value: "w" }], {}, { if: "present" });
  assert.deepEqual(store.peek("k"), { value: "w", version: "0.2" });
});

Deno.test("Writer.write() with ifVersion writes only over that version", async () => {
  const { store, writer: w } = writer();
  const missing = await refusal(w.write([{ key: "k", value: "v" }], {}, { ifVersion: "0.1" }));
  assert.deepEqual([missing.status, missing.details], [412, { version: null }]);
  assert.equal(store.peek("k"), undefined);
  await w.write([{ key: "k", value: "v1" }]);
  await w.write([{ key: "k", value: "v2" }], {}, { ifVersion: "0.1" });
  assert.deepEqual(store.peek("k"), { value: "v2", version: "0.2" });
  // A stale version: the write it read is gone.
  const stale = await refusal(w.write([{ key: "k", value: "v3" }], {}, { ifVersion: "0.1" }));
  assert.equal(stale.status, 412);
  assert.deepEqual(stale.details, { version: "0.2" });
  assert.match(stale.message, /"ifVersion": "0\.1" does not hold/);
  assert.deepEqual(store.peek("k"), { value: "v2", version: "0.2" }, "unchanged");
  // Both conditions must hold.
  const both = await refusal(
    w.write([{ key: "k", value: "v3" }], {}, { if: "absent", ifVersion: "0.2" }),
  );
  assert.deepEqual([both.status, both.details], [412, { version: "0.2" }]);
  assert.equal(store.peek("k")?.value, "v2");
});

Deno.test("Writer.incr() starts a key not stored at 0, answering the new value and version", async () => {
  const { store, writer: w } = writer();
  assert.deepEqual(await w.incr("n", { by: 5 }), { key: "n", value: 5, version: "0.1" });
  assert.deepEqual(await w.incr("n", { by: -7 }), { key: "n", value: -2, version: "0.2" });
  assert.deepEqual(store.peek("n"), { value: "-2", version: "0.2" });
  assert.deepEqual(await w.incr("m", { by: -1 }), { key: "m", value: -1, version: "0.3" });
});

Deno.test("Writer.incr() keeps the key's TTL without a ttl, sets it with one", async () => {
  const { clock, store, writer: w } = writer(60);
  assert.equal((await w.incr("new", { by: 1 })).value, 1);
  assert.equal(store.peek("new")?.ttlMs, 60_000, "a new key gets the default TTL");
  await w.write([{ key: "n", value: "10", ttl: 1 }]);
  clock.now = 400;
  assert.equal((await w.incr("n", { by: 1 })).value, 11);
  assert.equal(store.peek("n")?.ttlMs, 600, "the time it had left");
  store.set("forever", "1"); // as a replica with no TTL would be
  assert.deepEqual(store.peek("forever"), { value: "1", version: "0.400001" });
  await w.incr("forever", { by: 1 });
  assert.equal(store.peek("forever")?.ttlMs, undefined, "it had none: not the default");
  await w.incr("n", { by: 1, ttl: 10 });
  assert.deepEqual(store.peek("n"), { value: "12", version: "0.400003", ttlMs: 10_000 });
  clock.now = 10_400;
  assert.equal(store.peek("n"), undefined);
});

Deno.test("Writer.incr() refuses a value not a decimal integer with 409, changing nothing", async () => {
  const { store, writer: w } = writer();
  for (const value of ["abc", "1.5", "", " 1", "1e3", "0x10"]) {
    await w.write([{ key: "k", value }]);
    const before = store.peek("k");
    const error = await refusal(w.incr("k", { by: 1 }));
    assert.equal(error.status, 409, JSON.stringify(value));
    assert.match(error.message, /^Key "k" does not hold a decimal integer/);
    assert.deepEqual(store.peek("k"), before, JSON.stringify(value));
  }
});

Deno.test("Writer.incr() refuses a result past 2^53 - 1 with 409, changing nothing", async () => {
  const { store, writer: w } = writer();
  const max = Number.MAX_SAFE_INTEGER;
  await w.write([{ key: "k", value: String(max - 1) }]);
  assert.equal((await w.incr("k", { by: 1 })).value, max, "up to 2^53 - 1");
  const before = store.peek("k");
  const over = await refusal(w.incr("k", { by: 1 }));
  assert.equal(over.status, 409);
  assert.match(over.message, /past the safe integers/);
  assert.deepEqual(store.peek("k"), before);
  await w.write([{ key: "low", value: String(-max) }]);
  const lowBefore = store.peek("low");
  const under = await refusal(w.incr("low", { by: -1 }));
  assert.equal(under.status, 409);
  assert.deepEqual(store.peek("low"), lowBefore);
  // A stored value past the safe integers is not one to add to either.
  await w.write([{ key: "big", value: "9007199254740993" }]);
  assert.equal((await refusal(w.incr("big", { by: -10 }))).status, 409);
  assert.equal(store.peek("big")?.value, "9007199254740993");
});

Deno.test("Writer.incr() with a request id it has applied answers the same and adds once", async () => {
  const { store, writer: w } = writer();
  const first = await w.incr("n", { by: 5, requestId: "r1" });
  assert.deepEqual(first, { key: "n", value: 5, version: "0.1" });
  assert.deepEqual(await w.incr("n", { by: 5, requestId: "r1" }), first, "a retry");
  assert.deepEqual(store.peek("n"), { value: "5", version: "0.1" });
  const second = await w.incr("n", { by: 2, requestId: "r2" });
  assert.deepEqual(second, { key: "n", value: 7, version: "0.2" });
  // A late retry of the first answers what it answered then, not the value now.
  assert.deepEqual(await w.incr("n", { by: 5, requestId: "r1" }), first);
  // An id names one increment, whatever it is sent with (docs/atomic.md).
  assert.deepEqual(await w.incr("n", { by: 40, ttl: 9, requestId: "r1" }), first);
  assert.equal(store.peek("n")?.value, "7");
  assert.deepEqual(store.replica("n")?.requests?.map((a) => a.id), ["r1", "r2"]);
  // The ids are the key's: the same id on another key is another increment.
  assert.equal((await w.incr("other", { by: 1, requestId: "r1" })).value, 1);
  // Without an id, every call adds.
  await w.incr("n", { by: 1 });
  await w.incr("n", { by: 1 });
  assert.equal(store.peek("n")?.value, "9");
});

Deno.test("Writer.incr() refuses a resend it cannot place once the key's ids are full", async () => {
  const { store, writer: w } = writer();
  await w.incr("n", { by: 1, requestId: "first" });
  for (let i = 0; i < MAX_REQUESTS_PER_KEY; i++) await w.incr("n", { by: 1, requestId: `o${i}` });
  const total = MAX_REQUESTS_PER_KEY + 1;
  // "first" was applied, and is forgotten: sent again, it must not be applied twice.
  const error = await refusal(w.incr("n", { by: 1, requestId: "first", retry: true }));
  assert.equal(error.status, 409);
  assert.match(error.message, /cannot tell whether increment "first" was applied/);
  // Here the first try was applied: the message does not say it was not.
  assert.match(error.message, /This retry was not applied; the first try may have been$/);
  assert.equal(store.peek("n")?.value, String(total), "nothing added");
  // A resend whose id is remembered answers as before; a first send is applied.
  const last = `o${MAX_REQUESTS_PER_KEY - 1}`;
  assert.equal((await w.incr("n", { by: 1, requestId: last, retry: true })).value, total);
  assert.equal((await w.incr("n", { by: 1, requestId: "new" })).value, total + 1);
  // With room for more ids, an id not remembered was never applied here: a resend adds.
  assert.equal((await w.incr("m", { by: 1, requestId: "lost", retry: true })).value, 1);
});

Deno.test("Writer.touch() sets and removes a key's TTL, and is false for a key not stored", async () => {
  const { clock, store, writer: w } = writer();
  assert.equal(await w.touch("missing", 10), false);
  assert.equal(store.peek("missing"), undefined);
  assert.deepEqual(store.keys(), [], "no deletion nor key remembered");
  await w.write([{ key: "k", value: "v" }]);
  assert.equal(await w.touch("k", 2), true);
  assert.deepEqual(store.peek("k"), { value: "v", version: "0.2", ttlMs: 2000 }, "a new version");
  clock.now = 1000;
  assert.equal(await w.touch("k", null), true);
  assert.deepEqual(store.peek("k"), { value: "v", version: "0.1000000" });
  clock.now = 5000;
  assert.equal(store.peek("k")?.value, "v", "kept past the TTL it had");
  assert.equal(await w.touch("k", 1), true);
  clock.now = 6000;
  assert.equal(store.peek("k"), undefined);
  assert.equal(await w.touch("k", 1), false, "expired");
});

Deno.test("Writer.write() on a node standing alone refuses a floor far ahead of its clock", async () => {
  const { store, writer: w } = writer();
  // One at 2^53 - 1 would leave every later write the same version: ifVersion would mean nothing.
  const far = w.write([{ key: "a", value: "1" }], { floor: Number.MAX_SAFE_INTEGER });
  assert.equal((await refusal(far)).status, 409);
  assert.equal(store.get("a"), undefined);
  await w.write([{ key: "a", value: "1" }], { floor: 5000 }); // 5 ms ahead: above it
  assert.equal(store.versionOf("a"), "0.5001");
});

Deno.test("Writer.apply() past a copy a full store refuses applies the rest, naming the refused", () => {
  // A batch refused whole at its first new key kept a full node's handover from ever counting the
  // keys its peers held already: nodes full under noeviction each waited for another to drop keys.
  const store = new Store({ now: () => 0, maxBytes: 4096, eviction: "noeviction" });
  const writer = new Writer(store, undefined, MAX_VALUE_BYTES);
  for (let i = 0; store.stats().bytes < 3500; i++) store.set(`k${i}`, "v".repeat(200));
  const held = store.replica("k0")!;
  const error = (() => {
    try {
      writer.apply([
        { key: "new", value: "n".repeat(1000), version: 9, epoch: 1 },
        held, // the same state: taken as held, needing no room
        { key: "k1", version: 10, epoch: 1, deleted: true },
      ]);
    } catch (error) {
      return error;
    }
  })();
  assert.ok(error instanceof HttpError, `an HttpError, not ${error}`);
  assert.equal(error.status, 507);
  assert.deepEqual(error.details, { refused: ["new"] });
  assert.match(error.message, /^1 of 3 copies refused, the others taken: Out of memory/);
  assert.equal(store.get("k1"), undefined, "the deletion after the refused copy is applied");
  assert.equal(store.get("new"), undefined);
});
