import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import type { RingView } from "@cache/protocol/wire";
import { Registry } from "./registry.ts";

function pair() {
  const clock = { now: 0 };
  let followerLeads = false;
  const options = { failureTimeoutMs: 1000, now: () => clock.now, log };
  const leader = new Registry({ ...options, initialEpoch: 100 });
  const follower = new Registry({ ...options, leading: () => followerLeads });
  return { clock, leader, follower, promote: () => followerLeads = true };
}

Deno.test("A follower adopts the leader's ring and records heartbeats without deciding", () => {
  const { clock, leader, follower } = pair();
  leader.heartbeat("http://a:1", { instance: "i-a" });
  leader.heartbeat("http://b:1", { instance: "i-b" });
  assert.equal(follower.adopt(leader.view()), true);
  assert.equal(follower.adopt(leader.view()), false, "the same ring again changes nothing");
  assert.deepEqual(follower.ring.nodes, leader.ring.nodes);
  assert.equal(follower.epoch, leader.epoch);
  assert.equal(follower.heartbeat("http://a:1", { instance: "i-a", synced: 102 }), "known");
  assert.equal(follower.heartbeat("http://c:1"), "forward", "a new node is the leader's to add");
  assert.equal(follower.heartbeat("http://a:1", { leaving: true }), "forward");
  assert.equal(follower.heartbeat("http://a:1", { instance: "i-new" }), "forward");
  assert.equal(follower.deregister("http://a:1"), false);
  clock.now = 5000;
  follower.sweep();
  assert.equal(follower.ring.size, 2, "a follower marks no node down");
});

Deno.test("A follower learns of nodes that joined anew from the leader's ring", () => {
  // Its breakers, opened while such a node was away, stayed open after it came back (503 "circuit
  // breaker is open" through the follower for seconds while the leader answered): only a join on
  // this master reset them.
  const clock = { now: 0 };
  const options = { failureTimeoutMs: 1000, now: () => clock.now, log };
  const leader = new Registry({ ...options, initialEpoch: 100 });
  const joined: string[] = [];
  const follower = new Registry({
    ...options,
    leading: () => false,
    onJoined: (address) => joined.push(address),
  });
  leader.heartbeat("http://a:1", { instance: "a1" });
  leader.heartbeat("http://b:1", { instance: "b1" });
  follower.adopt(leader.view());
  assert.deepEqual(joined.sort(), ["http://a:1", "http://b:1"]);
  joined.length = 0;
  leader.heartbeat("http://b:1", { instance: "b2" }); // restarted: joins anew
  leader.heartbeat("http://c:1", { instance: "c1" });
  follower.adopt(leader.view());
  assert.deepEqual(joined.sort(), ["http://b:1", "http://c:1"]);
});

Deno.test("A follower never adopts a ring of an older term, whatever its epoch", () => {
  const { follower } = pair();
  const ring = (term: number, epoch: number): RingView => ({
    term,
    epoch,
    replicas: 1,
    nodes: ["http://a:1"],
    joined: { "http://a:1": 1 },
    settled: true,
  });
  assert.equal(follower.adopt(ring(2, 50)), true);
  assert.equal(follower.adopt(ring(1, 900)), false, "a deposed leader's ring");
  assert.equal(follower.adopt(ring(2, 49)), false);
  assert.equal(follower.adopt(ring(3, 10)), true, "a newer term wins with a lower epoch");
  assert.deepEqual([follower.term, follower.epoch], [3, 10]);
});

