// Writes a sender stamped and sent to every owner at once, as one node of three at R=2 takes them.

import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import { Ring } from "@cache/ring/ring";
import type { Fetch } from "@cache/http1/fetch";
import { entryBytes, Store, type StoreOptions } from "../store/store.ts";
import { MAX_FLOOR_AHEAD_US, MAX_STAMP_AHEAD_US, Replicator } from "./replicator.ts";
import { Writer } from "./writer.ts";

const nodes = ["http://a:1", "http://b:1", "http://c:1"];
const self = nodes[0];
const ring = new Ring(nodes);
const EPOCH = 10;
const NOW_MS = 1_000_000;

/** The first key whose owners at R=2 are as `test` says. */
function keyWhere(test: (owners: string[]) => boolean, from = 0): string {
  for (let i = from;; i++) if (test(ring.owners(`k${i}`, 2))) return `k${i}`;
}
const primaryKey = keyWhere((owners) => owners[0] === self);
const backupKey = keyWhere((owners) => owners[1] === self);
const otherKey = keyWhere((owners) => !owners.includes(self));

/**
 * Node `self` at ring `EPOCH`, its clock at `NOW_MS`, its lease as `source.leaseMs` says, calling
 * its peers through `fetch` (none by default) and storing up to `storeOptions`' bound.
 */
function setup(
  fetch: Fetch = () => Promise.reject(new Error("no peer calls")),
  storeOptions: StoreOptions = {},
) {
  const source = {
    view: { term: 0, epoch: EPOCH, replicas: 2, nodes, joined: {}, settled: true },
    ring,
    leaseMs: 1000,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => source.leaseMs,
  };
  const replicator = new Replicator({
    self,
    ring: source,
    fetch,
    timeoutMs: 100,
    now: () => NOW_MS,
  });
  const store = new Store({ now: () => NOW_MS, ...storeOptions });
  return { source, store, writer: new Writer(store, replicator, 1024) };
}

async function refusal(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof HttpError, `an HttpError, not ${error}`);
  return error;
}

Deno.test("Writer.stamped() stores as primary only a newer stamp, as backup the newest", async () => {
  const { store, writer } = setup();
  const routing = { epoch: EPOCH };
  const write = (key: string, value: string, version: number) => ({ key, value, version });
  assert.deepEqual(
    await writer.stamped([write(primaryKey, "a", 500), write(backupKey, "a", 500)], routing),
    [],
  );
  assert.deepEqual(store.get(primaryKey), { value: "a", version: `${EPOCH}.500` });
  assert.deepEqual(store.get(backupKey), { value: "a", version: `${EPOCH}.500` });
  // An older stamp: stale on the primary and on a backup, which keeps its own; the sender writes
  // it again through the primary.
  const older = [write(backupKey, "b", 400), write(primaryKey, "b", 400)];
  assert.deepEqual(await writer.stamped(older, routing), [0, 1]);
  assert.equal(store.get(primaryKey)?.value, "a");
  assert.equal(store.get(backupKey)?.value, "a");
  // The very stamp a backup holds, another sender's: listed, so that sender writes it again.
  assert.deepEqual(await writer.stamped([write(backupKey, "other", 500)], routing), [0]);
  assert.equal(store.get(backupKey)?.value, "a");
  // In order within one call: the later of two writes of a key wins.
  const twice = [write(primaryKey, "c", 600), write(primaryKey, "d", 601)];
  assert.deepEqual(await writer.stamped(twice, routing), []);
  assert.deepEqual(store.get(primaryKey), { value: "d", version: `${EPOCH}.601` });
});

Deno.test("Writer.stamped() takes only its own ring's epoch and the keys it owns (421)", async () => {
  const { store, writer } = setup();
  const items = [{ key: primaryKey, value: "v", version: 500 }];
  for (const epoch of [EPOCH - 1, EPOCH + 1, undefined]) {
    const error = await refusal(writer.stamped(items, { epoch, untrusted: true }));
    assert.equal(error.status, 421, `routed with ${epoch}`);
    assert.equal(error.details?.epoch, EPOCH);
  }
  const owners = ring.owners(otherKey, 2);
  const notOwned = [...items, { key: otherKey, value: "v", version: 500 }];
  const error = await refusal(writer.stamped(notOwned, { epoch: EPOCH }));
  assert.deepEqual([error.status, error.details?.owner], [421, owners[0]]);
  assert.equal(store.get(primaryKey), undefined, "nothing written");
});

