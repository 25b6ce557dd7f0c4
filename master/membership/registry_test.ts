import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { Registry } from "./registry.ts";

function registryAt(clock: { now: number }, callsNodes = false) {
  return new Registry({ failureTimeoutMs: 1000, now: () => clock.now, log, callsNodes });
}

/** A heartbeat from `node`, and a call to it answered. */
function heard(registry: Registry, node: string): void {
  registry.heartbeat(node);
  registry.reached(node);
}

Deno.test("Registry.heartbeat() registers a new node once and bumps the epoch", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  assert.equal(registry.heartbeat("http://a:1"), "new");
  assert.equal(registry.heartbeat("http://a:1"), "known");
  assert.equal(registry.epoch, 1);
  assert.deepEqual(registry.view(), {
    term: 0,
    epoch: 1,
    replicas: 1,
    nodes: ["http://a:1"],
    joined: { "http://a:1": 1 },
    settled: false,
    movingRings: 1,
    outside: {},
    downWhileLeaving: {},
    version: 1,
  });
});

Deno.test("Registry.sweep() marks a silent node down at the timeout and it comes back", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1");
  clock.now = 999;
  registry.heartbeat("http://b:1");
  registry.sweep();
  assert.equal(registry.ring.size, 2, "not yet at the timeout");

  clock.now = 1000;
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://b:1"]);
  assert.equal(registry.epoch, 3);
  assert.deepEqual(registry.list().nodes.map((n) => [n.address, n.status]), [
    ["http://a:1", "down"],
    ["http://b:1", "up"],
  ]);

  registry.sweep();
  assert.equal(registry.epoch, 3, "a node already down changes nothing");
  // A node marked down must rejoin empty: told so until it says it holds nothing.
  assert.equal(registry.heartbeat("http://a:1"), "rejoin");
  assert.equal(registry.heartbeat("http://a:1"), "rejoin", "it never read the first answer");
  assert.equal(registry.epoch, 3);
  assert.equal(registry.heartbeat("http://a:1", { empty: true }), "new");
  assert.equal(registry.epoch, 4);
  assert.deepEqual(registry.ring.nodes, ["http://a:1", "http://b:1"]);
  assert.equal(registry.view().joined["http://a:1"], 4);
  assert.equal(registry.list().nodes[0].lastSeen, new Date(1000).toISOString());
});

Deno.test("Registry takes a restarted node back into the ring in a new epoch", () => {
  const registry = registryAt({ now: 0 });
  registry.heartbeat("http://a:1", { instance: "first" });
  registry.heartbeat("http://a:1", { instance: "first" });
  assert.equal(registry.epoch, 1);
  assert.equal(registry.heartbeat("http://a:1", { instance: "second" }), "new");
  assert.equal(registry.epoch, 2);
  assert.equal(registry.view().joined["http://a:1"], 2);
});

Deno.test("Registry takes a leaving node off the ring and keeps earlier rings until all synced", () => {
  const registry = new Registry({
    replicas: 2,
    failureTimeoutMs: 1000,
    now: () => 0,
    log,
  });
  registry.heartbeat("http://a:1", { synced: 0 });
  registry.heartbeat("http://b:1", { synced: 0 });
  registry.heartbeat("http://a:1", { synced: 2 });
  registry.heartbeat("http://b:1", { synced: 2 });
  assert.equal(registry.settled, true);
  assert.equal(registry.replicas, 2);

  registry.heartbeat("http://a:1", { leaving: true });
  assert.equal(registry.epoch, 3);
  assert.deepEqual(registry.ring.nodes, ["http://b:1"]);
  assert.equal(registry.replicas, 1, "capped by the up nodes");
  assert.equal(registry.settled, false);
  assert.deepEqual(registry.unsettledRings.map((r) => r.nodes), [["http://a:1", "http://b:1"]]);
  assert.equal(registry.view().movingRings, 1);
  assert.equal(registry.list().nodes[0].status, "leaving");
  // c joins while a hands over: keys move from two rings, and clients are told so.
  registry.heartbeat("http://c:1", { synced: 0 });
  assert.equal(registry.view().movingRings, 2);

  registry.heartbeat("http://b:1", { synced: 4 });
  registry.heartbeat("http://c:1", { synced: 4 });
  registry.heartbeat("http://a:1", { synced: 4, leaving: true });
  assert.equal(registry.settled, true);
  assert.deepEqual(registry.unsettledRings, []);
  assert.equal(registry.view().movingRings, undefined);
  assert.equal(registry.deregister("http://a:1"), true);
  assert.equal(registry.epoch, 4, "a leaving node's exit does not change the ring");
});

Deno.test("Registry.deregister() forgets a node, bumping the epoch only if it was up", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1");
  assert.equal(registry.deregister("http://a:1"), true);
  assert.equal(registry.epoch, 3);
  assert.equal(registry.deregister("http://a:1"), false);

  clock.now = 5000;
  registry.sweep(); // b is down: epoch 4
  assert.equal(registry.deregister("http://b:1"), true);
  assert.equal(registry.epoch, 4);
  assert.deepEqual(registry.list(), { epoch: 4, nodes: [] });
});

Deno.test("A leaving node this master does not know stays out of the ring", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1");
  registry.heartbeat("http://b:1", { leaving: true });
  registry.deregister("http://b:1");
  // A heartbeat sent before it deregistered, arriving after: it must not take keys to a node
  // about to stop.
  assert.equal(registry.heartbeat("http://b:1", { leaving: true }), "known");
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
  assert.equal(registry.epoch, 3);
  assert.deepEqual(registry.list().nodes.map((node) => node.address), ["http://a:1"]);
  assert.deepEqual(registry.view().outside, {});
  // Once it stops leaving (a new process at the address), it joins.
  assert.equal(registry.heartbeat("http://b:1", { instance: "second" }), "new");
  assert.deepEqual(registry.ring.nodes, ["http://a:1", "http://b:1"]);
});

Deno.test("A leaving node that said so before stays out when its older beat comes late", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1", { instance: "b1" });
  registry.heartbeat("http://b:1", { instance: "b1", leaving: true });
  registry.deregister("http://b:1");
  // A beat b sent before it said it was leaving, or relayed late by another master.
  assert.equal(registry.heartbeat("http://b:1", { instance: "b1" }), "known");
  // c's first beat waits (the master checks it can call c) while its leaving beat is taken.
  assert.equal(registry.heartbeat("http://c:1", { instance: "c1", leaving: true }), "known");
  assert.equal(registry.heartbeat("http://c:1", { instance: "c1" }), "known");
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
  assert.equal(registry.heartbeat("http://b:1", { instance: "b2" }), "new", "a new process");
});

