// Reads through the master right after a node left gracefully: the departed node is not asked.

import assert from "node:assert/strict";
import type { Fetch } from "@cache/http1/fetch";
import { silentLogger as log } from "@cache/log/log";
import { Registry } from "../membership/registry.ts";
import { Breakers } from "./breaker.ts";
import { Router } from "./router.ts";

const A = "http://a:1", B = "http://b:1", L = "http://l:1", J = "http://j:1";

type Through = "leader" | "follower" | "promoted follower";

/**
 * Three nodes, R=2, settled; then L leaves, reports its handover (or not), deregisters, exits. The
 * reads go through the leader, or through a follower that takes the leader's rings and hears the
 * same heartbeats, or through that follower once it leads in the next term. With `joined`, J joins
 * while L hands over: L reports its handover for the ring it left in, older than the last.
 */
function leftCluster(handedOver: boolean, through: Through = "leader", joined = false) {
  const clock = { now: 0 };
  const options = { replicas: 2, failureTimeoutMs: 1000, now: () => clock.now, log };
  const leader = new Registry(options);
  let promoted = false;
  const follower = new Registry({ ...options, leading: () => promoted });
  const beat = (node: string, beat: Parameters<Registry["heartbeat"]>[1]) => {
    leader.heartbeat(node, beat);
    follower.adopt(leader.view());
    follower.heartbeat(node, beat);
  };
  for (const node of [A, B, L]) beat(node, { instance: node });
  for (const node of [A, B, L]) beat(node, { instance: node, synced: leader.epoch });
  beat(L, { instance: L, leaving: true }); // ring E+1 = {A, B}
  const left = leader.epoch;
  if (joined) beat(J, { instance: J }); // ring E+2 = {A, B, J}
  if (handedOver) beat(L, { instance: L, leaving: true, synced: left });
  assert.ok(leader.deregister(L));
  follower.adopt(leader.view());
  if (through === "promoted follower") {
    promoted = true;
    clock.now += 10;
    follower.lead(leader.term + 1);
    assert.equal(follower.term, leader.term + 1);
  }
  const registry = through === "leader" ? leader : follower;
  assert.deepEqual(registry.ring.nodes, joined ? [A, B, J] : [A, B]);
  assert.equal(registry.list().nodes.length, joined ? 3 : 2, "L is forgotten");
  // A and B have not reported E+1 yet (a heartbeat or two away): ring E is still kept for reads.
  assert.ok(registry.unsettledRings.some((ring) => ring.nodes.includes(L)), "ring E is kept");
  const calls: string[] = [];
  const fetch: Fetch = (input) => {
    const url = String(input);
    calls.push(url);
    if (url.startsWith(L)) return Promise.reject(new TypeError("Connection refused")); // exited
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  };
  const breakers = new Breakers({ failures: 5, cooldownMs: 5000, now: () => clock.now, log });
  const router = new Router({ placement: registry, fetch, timeoutMs: 100, breakers });
  return { router, calls };
}

/** Reads of keys L owned in ring E, absent everywhere: each a 404, and L, gone, never asked. */
async function missesWithoutL({ router, calls }: ReturnType<typeof leftCluster>): Promise<void> {
  // Exactly the reads that ask ring E's owners after both owners miss.
  const keys = Array.from({ length: 40 }, (_, i) => `absent-${i}`);
  const statuses = [];
  for (const key of keys) statuses.push((await router.get(key).catch((e) => e)).status);
  assert.deepEqual(statuses, keys.map(() => 404));
  assert.equal(calls.filter((url) => url.startsWith(L)).length, 0, "the departed node is asked");
}

for (const through of ["leader", "follower", "promoted follower"] as const) {
  Deno.test(`after a graceful leave, a miss through the ${through} is a 404, not the departed node's 502/503`, async () => {
    await missesWithoutL(leftCluster(true, through));
  });
}

for (const through of ["leader", "follower", "promoted follower"] as const) {
  Deno.test(`a node that handed over by the ring it left in, a join since, is not asked through the ${through}`, async () => {
    // It reported its handover for ring E+1; J's join made E+2 meanwhile. A and B hold its keys.
    await missesWithoutL(leftCluster(true, through, true));
  });
}

for (const through of ["leader", "follower", "promoted follower"] as const) {
  Deno.test(`a node that left without reporting its handover is still asked through the ${through} (its error stands)`, async () => {
    const { router } = leftCluster(false, through);
    const keys = Array.from({ length: 40 }, (_, i) => `absent-${i}`);
    const statuses = new Set();
    for (const key of keys) statuses.add((await router.get(key).catch((e) => e)).status);
    assert.ok(statuses.has(502) || statuses.has(503), [...statuses].join());
  });
}

Deno.test("a miss while keys move from a ring naming a node marked down is a 404, not its 503", async () => {
  // Reads while a node joined after another was marked down asked the dead one, in the ring keys
  // were still moving from: its open breaker failed them for seconds.
  const clock = { now: 0 };
  const registry = new Registry({ replicas: 2, failureTimeoutMs: 1000, now: () => clock.now, log });
  const D = "http://d:1";
  for (const node of [A, B, D]) registry.heartbeat(node, { instance: node });
  for (const node of [A, B, D]) {
    registry.heartbeat(node, { instance: node, synced: registry.epoch });
  }
  for (clock.now = 100; clock.now <= 1200; clock.now += 100) {
    for (const node of [A, B]) registry.heartbeat(node, { instance: node });
    registry.sweep();
  }
  assert.equal(registry.status(D), "down");
  assert.ok(registry.unsettledRings.some((ring) => ring.nodes.includes(D)), "its ring is kept");
  const calls: string[] = [];
  const fetch: Fetch = (input) => {
    calls.push(String(input));
    if (String(input).startsWith(D)) return Promise.reject(new TypeError("Connection refused"));
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  };
  const router = new Router({ placement: registry, fetch, timeoutMs: 100 });
  const keys = Array.from({ length: 40 }, (_, i) => `absent-${i}`);
  const statuses = [];
  for (const key of keys) statuses.push((await router.get(key).catch((e) => e)).status);
  assert.deepEqual(statuses, keys.map(() => 404));
  assert.equal(calls.filter((url) => url.startsWith(D)).length, 0, "the node down is not asked");
});