Deno.test("A promoted follower carries on from its heartbeats, giving every node a fresh timeout", () => {
  const { clock, leader, follower, promote } = pair();
  leader.heartbeat("http://a:1");
  leader.heartbeat("http://b:1");
  follower.adopt(leader.view());
  clock.now = 800;
  follower.heartbeat("http://a:1"); // only a beats the follower from now on
  const epoch = follower.epoch;
  promote();
  follower.lead(4);
  assert.equal(follower.term, 4);
  assert.ok(follower.epoch > epoch && follower.epoch >= 800, "epochs jump to the clock");
  assert.deepEqual(follower.ring.nodes, ["http://a:1", "http://b:1"], "no node dropped");
  clock.now = 1500;
  follower.sweep(); // b was last seen at adoption, 0, but it beat the old leader: fresh from 800
  assert.deepEqual(follower.ring.nodes, ["http://a:1", "http://b:1"]);
  clock.now = 1600;
  follower.heartbeat("http://a:1");
  follower.sweep(); // sweeps come often: one a quarter of the timeout late means a pause
  clock.now = 1800;
  follower.sweep();
  // None was heard from lately at 1500: b got half a timeout more when a was heard at 1600.
  assert.deepEqual(follower.ring.nodes, ["http://a:1", "http://b:1"]);
  clock.now = 2000;
  follower.heartbeat("http://a:1");
  follower.sweep();
  clock.now = 2100;
  follower.sweep();
  assert.deepEqual(follower.ring.nodes, ["http://a:1"], "b silent for a failure timeout");
});

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("Registry.changed() resolves on a new ring, and at once after close()", async () => {
  const { leader } = pair();
  const waiting = leader.changed(10_000);
  assert.equal(await within(waiting, 50), false, "nothing changed yet");
  leader.heartbeat("http://a:1");
  assert.equal(await within(waiting, 100), true);
  leader.close();
  assert.equal(await within(leader.changed(10_000), 100), true);
});

Deno.test("Registry.changed() forgets a wait that timed out", async () => {
  const { leader } = pair();
  await Promise.all(Array.from({ length: 100 }, () => leader.changed(1)));
  const waiting = leader.changed(10_000);
  assert.equal(leader.waiting, 1, "only the wait still waiting: long polls that timed out go");
  leader.heartbeat("http://a:1");
  await waiting;
  assert.equal(leader.waiting, 0);
});

Deno.test("A node out of the leader's ring is leaving if it asked to, else down", () => {
  const { leader, follower } = pair();
  for (const node of ["http://a:1", "http://b:1", "http://c:1"]) leader.heartbeat(node);
  follower.adopt(leader.view());
  assert.equal(follower.heartbeat("http://a:1", { leaving: true }), "forward");
  leader.heartbeat("http://a:1", { leaving: true });
  follower.adopt({ ...leader.view(), outside: undefined }); // a leader of an older build
  leader.deregister("http://b:1"); // gone without a word: as a down node looks to a follower
  follower.adopt({ ...leader.view(), outside: undefined });
  const status = Object.fromEntries(follower.list().nodes.map((n) => [n.address, n.status]));
  assert.deepEqual(status, { "http://a:1": "leaving", "http://b:1": "down", "http://c:1": "up" });
});

Deno.test("A follower lists the nodes the leader lists, as the leader lists them", () => {
  const { clock, leader, follower } = pair();
  const listed = (registry: typeof leader) =>
    registry.list().nodes.map((n) => [n.address, n.status]);
  for (const node of ["http://a:1", "http://b:1", "http://c:1"]) leader.heartbeat(node);
  follower.adopt(leader.view());
  leader.heartbeat("http://a:1", { leaving: true }); // asked the leader alone
  follower.adopt(leader.view());
  assert.deepEqual(listed(follower), listed(leader));
  assert.equal(follower.list().nodes[0].status, "leaving");
  // a handed its keys over and deregistered; b stopped beating while c did not.
  leader.deregister("http://a:1");
  clock.now = 900;
  leader.heartbeat("http://c:1");
  clock.now = 1100;
  leader.sweep();
  follower.adopt(leader.view());
  assert.deepEqual(listed(follower), [["http://b:1", "down"], ["http://c:1", "up"]]);
  leader.deregister("http://b:1"); // forgotten by an operator: the ring does not change
  assert.equal(follower.adopt(leader.view()), true, "a change of the list alone is news");
  assert.deepEqual(listed(follower), listed(leader));
  assert.deepEqual(listed(follower), [["http://c:1", "up"]]);
});