Deno.test("A node marked down that comes back leaving rejoins empty, then is forgotten", () => {
  const clock = { now: 0 };
  const forgotten: string[] = [];
  const registry = new Registry({
    failureTimeoutMs: 1000,
    now: () => clock.now,
    log,
    onForgotten: (address) => forgotten.push(address),
  });
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1", { instance: "b1" });
  clock.now = 900;
  registry.heartbeat("http://a:1");
  clock.now = 1000;
  registry.sweep(); // b is down
  const beat = { instance: "b1", leaving: true };
  assert.equal(registry.heartbeat("http://b:1", beat), "rejoin", "its keys may be stale");
  const version = registry.version!;
  assert.equal(registry.heartbeat("http://b:1", { ...beat, empty: true }), "known");
  assert.deepEqual(forgotten, ["http://b:1"]);
  assert.deepEqual(registry.list().nodes.map((node) => node.address), ["http://a:1"]);
  assert.ok(registry.version! > version, "followers hear of it");
  // Taken back, it says empty no more: it holds only what it took since, and is still leaving.
  assert.equal(registry.heartbeat("http://b:1", beat), "known");
  assert.equal(registry.heartbeat("http://b:1", beat), "known");

  // Forgotten while down by an operator, back leaving as the same process: rejoin empty too.
  registry.heartbeat("http://c:1", { instance: "c1" });
  for (clock.now = 1100; clock.now <= 2000; clock.now += 100) {
    registry.heartbeat("http://a:1");
    registry.sweep(); // c is down at 2000
  }
  assert.equal(registry.status("http://c:1"), "down");
  registry.deregister("http://c:1");
  assert.equal(registry.heartbeat("http://c:1", { instance: "c1", leaving: true }), "rejoin");
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
});

/** A registry of a and b: b, leaving, marked down at 1100, while a beats, synced. */
function leaverDown(clock: { now: number }) {
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1", { instance: "a1" });
  registry.heartbeat("http://b:1", { instance: "b1" });
  registry.heartbeat("http://b:1", { instance: "b1", leaving: true });
  const epoch = registry.epoch;
  for (clock.now = 100; clock.now <= 1100; clock.now += 100) {
    registry.heartbeat("http://a:1", { instance: "a1", synced: epoch });
    registry.sweep(); // b is down at 1100
  }
  return { registry, epoch };
}

Deno.test("A leaving node marked down is asked for its keys until its handover time is over", () => {
  // Skipped as soon as it was marked down, its keys read 404 while it was paused, then came back.
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1", { instance: "a1" });
  registry.heartbeat("http://b:1", { instance: "b1" });
  registry.heartbeat("http://b:1", { instance: "b1", leaving: true, handoverLeftMs: 3000 });
  const epoch = registry.epoch;
  const step = (until: number) => {
    for (; clock.now < until; clock.now += 100) {
      registry.heartbeat("http://a:1", { instance: "a1", synced: epoch });
      registry.sweep(); // b is down at 1100
    }
  };
  step(2000);
  assert.equal(registry.status("http://b:1"), "down");
  assert.deepEqual([registry.settled, registry.notAsked("http://b:1")], [false, false]);
  assert.deepEqual(registry.view().downWhileLeaving, { "http://b:1": 1000 });
  step(3900);
  assert.deepEqual([registry.settled, registry.notAsked("http://b:1")], [false, false]);
  const version = registry.version!;
  step(4100); // its 3 s, and a failure timeout for its last beats
  assert.deepEqual([registry.settled, registry.notAsked("http://b:1")], [true, true]);
  assert.deepEqual(registry.view().downWhileLeaving, {});
  assert.ok(registry.version! > version, "followers and clients hear of it");
  // Heard again, it has stopped handing over: it must not bring back what it held.
  assert.equal(registry.heartbeat("http://b:1", { instance: "b1", leaving: true }), "rejoin");
});

Deno.test("A leaving node marked down whose address refuses calls is not asked for its keys", () => {
  // It exited (its handover done or given up) before it could deregister: asking it failed reads.
  const clock = { now: 0 };
  const { registry } = leaverDown(clock);
  assert.equal(registry.notAsked("http://b:1"), false, "it may still hand over");
  registry.refused("http://b:1");
  assert.deepEqual([registry.settled, registry.notAsked("http://b:1")], [true, true]);
  assert.deepEqual(registry.view().downWhileLeaving, {});
});

Deno.test("A leaving node marked down, heard again, goes on handing over, keeping its keys", () => {
  // Its masters hung or out of reach for a failure timeout while it handed over: told to rejoin
  // empty, it dropped the keys it alone held (R=1). A leaving node is in no ring, and what it
  // hands over wins only by version, so its keys are handed over, not dropped.
  const clock = { now: 0 };
  const { registry, epoch } = leaverDown(clock);
  assert.equal(registry.status("http://b:1"), "down");
  // It may still hand its keys over: reads ask it, and keys are not settled.
  assert.equal(registry.settled, false, "waiting for a node marked down while it hands over");
  assert.equal(registry.notAsked("http://b:1"), false);
  assert.deepEqual(Object.keys(registry.view().downWhileLeaving!), ["http://b:1"]);
  const version = registry.version!;

  assert.equal(registry.heartbeat("http://b:1", { instance: "b1", leaving: true }), "known");
  assert.equal(registry.status("http://b:1"), "leaving");
  assert.equal(registry.epoch, epoch, "the ring is the same: it was out of it");
  assert.ok(registry.version! > version, "followers and nodes hear of it");
  assert.equal(registry.settled, false, "its keys are moving again");
  assert.ok(
    registry.unsettledRings.some((ring) => ring.nodes.includes("http://b:1")),
    "reads look for its keys where it holds them",
  );
  clock.now = 1900;
  registry.heartbeat("http://a:1", { instance: "a1", synced: epoch });
  registry.sweep();
  assert.equal(registry.status("http://b:1"), "leaving", "a failure timeout from its beat");
  registry.heartbeat("http://b:1", { instance: "b1", leaving: true, synced: epoch });
  assert.equal(registry.settled, true);
  assert.equal(registry.deregister("http://b:1"), true);

  // Up when marked down, it may hold keys older than writes taken since: it still rejoins empty.
  registry.heartbeat("http://c:1", { instance: "c1" });
  for (clock.now = 2000; clock.now <= 3100; clock.now += 100) {
    registry.heartbeat("http://a:1", { instance: "a1" });
    registry.sweep();
  }
  assert.equal(registry.status("http://c:1"), "down");
  assert.equal(registry.heartbeat("http://c:1", { instance: "c1", leaving: true }), "rejoin");
  // Leaving when marked down, but a new process: it holds nothing, and is forgotten.
  registry.heartbeat("http://d:1", { instance: "d1" });
  registry.heartbeat("http://d:1", { instance: "d1", leaving: true });
  for (clock.now = 3200; clock.now <= 4300; clock.now += 100) {
    registry.heartbeat("http://a:1", { instance: "a1" });
    registry.sweep();
  }
  assert.equal(registry.status("http://d:1"), "down");
  assert.equal(registry.heartbeat("http://d:1", { instance: "d2", leaving: true }), "known");
  assert.equal(registry.status("http://d:1"), undefined);
});

