// Nodes on different rings at once, wired as main.ts wires them: no key is lost between them.

import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { Ring } from "@cache/ring/ring";
import { newerRing, type RingView } from "@cache/protocol/wire";
import { type Replica, Store } from "../store/store.ts";
import { Rebalancer } from "./rebalance.ts";
import { readSenderRing, senderRing } from "@cache/protocol/sender_ring";
import { Strays } from "./strays.ts";
import { Writer } from "./writer.ts";

const A = "http://a:1";
const C = "http://c:1";
const D = "http://d:1";

/** The ring of `epoch` over `nodes`, in term 1, each node joined when `joined` says. */
const ring = (epoch: number, nodes: string[], joined: Record<string, number>): RingView => ({
  term: 1,
  epoch,
  replicas: 1,
  nodes: [...nodes].sort(),
  joined,
  settled: false,
});

/** The owner `view` gives `key`. */
const ownerIn = (view: RingView, key: string) => new Ring(view.nodes).owner(key);

/** One node: its store, the ring it follows, and its moves. */
interface Node {
  store: Store;
  view?: RingView;
  writer: Writer;
  rebalancer: Rebalancer;
  strays: Strays;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Nodes `names`, each sending `/replicate` to the others as the route does: the sender's ring in
 * its header, the entries applied, then the receiver's rebalancer and strays told. Each way of a
 * call takes `delay()` milliseconds.
 */
function cluster(names: string[], delay = () => 5) {
  const nodes = new Map<string, Node>();
  const send = async (to: string, replicas: Replica[], view: RingView) => {
    await sleep(delay());
    const node = nodes.get(to)!;
    const entries = JSON.parse(JSON.stringify(replicas));
    const from = readSenderRing(senderRing(view))!;
    const answer = node.writer.apply(entries);
    node.rebalancer.claimed(entries, from);
    node.strays.take(entries, from);
    await sleep(delay());
    return answer;
  };
  for (const self of names) {
    const store = new Store();
    const node = { store, writer: new Writer(store, undefined, 1 << 20) } as Node;
    node.rebalancer = new Rebalancer({ self, store, send, batch: 100, log });
    node.strays = new Strays({
      self,
      store,
      view: () => node.view,
      send,
      batch: 100,
      claimedAfter: (key, view) => node.rebalancer.claimedAfter(key, view),
      log,
    });
    nodes.set(self, node);
  }
  /** `name` learns `view`, unless it knows a newer one, and moves its keys for it. */
  const learn = async (name: string, view: RingView, wait = true) => {
    const node = nodes.get(name)!;
    if (node.view && !newerRing(view, node.view)) return;
    node.view = view;
    node.rebalancer.follow(view);
    if (wait) assert.ok(await node.rebalancer.idle(1000));
  };
  const holders = (key: string) =>
    [...nodes].filter(([, node]) => node.store.get(key)).map(([name]) => name);
  /** Resolves once no node moves or sends on keys. */
  const settled = async () => {
    for (let busy = true; busy;) {
      busy = false;
      for (const node of nodes.values()) {
        if (!(await node.rebalancer.idle(5000)) || !(await node.strays.idle(5000))) busy = true;
      }
      await sleep(20); // a call still on its way may start a round
      for (const node of nodes.values()) {
        if (node.rebalancer.progress.moving || !(await node.strays.idle(0))) busy = true;
      }
    }
  };
  return { nodes, learn, holders, settled };
}

Deno.test("A key a node behind hands over after the receiver moved on reaches its owner", async () => {
  // D held every key (e1); A joined (e2), then C (e3). A moved e2 and e3 before D moved e2: D then
  // hands A a key A owned in e2 but not in e3, and drops its own copy.
  const e1 = ring(1, [D], { [D]: 1 });
  const e2 = ring(2, [A, D], { [A]: 2, [D]: 1 });
  const e3 = ring(3, [A, C, D], { [A]: 2, [C]: 3, [D]: 1 });
  let key = "";
  for (let i = 0; !key; i++) {
    if (ownerIn(e2, `k${i}`) === A && ownerIn(e3, `k${i}`) === C) key = `k${i}`;
  }
  const { nodes, learn, holders } = cluster([A, C, D]);
  nodes.get(D)!.store.apply({ key, version: 1, epoch: 1, value: "acknowledged" });
  await learn(D, e1);
  await learn(A, e2);
  await learn(A, e3);
  await learn(C, e3);
  await learn(D, e2);
  await nodes.get(A)!.strays.idle(1000);
  await learn(D, e3);
  assert.deepEqual(holders(key), [C], "on its owner in e3, and only there");
  assert.equal(nodes.get(C)!.store.get(key)?.value, "acknowledged");
});

Deno.test("A key sent back to a node behind is not dropped by that node's older pass", async () => {
  // D joins (e2) and leaves (e3) before C, behind, learns e2: C hands k to D, its owner in e2; D
  // sends it on to C, its owner in e3, and drops it; C's pass for e2 must not drop it then.
  const e1 = ring(1, [A, C], { [A]: 1, [C]: 1 });
  const e2 = ring(2, [A, C, D], { [A]: 1, [C]: 1, [D]: 2 });
  const e3 = ring(3, [A, C], { [A]: 1, [C]: 1 });
  let key = "";
  for (let i = 0; !key; i++) {
    if (ownerIn(e1, `k${i}`) === C && ownerIn(e2, `k${i}`) === D) key = `k${i}`;
  }
  assert.equal(ownerIn(e3, key), C);
  const { nodes, learn, holders } = cluster([A, C, D]);
  nodes.get(C)!.store.apply({ key, version: 1, epoch: 1, value: "acknowledged" });
  await learn(A, e1);
  await learn(C, e1);
  await learn(D, e2);
  await learn(A, e2);
  await learn(D, e3);
  await learn(A, e3);
  await learn(C, e2);
  await nodes.get(D)!.strays.idle(1000);
  await learn(C, e3);
  assert.deepEqual(holders(key), [C]);
});

/** A xorshift generator: the same numbers in [0, 1) for the same seed. */
function randomFrom(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/**
 * Two to four joins and leaves among up to six nodes, each node learning each ring at its own
 * moment, and calls taking 0-3 ms each way; resolves with the keys not on every owner at the end.
 */
async function randomMoves(seed: number, replicas: number): Promise<string[]> {
  const random = randomFrom(seed);
  const pool = ["a", "b", "c", "d", "e", "f"].map((name) => `http://${name}:1`);
  let members = pool.slice(0, 3);
  const joined: Record<string, number> = Object.fromEntries(members.map((node) => [node, 1]));
  const rings = [{ ...ring(1, members, { ...joined }), replicas }];
  for (let epoch = 2; epoch <= 3 + Math.floor(random() * 3); epoch++) {
    const joining = pool.find((node) =>
      !(node in joined) && !rings.some((r) => r.nodes.includes(node))
    );
    if (joining && (members.length <= 2 || random() < 0.5)) {
      members = [...members, joining];
      joined[joining] = epoch;
    } else {
      const leaving = members[Math.floor(random() * members.length)];
      members = members.filter((node) => node !== leaving);
      delete joined[leaving];
    }
    rings.push({ ...ring(epoch, members, { ...joined }), replicas });
  }
  const { nodes, learn, settled } = cluster(pool, () => Math.floor(random() * 4));
  const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
  for (const key of keys) {
    for (const owner of new Ring(rings[0].nodes).owners(key, replicas)) {
      nodes.get(owner)!.store.apply({ key, version: 1, epoch: 1, value: `v${key}` });
    }
  }
  for (const node of rings[0].nodes) await learn(node, rings[0]);
  await Promise.all(pool.map(async (node) => {
    for (const next of rings.slice(1)) {
      await sleep(Math.floor(random() * 25));
      // A node is told of rings from the one it joined in.
      if (nodes.get(node)!.view !== undefined || next.nodes.includes(node)) {
        await learn(node, next, false);
      }
    }
  }));
  await settled();
  const last = rings.at(-1)!;
  return keys.filter((key) =>
    new Ring(last.nodes).owners(key, replicas).some((owner) =>
      nodes.get(owner)!.store.get(key)?.value !== `v${key}`
    )
  );
}

Deno.test("Nodes that learn random joins and leaves at their own moments keep every key", async () => {
  for (let seed = 1; seed <= 60; seed++) {
    const replicas = 1 + (seed % 2);
    assert.deepEqual(await randomMoves(seed, replicas), [], `seed ${seed}, R=${replicas}`);
  }
});