Deno.test("A node the leader forgot while down, back as the same process, rejoins empty", () => {
  const { clock, leader, follower, promote } = pair();
  leader.heartbeat("http://a:1", { instance: "a1" });
  leader.heartbeat("http://b:1", { instance: "b1" });
  follower.adopt(leader.view());
  follower.heartbeat("http://a:1", { instance: "a1" });
  clock.now = 900;
  leader.heartbeat("http://b:1", { instance: "b1" });
  clock.now = 1100;
  leader.sweep(); // a is down
  leader.deregister("http://a:1");
  follower.adopt(leader.view());
  promote();
  follower.lead(2);
  assert.equal(follower.heartbeat("http://a:1", { instance: "a1" }), "rejoin");
  assert.equal(follower.heartbeat("http://a:1", { instance: "a2" }), "new", "a new process");
});

/**
 * A leader and its follower; b, leaving, marked down by the leader at 1100 (a beats till 900). The
 * follower saw b leaving, unless `seenLeaving` is false (it last saw b up).
 */
function leaverDownOnLeader(seenLeaving = true) {
  const both = pair();
  const { clock, leader, follower } = both;
  leader.heartbeat("http://a:1", { instance: "a1" });
  leader.heartbeat("http://b:1", { instance: "b1" });
  if (!seenLeaving) follower.adopt(leader.view());
  leader.heartbeat("http://b:1", { instance: "b1", leaving: true });
  if (seenLeaving) follower.adopt(leader.view());
  clock.now = 900;
  leader.heartbeat("http://a:1", { instance: "a1" });
  clock.now = 1100;
  leader.sweep(); // b is down, while leaving
  return both;
}

for (const seenLeaving of [true, false]) {
  // Not seen: it missed the leader's view of b leaving (it started, or its long poll was out).
  const seen = seenLeaving ? "it saw leaving" : "it last saw up";
  Deno.test(`A follower that comes to lead lets a leaving node marked down hand over: ${seen}`, () => {
    const { leader, follower, promote } = leaverDownOnLeader(seenLeaving);
    follower.adopt(leader.view());
    assert.equal(follower.status("http://b:1"), "down");
    promote();
    follower.lead(2);
    assert.equal(follower.heartbeat("http://b:1", { instance: "b1", leaving: true }), "known");
    assert.equal(follower.status("http://b:1"), "leaving");
    assert.deepEqual(follower.ring.nodes, ["http://a:1"]);
  });
}

Deno.test("A follower that comes to lead past a leaving node's handover time tells it to rejoin empty", () => {
  const { clock, leader, follower, promote } = leaverDownOnLeader(false);
  follower.adopt(leader.view()); // b has 20 s of handover from its leaving beat at 0
  clock.now = 21_000; // and a failure timeout for its last beats: it has exited, or exits
  promote();
  follower.lead(2);
  assert.equal(follower.heartbeat("http://b:1", { instance: "b1", leaving: true }), "rejoin");
});

Deno.test("Under a leader of an older build, a follower lets only a node it saw leaving hand over", () => {
  const { leader, follower, promote } = leaverDownOnLeader(); // the follower saw b leaving
  const { downWhileLeaving: _, ...older } = leader.view();
  follower.adopt({ ...older, outside: { ...older.outside, "http://c:1": "down" } });
  promote();
  follower.lead(2);
  assert.equal(follower.heartbeat("http://b:1", { instance: "b1", leaving: true }), "known");
  assert.equal(follower.heartbeat("http://c:1", { instance: "c1", leaving: true }), "rejoin");
});