Deno.test("A leaving node marked down rejoins empty if a flush went through since", () => {
  // All it holds was written before the flush, some stamped above its version (the newest of the
  // nodes it reached): handed over, those outlived the flush.
  const { registry } = leaverDown({ now: 0 });
  registry.noteFlush(5_000);
  assert.equal(registry.heartbeat("http://b:1", { instance: "b1", leaving: true }), "rejoin");
  assert.equal(
    registry.heartbeat("http://b:1", { instance: "b1", leaving: true, empty: true }),
    "known",
  );
  assert.equal(registry.status("http://b:1"), undefined, "forgotten: it holds nothing");
});

Deno.test("A leaving node marked down, heard while a flush is under way, waits for its first round", () => {
  // Resumed at once, the node, back among the holders, got only the second round, which kept what
  // it stamped above the flush's version. Told to rejoin empty at once, it lost its keys to a flush
  // no node took.
  const beat = { instance: "b1", leaving: true };
  const taken = leaverDown({ now: 0 }).registry;
  taken.flushBegins();
  assert.equal(taken.heartbeat("http://b:1", beat), "flushing");
  taken.flushFirstRoundDone(0); // a node of an older build: taken, with no version
  assert.equal(taken.heartbeat("http://b:1", beat), "rejoin");
  const failed = leaverDown({ now: 0 }).registry;
  failed.flushBegins();
  assert.equal(failed.heartbeat("http://b:1", beat), "flushing");
  failed.flushFirstRoundDone(undefined); // no node took it: nothing was emptied
  assert.equal(failed.heartbeat("http://b:1", beat), "known");
  assert.equal(failed.status("http://b:1"), "leaving");
});

Deno.test("A restarted node whose first beat says it is leaving is not taken into the ring", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1", { instance: "a1" });
  registry.heartbeat("http://b:1", { instance: "b1" });
  // b restarted, and was stopped before its first beat: it leaves, holding nothing.
  assert.equal(registry.heartbeat("http://b:1", { instance: "b2", leaving: true }), "known");
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
  assert.equal(registry.status("http://b:1"), "leaving");
  assert.equal(registry.heartbeat("http://b:1", { instance: "b2" }), "known", "a beat sent before");
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
});

Deno.test("A restarted master keeps a node leaving though an older beat of it comes after", () => {
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  const last = lastRing(0, 20_000, { "http://a:1": 19_990, "http://b:1": 19_991 });
  const b = { ring: last, synced: 20_000, instance: "b1" };
  assert.equal(registry.heartbeat("http://b:1", { ...b, leaving: true }), "recovering");
  assert.equal(registry.heartbeat("http://b:1", b), "recovering", "sent before it left");
  assert.equal(registry.heartbeat("http://a:1", { ring: last, synced: 20_000 }), "known");
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
  assert.equal(registry.status("http://b:1"), "leaving");
});

/** The last ring of an earlier master at R=2: its nodes are those of `joined`. */
function lastRing(term: number, epoch: number, joined: Record<string, number>) {
  return { term, epoch, replicas: 2, nodes: Object.keys(joined), joined };
}

/** A master just started at `clock.now`, with R=2, waiting up to 3 s for the last ring's nodes. */
function restarted(clock: { now: number }) {
  return new Registry({
    replicas: 2,
    failureTimeoutMs: 1000,
    now: () => clock.now,
    log,
    initialEpoch: clock.now,
    recoveryMs: 3000,
  });
}

/** A ring of `a` and `b` that `x` left, its keys not all handed over: as `a` and `b` report it. */
const leftByX = { ...lastRing(0, 20_000, { "http://a:1": 1, "http://b:1": 2 }), settled: false };
const x = "http://x:1";

Deno.test("A restarted master asks a leaving node the last ring lists, unheard, until its time is over", () => {
  // Paused or cut off from the masters while it handed over, it was forgotten by the master that
  // restarted meanwhile: reads of the keys it alone held answered 404 until it was heard again.
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  const last = { ...leftByX, outside: { [x]: "leaving" as const } };
  registry.heartbeat("http://a:1", { ring: last, synced: 20_000 });
  assert.equal(registry.heartbeat("http://b:1", { ring: last, synced: 20_000 }), "known");
  assert.equal(registry.status(x), "down");
  assert.equal(registry.mayHandOver(x), true);
  assert.equal(registry.settled, false);
  assert.ok(registry.unsettledRings.some((ring) => ring.nodes.includes(x)), "reads ask it");
  assert.deepEqual(registry.view().downWhileLeaving, { [x]: 20_000 });
  // Heard again, leaving: its handover goes on.
  assert.equal(registry.heartbeat(x, { ring: last, instance: "x1", leaving: true }), "known");
  assert.equal(registry.status(x), "leaving");
  // Not heard within its handover time (20 s, not said by the ring) and a failure timeout: gone.
  const late = restarted(clock);
  late.heartbeat("http://a:1", { ring: last, synced: 20_000 });
  late.heartbeat("http://b:1", { ring: last, synced: 20_000 });
  clock.now += 21_000;
  late.sweep();
  assert.equal(late.mayHandOver(x), false);
  assert.equal(late.heartbeat(x, { ring: last, instance: "x1", leaving: true }), "rejoin");
});

Deno.test("A restarted master forgets the leaving nodes of a last ring some node reports settled", () => {
  const registry = restarted({ now: 10_000 });
  const last = { ...leftByX, outside: { [x]: "leaving" as const } };
  registry.heartbeat("http://a:1", { ring: last, synced: 20_000 });
  registry.heartbeat("http://b:1", { ring: { ...last, settled: true }, synced: 20_000 });
  assert.equal(registry.recovering, false);
  assert.equal(registry.status(x), undefined);
});