Deno.test("Writer.stamped() refuses a version far ahead (409), a lost lease (503), a late write (504), a big value (413)", async () => {
  const { source, store, writer } = setup();
  const at = (version: number) => [{ key: primaryKey, value: "v", version }];
  const ahead = NOW_MS * 1000 + MAX_STAMP_AHEAD_US + 1;
  assert.equal((await refusal(writer.stamped(at(ahead), { epoch: EPOCH }))).status, 409);
  assert.deepEqual(await writer.stamped(at(ahead - 1), { epoch: EPOCH }), []);
  const late = { epoch: EPOCH, deadline: NOW_MS };
  assert.equal((await refusal(writer.stamped(at(ahead), late))).status, 504);
  const big = [{ key: backupKey, value: "v".repeat(1025), version: 1 }];
  assert.equal((await refusal(writer.stamped(big, { epoch: EPOCH }))).status, 413);
  source.leaseMs = 0;
  assert.equal((await refusal(writer.stamped(at(ahead), { epoch: EPOCH }))).status, 503);
  assert.equal(store.get(backupKey), undefined);
});

Deno.test("Writer.stamped() on a node standing alone is refused with 421", async () => {
  const store = new Store();
  const alone = new Writer(store, undefined, 1024);
  const error = await refusal(alone.stamped([{ key: "k", value: "v", version: 1 }], {}));
  assert.equal(error.status, 421);
});

Deno.test("Writer.write() gives a version above the routing's floor, and refuses one far ahead", async () => {
  const { store, writer } = setup();
  const floor = NOW_MS * 1000 + 5_000_000; // 5 s ahead of this node's clock: allowed
  const write = writer.write([{ key: primaryKey, value: "v" }], { epoch: EPOCH, floor });
  assert.equal((await refusal(write)).status, 502, "stored here; its backup cannot be reached");
  assert.deepEqual(store.get(primaryKey), { value: "v", version: `${EPOCH}.${floor + 1}` });
  const far = { epoch: EPOCH, floor: NOW_MS * 1000 + MAX_FLOOR_AHEAD_US + 1 };
  const error = await refusal(writer.write([{ key: primaryKey, value: "w" }], far));
  assert.equal(error.status, 409);
  assert.equal(store.get(primaryKey)?.value, "v");
});

Deno.test("Writer.write() refused above a floor sends its own state of the keys to the backups", async () => {
  const sent: unknown[] = [];
  const fetch: Fetch = (input, init) => {
    assert.match(String(input), /\/replicate$/);
    sent.push(...JSON.parse(String(init?.body)).entries);
    return Promise.resolve(new Response(JSON.stringify({ applied: 1 }), { status: 200 }));
  };
  const full = { maxBytes: entryBytes(primaryKey, "held"), eviction: "noeviction" as const };
  const { store, writer } = setup(fetch, full);
  await writer.write([{ key: primaryKey, value: "held" }], { epoch: EPOCH });
  sent.length = 0;
  const other = keyWhere((owners) => owners[0] === self, Number(primaryKey.slice(1)) + 1);
  // Refused, one as larger than the bound, one as finding the store full. Each was sent to every
  // owner before, stamped `floor`; a backup of another bound may have taken its copy, so it gets
  // this node's state above it instead, a value or a deletion.
  const routing = { epoch: EPOCH, floor: NOW_MS * 1000 + 1000 };
  const large = writer.write([{ key: primaryKey, value: "x".repeat(100) }], routing);
  assert.equal((await refusal(large)).status, 413);
  assert.equal((await refusal(writer.write([{ key: other, value: "v" }], routing))).status, 507);
  const { floor } = routing;
  assert.deepEqual(sent, [
    { key: primaryKey, version: floor + 1, epoch: EPOCH, value: "held" },
    { key: other, version: floor + 2, epoch: EPOCH, deleted: true },
  ]);
  assert.deepEqual(store.get(primaryKey), { value: "held", version: `${EPOCH}.${floor + 1}` });
  // Without a floor no copy went ahead: nothing is sent.
  const plain = writer.write([{ key: other, value: "v" }], { epoch: EPOCH });
  assert.equal((await refusal(plain)).status, 507);
  assert.equal(sent.length, 2);
});