Deno.test("A follower that comes to lead empties a leaving node marked down before a flush", () => {
  const { leader, follower, promote } = leaverDownOnLeader();
  leader.noteFlush(5_000); // then the cluster is flushed: the follower sees both at once
  follower.adopt(leader.view());
  promote();
  follower.lead(2);
  assert.equal(follower.heartbeat("http://b:1", { instance: "b1", leaving: true }), "rejoin");
});

Deno.test("A node back in the ring since it was marked down leaving rejoins empty when down again", () => {
  const { clock, leader, follower, promote } = leaverDownOnLeader();
  follower.adopt(leader.view());
  leader.heartbeat("http://b:1", { instance: "b2" }); // restarted: back in the ring
  follower.adopt(leader.view());
  assert.equal(follower.status("http://b:1"), "up");
  for (clock.now = 1200; clock.now <= 2200; clock.now += 100) {
    leader.heartbeat("http://a:1", { instance: "a1" });
    leader.sweep(); // b is down at 2100, while up
  }
  follower.adopt({ ...leader.view(), outside: undefined }); // a leader of an older build
  assert.equal(follower.status("http://b:1"), "down");
  promote();
  follower.lead(2);
  assert.equal(follower.heartbeat("http://b:1", { instance: "b2", leaving: true }), "rejoin");
});

Deno.test("The leader wakes followers' long polls when only the list changes", async () => {
  const { leader } = pair();
  leader.heartbeat("http://a:1");
  leader.heartbeat("http://b:1");
  leader.heartbeat("http://b:1", { leaving: true });
  const waiting = leader.changed(5_000);
  leader.deregister("http://b:1");
  assert.equal(await within(waiting, 100), true);
});

Deno.test("A follower does not take a new process's leaving for the old process's", () => {
  const { leader, follower } = pair();
  for (const node of ["http://a:1", "http://b:1"]) leader.heartbeat(node, { instance: "i-1" });
  follower.adopt(leader.view());
  follower.heartbeat("http://a:1", { instance: "i-1" });
  // A restarted a leaves at once; the leader never heard it, and drops a without a word.
  follower.heartbeat("http://a:1", { instance: "i-2", leaving: true });
  leader.deregister("http://a:1");
  follower.adopt({ ...leader.view(), outside: undefined }); // a leader of an older build
  const a = follower.list().nodes.find((n) => n.address === "http://a:1");
  assert.equal(a?.status, "down");
  follower.adopt(leader.view());
  assert.equal(follower.list().nodes.length, 1, "forgotten, as on the leader");
});

Deno.test("A follower learns a restarted node's process, and leading tells it to rejoin empty", () => {
  const { clock, leader, follower, promote } = pair();
  const [x, y] = ["http://x:1", "http://y:1"];
  leader.heartbeat(x, { instance: "x1" });
  leader.heartbeat(y, { instance: "y1" });
  follower.adopt(leader.view());
  follower.heartbeat(x, { instance: "x1" });
  // x restarts: the follower forwards, the leader takes the new process, the follower adopts.
  assert.equal(follower.heartbeat(x, { instance: "x2" }), "forward");
  assert.equal(leader.heartbeat(x, { instance: "x2" }), "new");
  follower.adopt(leader.view());
  assert.equal(follower.heartbeat(x, { instance: "x2" }), "known", "no longer forwarded");
  // x (still x2) is cut off and marked down; then the leader dies and the follower leads.
  clock.now = 900;
  leader.heartbeat(y, { instance: "y1" });
  clock.now = 1100;
  leader.sweep();
  follower.adopt(leader.view());
  promote();
  follower.lead(5);
  assert.equal(follower.heartbeat(x, { instance: "x2" }), "rejoin", "its keys may be stale");
});