Deno.test("A restarted master asks a leaving node heard during its wait, the last ring without it", () => {
  const registry = restarted({ now: 10_000 });
  const last = { ...leftByX, outside: { [x]: "leaving" as const } };
  registry.heartbeat("http://a:1", { ring: last, synced: 20_000 });
  assert.equal(
    registry.heartbeat(x, { ring: last, instance: "x1", leaving: true, handoverLeftMs: 5000 }),
    "recovering",
  );
  registry.heartbeat("http://b:1", { ring: last, synced: 20_000 });
  assert.equal(registry.recovering, false);
  assert.equal(registry.status(x), "leaving");
  assert.ok(registry.unsettledRings.some((ring) => ring.nodes.includes(x)), "reads ask it");
});

Deno.test("A leaving node marked down that missed a flush the master knows rejoins empty", () => {
  // Recovered from a ring that lists it leaving, the master cannot tell whether a flush came after
  // it was marked down: the node's own ring says which flush it last knew.
  const registry = restarted({ now: 10_000 });
  const last = { ...leftByX, outside: { [x]: "leaving" as const } };
  registry.heartbeat("http://a:1", { ring: { ...last, flushed: 700 }, synced: 20_000 });
  registry.heartbeat("http://b:1", { ring: { ...last, flushed: 700 }, synced: 20_000 });
  assert.equal(registry.mayHandOver(x), true);
  const beat = { instance: "x1", leaving: true };
  assert.equal(registry.heartbeat(x, { ...beat, ring: { ...last, flushed: 500 } }), "rejoin");
});

Deno.test("A restarted master routes nothing until the nodes of the last ring are back", () => {
  const registry = restarted({ now: 10_000 });
  const last = {
    term: 0,
    epoch: 20_000, // the last master's epochs: newer than this one's clock-based start
    replicas: 2,
    nodes: ["http://a:1", "http://b:1", "http://c:1"],
    joined: { "http://a:1": 19_990, "http://b:1": 19_991, "http://c:1": 19_992 },
  };
  assert.equal(registry.recovering, true);
  assert.equal(registry.heartbeat("http://a:1", { ring: last, synced: 20_000 }), "recovering");
  assert.equal(registry.heartbeat("http://b:1", { ring: last, synced: 20_000 }), "recovering");
  assert.equal(registry.ring.size, 0, "no partial ring, so no single-copy writes and no misses");
  // The last one back ends the wait: the same ring, in a newer epoch, nothing moves.
  assert.equal(registry.heartbeat("http://c:1", { ring: last, synced: 20_000 }), "known");
  assert.equal(registry.recovering, false);
  assert.deepEqual(registry.ring.nodes, last.nodes);
  assert.equal(registry.replicas, 2);
  assert.equal(registry.epoch, 20_001);
  assert.deepEqual(registry.view().joined, last.joined);
});

Deno.test("A restarted master gives up on a node of the last ring at the recovery deadline", () => {
  const clock = { now: 0 };
  const registry = restarted(clock);
  const last = lastRing(2, 40, { "http://a:1": 1, "http://b:1": 2 });
  registry.heartbeat("http://a:1", { ring: last, synced: 40 });
  registry.heartbeat("http://new:1", {}); // a node that follows no ring yet
  clock.now = 2900;
  registry.sweep();
  assert.equal(registry.recovering, true);
  clock.now = 3000;
  registry.sweep();
  assert.equal(registry.recovering, false);
  assert.deepEqual(registry.ring.nodes, ["http://a:1", "http://new:1"]);
  assert.deepEqual([registry.term, registry.epoch], [2, 41]);
  assert.equal(registry.view().joined["http://new:1"], 41, "a join: keys move to it");
  assert.equal(
    registry.unsettledRings.length,
    1,
    "reads still find keys where the last ring put them",
  );
  // The node that did not come back in time held keys that may be stale by now.
  assert.equal(registry.heartbeat("http://b:1", { ring: last }), "rejoin");
});

Deno.test("A restarted master at R=2 that gave up on a node of the last ring keeps a late one up", () => {
  // The missing node's keys have a copy fewer until keys settle: marked down too, a late node
  // would take the last copy of some.
  const clock = { now: 0 };
  const registry = restarted(clock);
  const last = lastRing(2, 40, { "http://a:1": 1, "http://b:1": 2, "http://c:1": 3 });
  for (; clock.now <= 3000; clock.now += 100) {
    registry.heartbeat("http://a:1", { ring: last, synced: 40 });
    if (clock.now <= 1000) registry.heartbeat("http://c:1", { ring: last, synced: 40 });
    registry.sweep();
  }
  assert.equal(registry.recovering, false);
  assert.equal(registry.status("http://b:1"), "down", "given up on");
  for (; clock.now < 4000; clock.now += 100) {
    registry.heartbeat("http://a:1", { ring: last, synced: 40 });
    registry.sweep();
  }
  assert.equal(registry.status("http://c:1"), "up", "silent 2.9 s, kept up: b's keys not settled");
});

Deno.test("A node back with a ring a restarted master never learnt joins with it, read there too", () => {
  // Taken in as a plain member, reads missed keys only later nodes held, and answered values
  // older than writes acknowledged on the earlier ones; told to rejoin empty, or marked down by a
  // wait started again for it, it lost every key it alone held.
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  // The last master's: started before this one, its epochs count up from its clock then.
  const last = lastRing(0, 5_000, { "http://a:1": 4_998, "http://b:1": 4_999 });
  clock.now = 13_000;
  registry.sweep(); // no node came: nothing learnt
  assert.equal(registry.recovering, false);
  assert.equal(registry.heartbeat("http://new:1", {}), "new"); // follows no ring: holds nothing
  assert.equal(registry.heartbeat("http://a:1", { ring: last, synced: 5_000 }), "new");
  assert.deepEqual(registry.ring.nodes, ["http://a:1", "http://new:1"]);
  const read = registry.unsettledRings.filter((ring) => ring.size > 0).map((ring) => ring.nodes);
  assert.deepEqual(read, [["http://new:1"], ["http://a:1", "http://b:1"]]);
  // b, later still: joins too, its keys kept.
  clock.now = 20_000;
  assert.equal(registry.heartbeat("http://b:1", { ring: last, synced: 5_000 }), "new");
  assert.deepEqual(registry.ring.nodes, ["http://a:1", "http://b:1", "http://new:1"]);
  // Its own rings are its own: a member it forgot that beats with one joins as any node does.
  const own = registry.view();
  assert.ok(registry.deregister("http://new:1"));
  assert.equal(registry.heartbeat("http://new:1", { ring: own }), "new");
  assert.deepEqual(registry.unsettledRings.at(-1)?.nodes, ["http://a:1", "http://b:1"]);
});