Deno.test("Writer.write() refused above a floor while keys move restamps nothing", async () => {
  const sent: unknown[] = [];
  const fetch: Fetch = (_input, init) => {
    sent.push(...JSON.parse(String(init?.body)).entries);
    return Promise.resolve(new Response(JSON.stringify({ applied: 1 }), { status: 200 }));
  };
  const full = { maxBytes: entryBytes(primaryKey, "held"), eviction: "noeviction" as const };
  const { source, store, writer } = setup(fetch, full);
  await writer.write([{ key: primaryKey, value: "held" }], { epoch: EPOCH });
  const held = store.get(primaryKey);
  sent.length = 0;
  // The key's newest state may still be on its way here: a restamp of this one would beat it.
  source.view = { ...source.view, settled: false };
  const routing = { epoch: EPOCH, floor: NOW_MS * 1000 + 1000 };
  const write = writer.write([{ key: primaryKey, value: "x".repeat(100) }], routing);
  const error = await refusal(write);
  assert.equal(error.status, 413);
  // Not "changes nothing": the copies of the first try stay where they landed, and say so.
  assert.match(error.message, /copies of its first try may stay on other owners/);
  assert.deepEqual(sent, []);
  assert.deepEqual(store.get(primaryKey), held);
});

Deno.test("Writer.write() above a floor a backup took, 10-20 s past the primary's clock, replaces it", async () => {
  // The backup's clock runs 1 s ahead of the primary's. A sender 10.5 s ahead of the primary: its
  // stamped copy is refused there (409) but stored on the backup, within the backup's own 10 s.
  const backup = nodeAt(nodes[1], NOW_MS + 1000, () => Promise.reject(new Error("no peer calls")));
  const toBackup: Fetch = (_input, init) => {
    return Promise.resolve(
      Response.json(backup.writer.apply(JSON.parse(String(init?.body)).entries)),
    );
  };
  const primary = nodeAt(self, NOW_MS, toBackup);
  const key = keyWhere((owners) => owners[0] === self && owners[1] === nodes[1]);
  const v = (NOW_MS + 10_500) * 1000;
  const copy = [{ key, value: "first try", version: v }];
  assert.equal((await refusal(primary.writer.stamped(copy, { epoch: EPOCH }))).status, 409);
  assert.deepEqual(await backup.writer.stamped(copy, { epoch: EPOCH }), []);
  // The sender writes again through the primary above v: taken, and copied over the backup's.
  await primary.writer.write([{ key, value: "again" }], { epoch: EPOCH, floor: v });
  assert.equal(backup.store.get(key)?.value, "again");
  // So later writes through the primary reach the backup too.
  await primary.writer.write([{ key, value: "later" }], { epoch: EPOCH });
  assert.equal(backup.store.get(key)?.value, "later");
});

/**
 * A primary (`self`) and a backup (`nodes[1]`) of one key, clocks alike, the primary's copies
 * going to the backup's `Writer.apply`, then `beforeAnswer` with the primary's ring. The backup
 * holds a copy of a write its primary never saw, stamped 2 s ahead, from a sender gone since.
 */
async function orphaned(
  settled = true,
  beforeAnswer: (primary: { view: { epoch: number } }) => void = () => {},
) {
  const backup = nodeAt(nodes[1], NOW_MS, () => Promise.reject(new Error("no peer calls")));
  const toBackup: Fetch = (_input, init) => {
    const answer = backup.writer.apply(JSON.parse(String(init?.body)).entries);
    beforeAnswer(primary.source);
    return Promise.resolve(Response.json(answer));
  };
  const primary = nodeAt(self, NOW_MS, toBackup, settled);
  const key = keyWhere((owners) => owners[0] === self && owners[1] === nodes[1]);
  const orphan = [{ key, value: "orphan", version: (NOW_MS + 2000) * 1000 }];
  assert.deepEqual(await backup.writer.stamped(orphan, { epoch: EPOCH }), []);
  return { primary, backup, key };
}