Deno.test("A promoted follower tells a node of the ring it adopted, dropped since, to rejoin empty", () => {
  const { leader, follower, promote } = pair();
  const [x, y, z] = ["http://x:1", "http://y:1", "http://z:1"];
  leader.heartbeat(y);
  follower.adopt(leader.view()); // [y]
  const before = leader.view();
  leader.heartbeat(z); // a ring the follower never adopted: [y, z]
  const unseen = leader.view();
  promote();
  follower.lead(5);
  // x, in an earlier ring of the same term, was dropped by the one adopted: its keys may be stale.
  const old = { ...before, epoch: before.epoch - 1, nodes: [x, y] };
  assert.equal(follower.heartbeat(x, { instance: "x", ring: old }), "rejoin");
  // z joined in a ring newer than any this master knows: it joins, keys and all.
  assert.equal(follower.heartbeat(z, { instance: "z", ring: unseen }), "new");
});

Deno.test("A node synced to a deposed leader's ring is not synced to a new term's at its epoch", () => {
  const { clock, leader, follower, promote } = pair();
  clock.now = 5000;
  leader.heartbeat("http://a:1");
  leader.heartbeat("http://b:1");
  follower.adopt(leader.view());
  // The old leader, its clock far ahead of the follower's, publishes one more ring in its term
  // that never reaches the follower; both nodes finish their passes for it.
  const unseen = { term: leader.term, epoch: follower.epoch + 1 };
  promote();
  clock.now = 10; // the new leader's clock is far behind: its first epoch is the unseen one's
  follower.lead(leader.term + 1);
  assert.equal(follower.epoch, unseen.epoch);
  for (const node of ["http://a:1", "http://b:1"]) {
    follower.heartbeat(node, { synced: unseen.epoch, syncedTerm: unseen.term });
  }
  assert.equal(follower.settled, false, "no pass of the new term's ring has run");
  assert.deepEqual(follower.list().nodes.map((n) => n.synced), [false, false]);
  for (const node of ["http://a:1", "http://b:1"]) {
    follower.heartbeat(node, { synced: follower.epoch, syncedTerm: follower.term });
  }
  assert.equal(follower.settled, true);
  follower.heartbeat("http://a:1", { synced: follower.epoch });
  assert.equal(follower.settled, true, "a node that names no term is judged by its epoch");
});

Deno.test("A node synced to a ring of a newer term than the master's is not synced to its ring", () => {
  const { leader } = pair();
  leader.heartbeat("http://a:1");
  leader.heartbeat("http://a:1", { synced: leader.epoch + 5, syncedTerm: leader.term + 1 });
  assert.equal(leader.settled, false, "a deposed leader keeps its earlier rings");
});

Deno.test("A follower takes back no older answer of the same ring, and wakes its own waiters", async () => {
  const { leader, follower } = pair();
  leader.heartbeat("http://a:1");
  leader.heartbeat("http://b:1", { leaving: true });
  const before = leader.view(); // a forwarded registration's answer, say, that comes in late
  leader.deregister("http://b:1");
  const waiting = follower.changed(5_000);
  follower.adopt(leader.view());
  assert.equal(follower.list().nodes.length, 1);
  assert.equal(await within(waiting, 100), true, "a change of the list alone wakes them");
  assert.equal(follower.adopt(before), false);
  assert.deepEqual(follower.list().nodes.map((n) => n.address), ["http://a:1"]);
});

Deno.test("A node the follower saw up, marked down in a restart it missed, rejoins empty", () => {
  const { clock, leader, follower, promote } = pair();
  leader.heartbeat("http://a:1", { instance: "a1" });
  leader.heartbeat("http://b:1", { instance: "b1" });
  follower.adopt(leader.view());
  follower.heartbeat("http://a:1", { instance: "a1" });
  // Unseen by the follower: a restarts as a2 and joins, then is cut off and marked down.
  leader.heartbeat("http://a:1", { instance: "a2" });
  clock.now = 900;
  leader.heartbeat("http://b:1", { instance: "b1" });
  clock.now = 1100;
  leader.sweep();
  assert.equal(leader.heartbeat("http://a:1", { instance: "a2" }), "rejoin");
  follower.adopt(leader.view());
  promote();
  follower.lead(2);
  assert.equal(follower.heartbeat("http://a:1", { instance: "a2" }), "rejoin", "as the leader");
});