Deno.test("A restarted master's epochs pass those of a ring it never learnt, so its nodes follow", () => {
  // The master before ran its clock ahead: its rings' epochs were past this one's, and nodes
  // that came back after the wait never followed this master's rings (503s, for good).
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  const ahead = lastRing(0, 70_000, { "http://a:1": 69_998, "http://b:1": 69_999 });
  clock.now = 13_000;
  registry.sweep(); // nothing learnt
  clock.now = 14_000;
  assert.equal(registry.heartbeat("http://a:1", { ring: ahead, synced: 70_000 }), "new");
  assert.ok(registry.epoch > 70_000, `epoch ${registry.epoch}`);

  // Once writes may have been taken here, with epochs below that ring's, its keys would win over
  // them (acknowledged writes read back reverted, for good): the node drops its keys instead.
  const other = restarted(clock);
  clock.now += 3000;
  other.sweep();
  assert.equal(other.heartbeat("http://new:1", {}), "new");
  assert.equal(other.heartbeat("http://a:1", { ring: ahead, synced: 70_000 }), "rejoin");
  assert.equal(other.heartbeat("http://a:1", { ring: ahead, empty: true }), "new");
});

Deno.test("A ring never learnt stays so once this master's epochs pass it", () => {
  // The last master ran ahead, and cut a off in its epoch 70,000; b, c and d went on to 70,003.
  // a came back first, and this master's epochs jumped past a's ring, then rose as c and d
  // rejoined, until 70,003 counted as its own: b joined with keys stamped above writes taken here
  // (acknowledged writes read back reverted, for good).
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  const [a, b, c, d] = ["http://a:1", "http://b:1", "http://c:1", "http://d:1"];
  const cutOff = lastRing(0, 70_000, { [a]: 1, [b]: 2, [c]: 3 });
  const later = lastRing(0, 70_003, { [b]: 2, [c]: 3, [d]: 70_001 });
  clock.now = 13_000;
  registry.sweep(); // nothing learnt
  assert.equal(registry.heartbeat(a, { ring: cutOff, synced: 70_000 }), "new");
  for (const node of [c, d]) {
    assert.equal(registry.heartbeat(node, { ring: later, synced: 70_003 }), "rejoin");
    assert.equal(registry.heartbeat(node, { empty: true }), "new");
  }
  assert.equal(registry.epoch, 70_003);
  assert.equal(registry.heartbeat(b, { ring: later, synced: 70_003 }), "rejoin");
  // Its own ring of that epoch is still its own.
  const own = registry.view();
  assert.ok(registry.deregister(d));
  assert.equal(registry.heartbeat(d, { ring: own }), "new");
});

Deno.test("A ring never learnt is not its own for an epoch among its own, with no jump", () => {
  // The first node back followed an older ring, so the epochs did not jump; a node of the last
  // master's later ring (its clock ran ahead), whose epoch fell among this master's, was taken as
  // one of its own and joined with keys stamped above writes taken here.
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  const [a, b, c] = ["http://a:1", "http://b:1", "http://c:1"];
  clock.now = 13_000;
  registry.sweep(); // nothing learnt
  assert.equal(
    registry.heartbeat(a, { ring: lastRing(0, 9_000, { [a]: 1, [b]: 2, [c]: 3 }) }),
    "new",
  );
  registry.heartbeat("http://n1:1", { empty: true });
  registry.heartbeat("http://n2:1", { empty: true });
  assert.equal(registry.epoch, 10_004); // writes taken from 10,002, when a joined
  const later = lastRing(0, 10_003, { [b]: 2, [c]: 3 });
  assert.equal(registry.heartbeat(b, { ring: later, synced: later.epoch }), "rejoin");
});

Deno.test("A master's own ring stays its own through 5,000 ring changes", () => {
  // Own rings were known by the last 256 published: a node forgotten while up, back after more
  // changes than that, was told to rejoin empty, its keys lost. (Past the 4,096 held, by epoch.)
  const clock = { now: 10_000 };
  const registry = restarted(clock);
  clock.now = 13_000;
  registry.sweep(); // nothing learnt
  registry.heartbeat("http://a:1", {});
  registry.heartbeat("http://x:1", {});
  const own = registry.view();
  assert.ok(registry.deregister("http://x:1")); // forgotten while up: it keeps its keys
  for (let i = 0; i < 2_500; i++) {
    registry.heartbeat("http://n:1", {});
    assert.ok(registry.deregister("http://n:1"));
  }
  assert.equal(registry.heartbeat("http://x:1", { ring: own, synced: own.epoch }), "new");
});

/** A ring a node reports: `nodes` in `epoch` of `term`. */
const reported = (term: number, epoch: number, nodes: string[]) => ({
  term,
  epoch,
  replicas: 1,
  nodes,
  joined: {},
});

Deno.test("A node an older ring held, dropped since, rejoins empty: heard during recovery or after", () => {
  const ring = (epoch: number, nodes: string[]) => reported(1, epoch, nodes);
  const [x, y] = ["http://x:1", "http://y:1"];
  // The last master marked x down in epoch 6; x, cut off, still holds epoch 5's keys.
  const during = restarted({ now: 0 });
  assert.equal(during.heartbeat(x, { instance: "x", ring: ring(5, [x, y]) }), "recovering");
  during.heartbeat(y, { instance: "y", ring: ring(6, [y]) }); // all of epoch 6: recovered
  assert.deepEqual(during.ring.nodes, [y], "x's stale keys stay out of the ring");
  assert.equal(during.heartbeat(x, { instance: "x", ring: ring(5, [x, y]) }), "rejoin");
  assert.equal(during.heartbeat(x, { instance: "x", empty: true }), "new");

  const after = restarted({ now: 0 });
  after.heartbeat(y, { instance: "y", ring: ring(6, [y]) });
  assert.equal(after.heartbeat(x, { instance: "x", ring: ring(5, [x, y]) }), "rejoin");
  assert.deepEqual(after.ring.nodes, [y]);
  // A node leaving is not told to drop the keys it hands over.
  assert.notEqual(after.heartbeat(x, { ring: ring(5, [x, y]), leaving: true }), "rejoin");
  const leaving = restarted({ now: 0 });
  leaving.heartbeat(x, { instance: "x", ring: ring(5, [x, y]), leaving: true });
  leaving.heartbeat(y, { instance: "y", ring: ring(6, [y]) });
  assert.notEqual(leaving.heartbeat(x, { ring: ring(5, [x, y]), leaving: true }), "rejoin");
});