Deno.test("Writer writes over a copy only a backup took, its own writes and a later sender's", async () => {
  // While keys move too: the primary's state, just written in this ring, is the key's newest.
  for (const settled of [true, false]) {
    const { primary, backup, key } = await orphaned(settled);
    const routing = { epoch: EPOCH };
    // A sender with a right clock: stored on the primary; the backup holds newer and says so.
    const right = (NOW_MS + 5) * 1000;
    const copy = [{ key, value: "acked", version: right }];
    assert.deepEqual(await primary.writer.stamped(copy, routing), []);
    assert.deepEqual(await backup.writer.stamped(copy, routing), [0], "stale on the backup");
    // So that sender writes it again through the primary, above its own version but below the
    // orphan's: the primary goes above what the backup holds.
    await primary.writer.write([{ key, value: "acked" }], { ...routing, floor: right });
    assert.equal(backup.store.get(key)?.value, "acked");
    assert.deepEqual(backup.store.get(key), primary.store.get(key), "the very same state");
    // And so do its later writes, a deletion too.
    await primary.writer.write([{ key, value: "later" }], routing);
    assert.equal(backup.store.get(key)?.value, "later");
    await primary.writer.delete(key, routing);
    assert.equal(backup.store.get(key), undefined);
  }
});

Deno.test("Writer answers an increment with its version after a restamp, and so do retries", async () => {
  const { primary, backup, key } = await orphaned();
  const routing = { epoch: EPOCH };
  const counter = await primary.writer.incr(key, { by: 10, requestId: "r1" }, routing);
  assert.equal(counter.version, primary.store.versionOf(key), "the key's version now");
  assert.equal(backup.store.versionOf(key), counter.version);
  assert.deepEqual(await primary.writer.incr(key, { by: 10, requestId: "r1" }, routing), counter);
});

Deno.test("Writer restamps no key once the ring changed while its copies were out", async () => {
  // The ring moves on while the backup answers: the key may have new owners now.
  const { primary, backup, key } = await orphaned(true, (source) => source.view.epoch++);
  await primary.writer.write([{ key, value: "acked" }], { epoch: EPOCH });
  assert.equal(primary.store.get(key)?.version, `${EPOCH}.${NOW_MS * 1000}`, "not restamped");
  assert.equal(backup.store.get(key)?.value, "orphan", "left to the new ring's owners");
});

/** Node `address` of ring `EPOCH`, its clock at `nowMs`, calling peers through `fetch`. */
function nodeAt(address: string, nowMs: number, fetch: Fetch, settled = true) {
  const source = {
    view: { term: 0, epoch: EPOCH, replicas: 2, nodes, joined: {}, settled },
    ring,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const replicator = new Replicator({
    self: address,
    ring: source,
    fetch,
    timeoutMs: 100,
    now: () => nowMs,
  });
  const store = new Store({ now: () => nowMs });
  return { source, store, writer: new Writer(store, replicator, 1024) };
}

Deno.test("Writer answers concurrent increments each with its own state's version after a restamp", async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  let calls = 0;
  const backup = nodeAt(nodes[1], NOW_MS, () => Promise.reject(new Error("no peer calls")));
  const toBackup: Fetch = async (_input, init) => {
    if (++calls === 1) await gate; // the first increment's copies wait for the second's write
    return Response.json(backup.writer.apply(JSON.parse(String(init?.body)).entries));
  };
  const primary = nodeAt(self, NOW_MS, toBackup);
  const key = keyWhere((owners) => owners[0] === self && owners[1] === nodes[1]);
  const routing = { epoch: EPOCH };
  const orphan = [{ key, value: "0", version: (NOW_MS + 2000) * 1000 }];
  assert.deepEqual(await backup.writer.stamped(orphan, routing), []);
  const first = primary.writer.incr(key, { by: 1, requestId: "r1" }, routing);
  const second = primary.writer.incr(key, { by: 10, requestId: "r2" }, routing);
  await new Promise((resolve) => setTimeout(resolve, 10));
  open();
  const [a, b] = await Promise.all([first, second]);
  // The restamp gave the state holding 11, the second's, a new version: never the first's answer.
  assert.deepEqual([a.value, b.value], [1, 11]);
  assert.equal(b.version, primary.store.versionOf(key));
  assert.notEqual(a.version, b.version);
  assert.deepEqual(backup.store.get(key), primary.store.get(key));
  // Retries answer what each answered.
  assert.deepEqual(await primary.writer.incr(key, { by: 1, requestId: "r1" }, routing), a);
  assert.deepEqual(await primary.writer.incr(key, { by: 10, requestId: "r2" }, routing), b);
});