Deno.test("A follower's ring carries the leader's version, not a count of its own", () => {
  const { leader, follower } = pair();
  leader.heartbeat("http://a:1");
  leader.heartbeat("http://b:1", { leaving: true });
  follower.adopt(leader.view());
  leader.deregister("http://b:1");
  follower.adopt(leader.view());
  assert.equal(follower.view().version, leader.version);
  // A master that takes this ring from the follower (its election not yet caught up) then takes
  // the leader's later answers of the same ring.
  const { follower: other } = pair();
  other.adopt(follower.view());
  leader.heartbeat("http://a:1", { synced: leader.epoch }); // settled: same ring, newer version
  assert.equal(other.adopt(leader.view()), true);
  assert.equal(other.settled, true);
});

Deno.test("A follower takes the leader's flush, and a leader its follower's through the nodes", () => {
  const { leader, follower, promote } = pair();
  leader.heartbeat("http://a:1", { instance: "i-a" });
  leader.noteFlush(5_000);
  follower.adopt(leader.view());
  assert.equal(follower.view().flushed, 5_000);
  // A flush through the follower: the nodes took it, and report it to the leader.
  follower.noteFlush(7_000);
  leader.heartbeat("http://a:1", { instance: "i-a", ring: follower.view() });
  assert.equal(leader.view().flushed, 7_000);
  promote();
  assert.equal(follower.view().flushed, 7_000, "kept on taking the lead");
});

Deno.test("A leader that stops leading while keys move says they move, and keeps the rings they left", () => {
  // Its renew deadline passed, and no one else leads yet: nodes still beat it, and read its ring.
  let leading = true;
  const registry = new Registry({
    replicas: 2,
    failureTimeoutMs: 4000,
    now: () => 1_000_000,
    log,
    initialEpoch: 100,
    leading: () => leading,
  });
  registry.lead(7);
  for (const node of ["http://a:1", "http://b:1"]) registry.heartbeat(node, { instance: node });
  for (const node of ["http://a:1", "http://b:1"]) {
    registry.heartbeat(node, { instance: node, synced: registry.epoch, syncedTerm: 7 });
  }
  assert.equal(registry.settled, true);
  registry.heartbeat("http://c:1", { instance: "http://c:1" }); // joins: keys move to it
  const moving = registry.unsettledRings.length;
  assert.deepEqual([registry.view().settled, moving > 0], [false, true]);
  leading = false;
  assert.deepEqual(
    [registry.view().settled, registry.unsettledRings.length],
    [false, moving],
    "its own ring's keys still move: a node told they settled would stop looking for them",
  );
  for (const node of ["http://a:1", "http://b:1", "http://c:1"]) {
    registry.heartbeat(node, { instance: node, synced: registry.epoch, syncedTerm: 7 });
  }
  assert.deepEqual([registry.view().settled, registry.unsettledRings.length], [true, 0]);
  leading = true;
  assert.equal(registry.settled, true);
});

/**
 * A leader restarted in term 2 whose wait learnt no ring, then took node a back by the last
 * master's ring (term 1, epoch 70,000, cut off before that master's 70,003); and its follower.
 */
function afterNothingLearnt(replicas: number) {
  const clock = { now: 10_000 };
  let followerLeads = false;
  const options = { replicas, failureTimeoutMs: 1000, now: () => clock.now, log, recoveryMs: 3000 };
  const leader = new Registry({ ...options, initialEpoch: clock.now });
  /** A follower, leading once `leads()` says so. */
  const followerOf = (leads: () => boolean) =>
    new Registry({ ...options, initialEpoch: clock.now, leading: leads });
  const follower = followerOf(() => followerLeads);
  const [a, b, c] = ["http://a:1", "http://b:1", "http://c:1"];
  const cutOff = { term: 1, epoch: 70_000, replicas, nodes: [a, b, c], joined: {} };
  const later = { term: 1, epoch: 70_003, replicas, nodes: [b, c], joined: {} };
  leader.lead(2);
  clock.now = 13_000;
  leader.sweep(); // nothing learnt
  assert.equal(leader.heartbeat(a, { ring: cutOff }), "new"); // writes from 70,001
  assert.deepEqual(leader.view().writesFrom, { term: 2, epoch: 70_001 });
  follower.adopt(leader.view());
  const promote = () => {
    followerLeads = true;
    follower.lead(3);
  };
  return { clock, leader, follower, promote, later, followerOf };
}