Deno.test("A node this master marked down and an operator forgot rejoins empty", () => {
  const clock = { now: 0 };
  const registry = new Registry({ failureTimeoutMs: 1000, now: () => clock.now, log });
  const [x, y] = ["http://x:1", "http://y:1"];
  registry.heartbeat(x, { instance: "x" });
  registry.heartbeat(y, { instance: "y" });
  const old = registry.view(); // [x, y]
  clock.now = 999;
  registry.heartbeat(y, { instance: "y", ring: old });
  clock.now = 1000;
  registry.sweep(); // x, cut off, is marked down
  assert.equal(registry.deregister(x), true); // and forgotten (DELETE /register/x)
  assert.equal(registry.heartbeat(x, { instance: "x", ring: old }), "rejoin");
  assert.equal(registry.heartbeat(x, { instance: "x", empty: true }), "new");
  // An up node an operator deregisters keeps its keys: it joins again with them.
  const held = registry.view(); // y's ring, holding it
  assert.equal(registry.deregister(y), true);
  assert.equal(registry.heartbeat(y, { instance: "y", ring: held }), "new");
});

Deno.test("A node forgotten down, back by a ring adopted, then forgotten up, keeps its keys", () => {
  const clock = { now: 0 };
  let leading = true;
  const registry = new Registry({
    failureTimeoutMs: 1000,
    now: () => clock.now,
    log,
    leading: () => leading,
  });
  const [x, y] = ["http://x:1", "http://y:1"];
  registry.heartbeat(x, { instance: "x" });
  registry.heartbeat(y, { instance: "y" });
  clock.now = 999;
  registry.heartbeat(y, { instance: "y" });
  clock.now = 1000;
  registry.sweep(); // x marked down
  registry.deregister(x); // and forgotten
  leading = false; // another master takes x back (as the same process); this one follows it
  const view = registry.view();
  registry.adopt({ ...view, term: view.term + 1, epoch: view.epoch + 1, nodes: [x, y] });
  leading = true;
  const withX = registry.view();
  assert.equal(registry.deregister(x), true); // forgotten again, while up
  assert.equal(registry.heartbeat(x, { instance: "x", ring: withX }), "new", "the last decides");
});

Deno.test("A restarted master with no election takes back the nodes of rings it never saw", () => {
  // Its epochs start from its clock, past every ring the master before it published in term 0.
  const ring = (epoch: number, nodes: string[]) => reported(0, epoch, nodes);
  const [x, y] = ["http://x:1", "http://y:1"];
  const unrecovered = new Registry({
    failureTimeoutMs: 1000,
    now: () => 1e6,
    log,
    initialEpoch: 1e6,
  });
  assert.equal(unrecovered.heartbeat(x, { instance: "x", ring: ring(900, [x, y]) }), "new");
  // With recovery: a node of a ring newer than the one recovered joins, keys and all.
  const clock = { now: 1e6 };
  const recovered = restarted(clock);
  recovered.heartbeat(y, { instance: "y", ring: ring(900, [y]) });
  clock.now += 3000;
  recovered.sweep();
  assert.equal(recovered.recovering, false);
  assert.equal(recovered.heartbeat(x, { instance: "x", ring: ring(901, [x, y]) }), "new");
});

Deno.test("A master that was paused gives every node the missing time back before judging", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.sweep();
  clock.now = 4500; // SIGSTOP for 4.5 s: the heartbeats sent meanwhile wait behind this sweep
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://a:1"], "nobody marked down");
  registry.heartbeat("http://a:1");
  clock.now = 5400;
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://a:1"]);
});

Deno.test("Registry.sweep() marks down a node the master cannot call, though it heartbeats", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1");
  for (clock.now = 100; clock.now <= 1000; clock.now += 100) {
    registry.heartbeat("http://a:1");
    registry.heartbeat("http://b:1");
    registry.reached("http://b:1"); // only b answers the master's calls
    registry.sweep();
  }
  assert.deepEqual(registry.ring.nodes, ["http://b:1"]);
  assert.equal(registry.status("http://a:1"), "down");
});

Deno.test("Registry.leaseMsFor() ends the lease of a node the master cannot call before it marks it down", () => {
  // Heard, not reached: a full lease with each beat let it serve past the mark-down.
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  for (const node of ["http://a:1", "http://b:1"]) heard(registry, node);
  assert.equal(registry.leaseMsFor("http://a:1"), 800);
  let markedDownAt: number | undefined;
  for (clock.now = 100; markedDownAt === undefined; clock.now += 100) {
    registry.heartbeat("http://a:1");
    heard(registry, "http://b:1");
    // The lease from this beat, if any, ends before the master may mark the node down.
    const lease = registry.leaseMsFor("http://a:1");
    assert.ok(lease === 0 || clock.now + lease <= 800, `at ${clock.now} ms`);
    if (clock.now >= 800) assert.equal(lease, 0);
    assert.equal(registry.leaseMsFor("http://b:1"), 800);
    registry.sweep();
    if (registry.status("http://a:1") === "down") markedDownAt = clock.now;
  }
  assert.equal(markedDownAt, 1000);
  assert.equal(registry.leaseMsFor("http://a:1"), 0);
});

Deno.test("Registry.leaseMsFor() gives the time a pause of the master took back before the sweep does", () => {
  // Beats queued behind a pause were answered before the sweep that gives every node the missing
  // time back: leases near 0, and nodes answered 503 for a beat.
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  for (const node of ["http://a:1", "http://b:1"]) heard(registry, node);
  for (clock.now = 100; clock.now <= 500; clock.now += 100) registry.sweep();
  clock.now = 1400; // paused since 500: the queued beats come first
  const lease = registry.leaseMsFor("http://a:1");
  registry.sweep();
  assert.equal(lease, registry.leaseMsFor("http://a:1"));
  assert.equal(lease, 300);
});

Deno.test("Registry.leaseMsFor() gives the whole lease when the master does not call its nodes", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  clock.now = 700;
  registry.heartbeat("http://a:1");
  assert.equal(registry.leaseMsFor("http://a:1"), 800);
});

Deno.test("Registry gives a restarted node a failure timeout afresh for the master's calls", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  registry.heartbeat("http://a:1", { instance: "first" });
  registry.reached("http://a:1");
  const beatUntil = (end: number, instance: string) => {
    for (; clock.now < end; clock.now += 100) {
      registry.heartbeat("http://a:1", { instance });
      registry.heartbeat("http://b:1"); // a node doing well: a is not the last one up
      registry.reached("http://b:1");
      registry.sweep();
    }
  };
  beatUntil(900, "first"); // beating, then killed and started again on its port
  assert.equal(registry.heartbeat("http://a:1", { instance: "second" }), "new");
  beatUntil(1500, "second"); // the master has not called it since before the kill
  assert.equal(registry.status("http://a:1"), "up");
  beatUntil(2000, "second"); // nor ever reaches the new process
  assert.equal(registry.status("http://a:1"), "down");
});