Deno.test("Writer refuses an increment whose ring changed while it asked for the key's state", async () => {
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => answer = resolve);
  const primary = nodeAt(self, NOW_MS, async () => {
    await answered; // the other owners answer late
    return Response.json({ error: "not found" }, { status: 404 });
  }, false);
  const key = keyWhere((owners) => owners[0] === self);
  // Keys move, and this one was not written in this ring here: the increment first asks the
  // other nodes for the key's state.
  const incr = primary.writer.incr(key, { by: 1 }, { epoch: EPOCH });
  await new Promise((resolve) => setTimeout(resolve, 5));
  primary.source.view.epoch++; // meanwhile a newer ring came, with another primary maybe
  answer();
  assert.equal((await refusal(incr)).status, 421);
  assert.equal(primary.store.get(key), undefined, "not applied");
});

/**
 * A primary (`self`) and a backup (`nodes[1]`) of one key, clocks alike, the backup flushed
 * through 3 s past their clocks, as a flush does whose nodes had taken a sender's versions that
 * far ahead; `beforeAnswer` runs as the backup answers each copy.
 */
function flushedBackup(beforeAnswer: (primary: ReturnType<typeof nodeAt>) => void = () => {}) {
  const through = (NOW_MS + 3000) * 1000;
  const backup = nodeAt(nodes[1], NOW_MS, () => Promise.reject(new Error("no peer calls")));
  backup.store.flushThrough(through);
  const toBackup: Fetch = (_input, init) => {
    const answer = backup.writer.apply(JSON.parse(String(init?.body)).entries);
    beforeAnswer(primary);
    return Promise.resolve(Response.json(answer));
  };
  const primary = nodeAt(self, NOW_MS, toBackup);
  const key = keyWhere((owners) => owners[0] === self && owners[1] === nodes[1]);
  return { primary, backup, key, through };
}

Deno.test("Writer gives a write below a flush its backup went through a version above it", async () => {
  // The primary has not had the flush's second round: its clock gives versions below it.
  const { primary, backup, key, through } = flushedBackup();
  await primary.writer.write([{ key, value: "after the flush" }], { epoch: EPOCH });
  assert.equal(backup.store.get(key)?.value, "after the flush", "not refused as flushed");
  assert.deepEqual(backup.store.get(key), primary.store.get(key), "the very same state");
  assert.ok(Number(primary.store.versionOf(key)!.split(".")[1]) > through);
});

Deno.test("Writer drops on its backups a write its own flush took while the copies were out", async () => {
  // The flush's second round reaches the primary while the backup refuses the write's copy.
  const { primary, backup, key, through } = flushedBackup((primary) => {
    primary.store.flushThrough(through);
  });
  await primary.writer.write([{ key, value: "raced the flush" }], { epoch: EPOCH });
  assert.deepEqual([primary.store.get(key), backup.store.get(key)], [undefined, undefined]);
});

Deno.test("Writer.checkRing() refuses a flush routed with an older ring than the node's", async () => {
  const { writer } = setup();
  const refused = await refusal(writer.checkRing({ epoch: EPOCH - 1 }));
  assert.equal(refused.status, 421);
  await writer.checkRing({ epoch: EPOCH });
  await writer.checkRing({}); // a caller that names no ring: an admin on the node itself
});

Deno.test("Writer.checkRing() refuses a flush of an older term, whatever its epoch", async () => {
  const { writer, source } = setup();
  source.view = { ...source.view, term: 5 };
  const deposed = await refusal(
    writer.checkRing({ epoch: EPOCH + 100 }, { term: 4, epoch: EPOCH + 100 }),
  );
  assert.equal(deposed.status, 421);
  await writer.checkRing({ epoch: EPOCH }, { term: 5, epoch: EPOCH });
});