Deno.test("A follower that comes to lead after a leader that learnt no ring judges old rings alike", () => {
  // Its follower, leading next, took nodes of the last master's later ring in as plain members,
  // with keys stamped above writes acknowledged since (118 of 120 read back older in a review).
  const { follower, promote, later } = afterNothingLearnt(2);
  promote();
  assert.equal(follower.heartbeat("http://b:1", { ring: later }), "rejoin");
});

Deno.test("A follower that comes to lead takes in a node of a ring of its leader it missed", () => {
  // A follower long-polls, and may miss a ring: a node that joined in it, not a member here, was
  // judged as one of a ring never learnt and told to rejoin empty (R=1: its keys lost, for good).
  const { leader, follower, promote } = afterNothingLearnt(1);
  leader.heartbeat("http://n:1", {}); // the follower misses this ring
  const missed = leader.view();
  promote();
  assert.equal(follower.heartbeat("http://n:1", { ring: missed, synced: missed.epoch }), "new");
});

Deno.test("A second follower to lead takes in a node of a ring of the first it never saw", () => {
  // Rings of the leaders after the one that learnt no ring are this cluster's: a node that joined
  // in one a later leader missed was told to rejoin empty (R=1: 24-32 of 120 keys lost).
  const { leader, follower, promote, followerOf } = afterNothingLearnt(1);
  let secondLeads = false;
  const second = followerOf(() => secondLeads);
  second.adopt(leader.view());
  promote(); // the first follower leads in term 3, and takes a node the second never hears of
  assert.equal(follower.heartbeat("http://n:1", {}), "new");
  const missed = follower.view();
  secondLeads = true;
  second.lead(4);
  assert.equal(second.heartbeat("http://n:1", { ring: missed, synced: missed.epoch }), "new");
});

Deno.test("A follower's ring says from how many rings keys move as the leader's does", () => {
  // Counted from the rings a follower saw, it differed from the leader's for up to a second,
  // and a direct client reading it judged its hits otherwise.
  const { leader, follower } = pair();
  leader.heartbeat("http://a:1", { instance: "a1" });
  follower.adopt(leader.view());
  leader.heartbeat("http://b:1", { instance: "b1" });
  leader.heartbeat("http://c:1", { instance: "c1" }); // the follower misses the ring between
  follower.adopt(leader.view());
  assert.equal(leader.view().movingRings, 3);
  assert.equal(follower.view().movingRings, 3);
  for (const node of ["a", "b", "c"]) {
    leader.heartbeat(`http://${node}:1`, { instance: `${node}1`, synced: leader.epoch });
  }
  follower.adopt(leader.view());
  assert.equal(follower.view().movingRings, undefined, "settled");
});

/** The node lists of `registry`'s rings keys may still be moving from, newest first. */
const movingFrom = (registry: Registry) => registry.unsettledRings.map((ring) => ring.nodes);