Deno.test("Registry.sweep() marks no node down while none was heard from lately, then the silent ones", () => {
  // Nodes all stalled by a client's reads once were all marked down, and each came back told to
  // drop every key it held.
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  for (const node of nodes) heard(registry, node);
  const epoch = registry.epoch;
  for (clock.now = 100; clock.now <= 3000; clock.now += 100) registry.sweep();
  assert.deepEqual(registry.ring.nodes, nodes, "none marked down");
  assert.equal(registry.epoch, epoch);
  assert.ok(nodes.every((node) => registry.status(node) === "up"));

  heard(registry, "http://b:1"); // b is back: the others get half a timeout to be back too
  const back = clock.now;
  for (; clock.now < back + 500; clock.now += 100) registry.sweep();
  assert.deepEqual(registry.ring.nodes, nodes);
  clock.now = back + 500;
  heard(registry, "http://b:1");
  registry.sweep(); // then they are down, and b takes their keys
  assert.deepEqual(registry.ring.nodes, ["http://b:1"]);
  assert.equal(registry.status("http://a:1"), "down");
});

Deno.test("Registry.sweep() marks a node down whose calls are refused while none was heard from", () => {
  // A stalled process's socket still takes connections; a refused call says it is gone.
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  for (const node of nodes) heard(registry, node);
  for (clock.now = 100; clock.now <= 900; clock.now += 100) registry.sweep();
  registry.refused("http://a:1");
  registry.refused("http://b:1");
  registry.reached("http://b:1"); // answered again: busy after all
  registry.refused("http://c:1");
  clock.now += 10;
  registry.heartbeat("http://c:1"); // started again on its address, then stalled with the others
  for (; clock.now <= 3000; clock.now += 100) registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://b:1", "http://c:1"]);
  assert.equal(registry.status("http://a:1"), "down");

  clock.now += 10;
  registry.refused("http://b:1");
  registry.refused("http://c:1");
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, [], "every node gone: none is kept up");
});

Deno.test("Registry.sweep() marks a node down only while another was heard from lately", () => {
  // Stalled one after another, a node late while the others are not yet: none heard from within
  // half the timeout, so none is marked down.
  const clock = { now: 0 };
  const registry = registryAt(clock, true);
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  const beat = (node: string) => heard(registry, node);
  nodes.forEach(beat);
  for (clock.now = 100; clock.now <= 1000; clock.now += 100) {
    if (clock.now === 300) beat("http://b:1");
    if (clock.now === 400) beat("http://c:1");
    registry.sweep();
  }
  assert.deepEqual(registry.ring.nodes, nodes, "a late, b and c silent past half the timeout");
  // b and c back: a, not back within half a timeout of them, is marked down.
  for (let i = 0; i <= 6; i++, clock.now += 100) {
    beat("http://b:1");
    beat("http://c:1");
    registry.sweep();
  }
  assert.deepEqual(registry.ring.nodes, ["http://b:1", "http://c:1"], "c heard: a marked down");
});

/** A registry at R=2 that calls its nodes, with a, b and c up, synced. */
function threeAtR2(clock: { now: number }) {
  const registry = new Registry({
    failureTimeoutMs: 1000,
    now: () => clock.now,
    log,
    callsNodes: true,
    replicas: 2,
  });
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  const beat = (node: string) => {
    registry.heartbeat(node, { synced: registry.epoch });
    registry.reached(node);
  };
  nodes.forEach(beat);
  nodes.forEach(beat);
  assert.ok(registry.settled);
  /** Every 100 ms from the next, until before `until`: `beating` beat, then a sweep. */
  const beatsUntil = (until: number, ...beating: string[]) => {
    for (clock.now += 100; clock.now < until; clock.now += 100) {
      beating.forEach(beat);
      registry.sweep();
    }
  };
  return { registry, beat, beatsUntil };
}

Deno.test("Registry.sweep() at R=2 marks a second silent node down only once keys settled", () => {
  // A master too busy to read heartbeats in time (2,000 client connections, load 7) marked two
  // live nodes of three down, one after the other, while c's beats got through: both were told to
  // rejoin empty, and acknowledged writes whose two copies they held were lost.
  const clock = { now: 0 };
  const { registry, beat } = threeAtR2(clock);
  for (clock.now = 100; clock.now <= 1500; clock.now += 100) {
    beat("http://c:1");
    registry.sweep();
  }
  assert.equal(registry.status("http://a:1"), "down");
  assert.deepEqual(registry.ring.nodes, ["http://b:1", "http://c:1"], "b kept up");
  beat("http://b:1"); // alive after all
  for (; clock.now <= 4000; clock.now += 100) {
    beat("http://b:1");
    beat("http://c:1");
    registry.sweep();
  }
  assert.deepEqual(registry.ring.nodes, ["http://b:1", "http://c:1"]);
  assert.ok(registry.settled);
  // Keys settled: a node silent for a timeout is marked down as before.
  const silent = clock.now;
  for (; clock.now <= silent + 1000; clock.now += 100) {
    beat("http://c:1");
    registry.sweep();
  }
  assert.deepEqual(registry.ring.nodes, ["http://c:1"]);
});

Deno.test("Registry.sweep() at R=2 keeps a second silent node up for three timeouts at most", () => {
  const clock = { now: 0 };
  const { registry, beat, beatsUntil } = threeAtR2(clock);
  beatsUntil(1100, "http://c:1");
  assert.deepEqual(registry.ring.nodes, ["http://b:1", "http://c:1"], "a down, b kept up");
  for (; clock.now < 3000; clock.now += 100) {
    beat("http://c:1");
    registry.sweep();
  }
  assert.equal(registry.status("http://b:1"), "up", "silent for 2.9 timeouts");
  clock.now = 3000;
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://c:1"], "dead too: gone at three timeouts");

  // A node whose calls are refused is gone, not slow: marked down at its timeout.
  const again = threeAtR2(clock);
  const start = clock.now;
  for (; clock.now <= start + 1000; clock.now += 100) {
    again.beat("http://c:1");
    if (clock.now === start + 500) again.registry.refused("http://b:1");
    again.registry.sweep();
  }
  assert.deepEqual(again.registry.ring.nodes, ["http://c:1"]);
});

Deno.test("Registry.sweep() at R=2 counts a kept-up node's three timeouts from its hold's start", () => {
  // When no node was heard from lately and then one was, every node got half a timeout back, the
  // one kept up too: a dead node's hold began again each time, and it could stay up for good.
  const clock = { now: 0 };
  const { registry, beat, beatsUntil } = threeAtR2(clock);
  beatsUntil(1100, "http://c:1");
  assert.deepEqual(registry.ring.nodes, ["http://b:1", "http://c:1"], "a down, b kept up");
  for (; clock.now <= 1700; clock.now += 100) registry.sweep(); // c silent too: none marked down
  for (; clock.now < 3000; clock.now += 100) {
    beat("http://c:1"); // c heard again: b given half a timeout back
    registry.sweep();
  }
  assert.equal(registry.status("http://b:1"), "up");
  beat("http://c:1");
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://c:1"], "silent for three timeouts since 0");
});

