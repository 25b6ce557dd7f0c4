// Writer.applyCopies(): a peer's `/replicate` copies, bounded by the rings the masters have; and
// Writer.dropEvicted(): its `/evicted` notices, bounded as peers' states are.

import assert from "node:assert/strict";
import { Ring } from "@cache/ring/ring";
import type { Fetch } from "@cache/http1/fetch";
import { Store } from "../store/store.ts";
import { Replicator } from "./replicator.ts";
import { Writer } from "./writer.ts";

const [a, b, c] = ["http://a:1", "http://b:1", "http://c:1"];
const ring = new Ring([a, b, c]);
const [key, other] = keysOf(a, 2);

/** The first `count` keys whose primary is `node`. */
function keysOf(node: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (ring.owner(`k${i}`) === node) keys.push(`k${i}`);
  return keys;
}

Deno.test("Writer.applyCopies() takes no copy in a ring epoch past the newest ring the masters have", async () => {
  // Bounded by the clock alone, a copy in epoch now + 59 s was taken where the ring's epoch, a
  // leader's start plus one a ring, lagged the clock by the cluster's uptime: it beat every later
  // write of its key until a leader came, a minute later at least.
  const view = (epoch: number) => ({
    term: 1,
    epoch,
    replicas: 2,
    nodes: [a, b, c],
    joined: {},
    settled: true,
  });
  const source = {
    view: view(5),
    ring,
    masters: 5, // the newest ring the masters have
    refreshes: 0,
    refresh() {
      source.refreshes++;
      source.view = view(source.masters);
      return Promise.resolve(true);
    },
    leaseLeftMs: () => 10_000,
  };
  const fetch: Fetch = () => Promise.reject(new Error("no call expected"));
  const store = new Store(); // its clock at now: the clock's minute allows any of these epochs
  const writer = new Writer(
    store,
    new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 }),
    1024,
  );
  const copy = (k: string, epoch: number) => ({ key: k, version: 1, epoch, value: `in ${epoch}` });
  const past = await writer.applyCopies([copy(key, 6), copy(other, 5)]);
  assert.deepEqual([past.refused, past.refusal?.status], [[key], 409]);
  assert.match(past.refusal!.message, /Ring epoch 6 is past 5/);
  assert.deepEqual([store.keys(), source.refreshes], [[other], 3], "the ring asked for first");
  source.masters = 7; // a ring this node had not heard of: fetched, then the copy taken
  const newer = await writer.applyCopies([copy(key, 7)]);
  assert.deepEqual([newer.refused, source.view.epoch], [[], 7]);
  assert.equal(store.get(key)?.value, "in 7");
  // Handed its keys over while it asked for the ring: nothing taken, as copies would leave with it.
  const closing = () => {
    throw new Error("handed over");
  };
  await assert.rejects(Promise.resolve(writer.applyCopies([copy(other, 9)], closing)), /handed/);
  assert.equal(store.get(other)?.value, "in 5");
  // Masters that do not answer: refused after a while, not after the sender gave up on the copy.
  source.refresh = () => new Promise<boolean>(() => {}); // without the bound, this never resolves
  const unanswered = await writer.applyCopies([copy(other, 9)]);
  assert.deepEqual(unanswered.refused, [other]);
});

Deno.test("Writer.dropEvicted() ignores a notice stamped past any version or ring a node gave", () => {
  // Remembered, a notice in epoch 2^53 - 1, or a day ahead of the clock, would refuse every copy
  // of its key for its 30 s.
  const store = new Store({ now: () => 1_000_000 });
  const writer = new Writer(store, undefined, 1024);
  const now = 1_000_000 * 1000; // microseconds
  assert.equal(
    writer.dropEvicted([
      { key, version: 1, epoch: Number.MAX_SAFE_INTEGER },
      { key: other, version: now + 86_400_000_000, epoch: 1 },
    ]),
    0,
  );
  assert.equal(store.apply({ key, version: 2, epoch: 1, value: "v" }), true);
  assert.equal(store.apply({ key: other, version: now, epoch: 1, value: "v" }), true);
  // A notice within the bounds is taken: its state goes, and its late copy is refused.
  assert.equal(writer.dropEvicted([{ key, version: 2, epoch: 1 }]), 1);
  assert.equal(store.apply({ key, version: 2, epoch: 1, value: "v" }), false);
});

Deno.test("Writer.dropEvicted() keeps a key this node is the primary of", () => {
  // Dropped on a notice (anyone's, with tokens off), the key was left on its backups alone: reads
  // missed it, and a failover brought it back.
  const view = { term: 1, epoch: 5, replicas: 2, nodes: [a, b, c], joined: {}, settled: true };
  const source = { view, ring, refresh: () => Promise.resolve(true), leaseLeftMs: () => 10_000 };
  const fetch: Fetch = () => Promise.reject(new Error("no call expected"));
  const store = new Store();
  const replicator = new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 });
  const writer = new Writer(store, replicator, 1024);
  const [backedUp] = keysOf(b, 1);
  for (const k of [key, backedUp]) store.apply({ key: k, version: 1, epoch: 5, value: "v" });
  const stamp = { version: 1, epoch: 5 };
  assert.equal(writer.dropEvicted([{ key, ...stamp }, { key: backedUp, ...stamp }]), 1);
  assert.deepEqual(store.keys(), [key]);
});