Deno.test("A follower reads through the rings the leader reads through, one it missed included", () => {
  // Built from the rings it saw, a follower missed one whose long poll was out: a key that ring
  // had moved to a node owning it nowhere else read 404 through the follower.
  const { leader, follower } = pair();
  leader.heartbeat("http://a:1", { instance: "a1" });
  follower.adopt(leader.view({ movingFrom: true }));
  leader.heartbeat("http://b:1", { instance: "b1" });
  leader.heartbeat("http://c:1", { instance: "c1" }); // the follower misses the ring between
  follower.adopt(leader.view({ movingFrom: true }));
  assert.equal(movingFrom(leader).length, 3);
  assert.deepEqual(movingFrom(follower), movingFrom(leader));
  assert.equal(leader.view().movingFrom, undefined, "only when asked");
});

Deno.test("A follower reads through a ring never learnt while the leader does", () => {
  // Its keys moved, the leader said its ring settled, but went on reading through the ring for
  // --recovery-ms (the others of it may come back with keys they alone hold): the follower
  // dropped it, and read 404 or older values for such keys that the leader would not.
  const { clock, leader, follower } = afterNothingLearnt(1);
  leader.heartbeat("http://a:1", { synced: leader.epoch }); // its keys moved: the ring settles
  follower.adopt(leader.view({ movingFrom: true }));
  assert.ok(movingFrom(leader).length > 0, "the leader reads through the ring never learnt");
  assert.deepEqual(movingFrom(follower), movingFrom(leader));
  assert.equal(leader.view().settled, false, "nodes and clients look for keys on their way");
  for (clock.now = 13_100; clock.now <= 16_000; clock.now += 100) {
    leader.heartbeat("http://a:1", { synced: leader.epoch });
    leader.sweep();
  }
  follower.adopt(leader.view({ movingFrom: true }));
  assert.deepEqual(movingFrom(leader), []);
  assert.deepEqual(movingFrom(follower), []);
  assert.equal(leader.view().settled, true);
});

Deno.test("A follower reads a leaving node marked down, heard again, as the leader does", () => {
  // The leader reads its keys through a ring it adds, of the same epoch: the follower never
  // learnt it, and read the keys 404 while the node handed them over.
  const { clock, leader, follower } = leaverDownOnLeader();
  follower.adopt(leader.view({ movingFrom: true }));
  clock.now = 1200;
  assert.equal(leader.heartbeat("http://b:1", { instance: "b1", leaving: true }), "known");
  assert.equal(follower.adopt(leader.view({ movingFrom: true })), true);
  assert.ok(movingFrom(follower).some((nodes) => nodes.includes("http://b:1")));
  assert.deepEqual(movingFrom(follower), movingFrom(leader));
});

Deno.test("A new leader lists no ring twice among those keys move from", () => {
  // Carrying on with the same nodes, it put the ring it had among them again: every master read
  // one ring twice, and a client counted one ring change more.
  const { leader, follower, promote } = pair();
  leader.heartbeat("http://a:1", { instance: "a1" });
  leader.heartbeat("http://b:1", { instance: "b1" });
  follower.adopt(leader.view({ movingFrom: true }));
  promote();
  follower.lead(2);
  const lists = movingFrom(follower).map((nodes) => nodes.join(" "));
  assert.deepEqual(lists, [...new Set(lists)]);
  assert.ok(!lists.includes(follower.ring.nodes.join(" ")), "the current ring is read anyway");
});

Deno.test("A follower that comes to lead waits for a leaving node as long as the leader would", () => {
  // It gave every leaving node it never heard the default 20 s, whatever the node had said.
  const { clock, leader, follower, promote } = pair();
  leader.heartbeat("http://a:1", { instance: "a1" });
  leader.heartbeat("http://b:1", { instance: "b1" });
  leader.heartbeat("http://b:1", { instance: "b1", leaving: true, handoverLeftMs: 110_000 });
  follower.adopt(leader.view({ movingFrom: true }));
  promote();
  follower.lead(2);
  clock.now = 50_000; // b paused since: marked down while leaving, with 60 s of handover left
  follower.heartbeat("http://a:1", { instance: "a1" });
  follower.sweep();
  assert.equal(follower.status("http://b:1"), "down");
  assert.equal(follower.mayHandOver("http://b:1"), true);
});