Deno.test("A master that comes to lead at R=2 with a node down keeps a late one up", () => {
  // It began with no node marked down by itself, and marked the second one down at its timeout.
  const clock = { now: 0 };
  let leads = false;
  const options = { failureTimeoutMs: 1000, now: () => clock.now, log, replicas: 2 };
  const { registry: leader, beat } = threeAtR2(clock);
  const follower = new Registry({ ...options, leading: () => leads });
  for (clock.now = 100; clock.now <= 1000; clock.now += 100) {
    beat("http://b:1");
    beat("http://c:1");
    leader.sweep();
  }
  assert.equal(leader.status("http://a:1"), "down");
  follower.adopt(leader.view());
  leads = true;
  follower.lead(2);
  const led = clock.now;
  for (; clock.now <= led + 1500; clock.now += 100) {
    follower.heartbeat("http://c:1");
    follower.sweep();
  }
  assert.equal(follower.status("http://b:1"), "up", "b kept up: a's keys may not have settled");
});

Deno.test("Registry publishes the newest flush it made or heard of with the ring", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  const version = registry.version!;
  registry.noteFlush(5_000);
  assert.deepEqual([registry.view().flushed, registry.version], [5_000, version + 1]);
  registry.noteFlush(4_000); // an older one changes nothing
  assert.deepEqual([registry.view().flushed, registry.version], [5_000, version + 1]);
  // A node reports one this master did not make (another master's, or before a restart).
  const ring = { ...registry.view(), flushed: 6_000 };
  registry.heartbeat("http://a:1", { ring });
  assert.equal(registry.view().flushed, 6_000);
});

Deno.test("Registry takes no flush from a beat of a node not in its ring", () => {
  // One forged beat, of an address no node has, made every later join drop keys: the new owner
  // refused them as flushed and reported them held, so the old owners let them go.
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://y:1");
  const forged = { ...registry.view(), flushed: 9_000 };
  registry.heartbeat("http://x:1", { leaving: true, ring: forged }); // kept out of the ring
  assert.equal(registry.view().flushed, undefined);
  clock.now = 1000;
  registry.heartbeat("http://a:1");
  registry.sweep(); // y marked down
  assert.equal(registry.heartbeat("http://y:1", { ring: forged }), "rejoin");
  assert.equal(registry.view().flushed, undefined);
  registry.heartbeat("http://a:1", { ring: { ...registry.view(), flushed: 7_000 } });
  assert.equal(registry.view().flushed, 7_000, "a member's is taken");
  // A node joining (its address checked to be a node's) brings the flush its ring names: a master
  // that learns no ring learns it so.
  registry.heartbeat("http://z:1", { ring: { ...registry.view(), flushed: 8_000 } });
  assert.equal(registry.view().flushed, 8_000);
});

Deno.test("A recovering master takes a flush only from a node of the ring it reports", () => {
  const registry = restarted({ now: 0 });
  const last = { ...lastRing(0, 40, { "http://a:1": 1, "http://b:1": 2 }), flushed: 3_000 };
  // A leaving beat is not checked: one naming an address of no ring, with a ring far ahead.
  registry.heartbeat("http://x:1", { leaving: true, ring: { ...last, flushed: 9_000 } });
  registry.heartbeat("http://a:1", { ring: last });
  registry.heartbeat("http://b:1", { ring: last });
  assert.equal(registry.recovering, false);
  assert.equal(registry.view().flushed, 3_000);
});

Deno.test("Registry forgets the rings keys moved from once they settled, so a join moves from one", () => {
  // Kept until read while settled, they made a single join count 2 rings moving, then 3, then 6.
  const clock = { now: 0 };
  const registry = registryAt(clock);
  for (const node of ["a", "b", "c"]) {
    registry.heartbeat(`http://${node}:1`, { instance: node });
    for (const synced of ["a", "b", "c"].slice(0, ["a", "b", "c"].indexOf(node) + 1)) {
      registry.heartbeat(`http://${synced}:1`, { instance: synced, synced: registry.epoch });
    }
    assert.equal(registry.view().settled, true);
  }
  registry.heartbeat("http://d:1", { instance: "d" });
  assert.equal(registry.view().movingRings, 1);
});

Deno.test("A node restarted at its address keeps the ring it left read: its backup has the keys", () => {
  // Its ring has the same nodes: dropped as a duplicate, reads took the new, empty process's 404
  // as final at R=2, though the backup held the key.
  const clock = { now: 0 };
  const registry = new Registry({ replicas: 2, failureTimeoutMs: 1000, now: () => clock.now, log });
  for (const node of ["http://a:1", "http://b:1"]) registry.heartbeat(node, { instance: "1" });
  for (const node of ["http://a:1", "http://b:1"]) {
    registry.heartbeat(node, { instance: "1", synced: registry.epoch });
  }
  assert.equal(registry.settled, true);
  registry.heartbeat("http://a:1", { instance: "2", empty: true }); // a new process
  assert.equal(registry.settled, false);
  assert.equal(registry.unsettledRings.length, 1, "misses ask the ring the keys were placed by");
});

Deno.test("A ring that comes back before keys settle counts as two changes", () => {
  // Joined then gone again: keys moved to c and may be moving back. Left out as the current
  // ring's twin, one change was counted, and a hit on a's older copy was taken as the newest.
  const clock = { now: 0 };
  const registry = registryAt(clock);
  for (const node of ["http://a:1", "http://b:1"]) registry.heartbeat(node, { instance: "1" });
  registry.heartbeat("http://c:1", { instance: "1" });
  assert.ok(registry.deregister("http://c:1"));
  const lists = registry.unsettledRings.map((ring) => ring.nodes.join(" "));
  assert.deepEqual(lists.slice(0, 2), [
    "http://a:1 http://b:1 http://c:1",
    "http://a:1 http://b:1",
  ]);
  assert.ok((registry.view().movingRings ?? 0) >= 2);
});

Deno.test("The ring gives each leaving node's handover time left, as its beats said", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1", { instance: "1" });
  registry.heartbeat("http://b:1", { instance: "1" });
  registry.heartbeat("http://b:1", { instance: "1", leaving: true, handoverLeftMs: 110_000 });
  clock.now = 500;
  assert.deepEqual(registry.view().handoverLeftMs, { "http://b:1": 109_500 });
});
