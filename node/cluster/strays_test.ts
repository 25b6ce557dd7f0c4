// Tests of Strays: keys a sender behind this node hands over go on to their owners, then leave.

import assert from "node:assert/strict";
import { silentLogger } from "@cache/log/log";
import { Ring } from "@cache/ring/ring";
import type { RingView } from "@cache/protocol/wire";
import { type Replica, Store } from "../store/store.ts";
import { Strays } from "./strays.ts";

const A = "http://a:1";
const B = "http://b:1";
const C = "http://c:1";

/** The ring of `epoch` over `nodes`, in term 1. */
function view(epoch: number, nodes: string[], replicas = 1): RingView {
  return {
    term: 1,
    epoch,
    replicas,
    nodes: [...nodes].sort(),
    joined: Object.fromEntries(nodes.map((node) => [node, 1])),
    settled: false,
  };
}

/** A key whose owners in `ring` satisfy `wanted`. */
function keyWhere(ring: RingView, wanted: (owners: string[]) => boolean): string {
  const placed = new Ring(ring.nodes);
  for (let i = 0;; i++) if (wanted(placed.owners(`k${i}`, ring.replicas))) return `k${i}`;
}

/**
 * Node A following `current`, with a fake transport that records each call and answers as `answer`
 * says (taken by default), and a retry wait that lasts until the test wakes it.
 */
function setup(
  current: RingView,
  answer: (node: string, call: number) => Promise<void> = () => Promise.resolve(),
) {
  const clock = { now: 1_000 };
  const store = new Store({ now: () => clock.now });
  const ring = { current };
  const calls: { node: string; replicas: Replica[]; epoch: number }[] = [];
  const waits: (() => void)[] = [];
  const strays = new Strays({
    self: A,
    store,
    view: () => ring.current,
    send: (node, replicas, placedBy) => {
      calls.push({ node, replicas, epoch: placedBy.epoch });
      return answer(node, calls.length);
    },
    batch: 100,
    log: silentLogger,
    sleep: () => new Promise((wake) => waits.push(wake)),
  });
  return { clock, store, ring, calls, waits, strays };
}

Deno.test("Strays sends a key a node behind handed here to its owner, then drops it", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  const { store, calls, strays } = setup(ring);
  store.apply({ key, version: 5, epoch: 2, value: "its only copy", ttlMs: 60_000 });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls.map(({ node, epoch }) => ({ node, epoch })), [{ node: C, epoch: 3 }]);
  assert.equal(calls[0].replicas[0].value, "its only copy");
  assert.equal(calls[0].replicas[0].ttlMs, 60_000);
  assert.equal(store.replica(key), undefined, "dropped once its owner has it");
  assert.equal(strays.sent, 1);
});

Deno.test("Strays leaves keys from a sender on this node's ring or a newer one alone", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  const { store, calls, strays } = setup(ring);
  store.apply({ key, version: 5, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 3 });
  strays.take([{ key }], { term: 1, epoch: 4 });
  strays.take([{ key }], { term: 2, epoch: 1 });
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls, []);
  assert.equal(store.get(key)?.value, "v");
  // A deposed leader's term is older, whatever its epoch.
  strays.take([{ key }], { term: 0, epoch: 9 });
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls.map(({ node }) => node), [C]);
});

Deno.test("Strays sends a key this node owns to its other owners, and keeps it", async () => {
  const ring = view(3, [A, B, C], 2);
  const key = keyWhere(ring, (owners) => owners.includes(A));
  const other = new Ring(ring.nodes).owners(key, 2).find((node) => node !== A);
  const { store, calls, strays } = setup(ring);
  store.apply({ key, version: 5, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls.map(({ node }) => node), [other]);
  assert.equal(store.get(key)?.value, "v");
});

Deno.test("Strays keeps a key until its owner takes it, trying again after a wait", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  const { store, calls, waits, strays } = setup(
    ring,
    (_node, call) => call === 1 ? Promise.reject(new Error("refused")) : Promise.resolve(),
  );
  store.apply({ key, version: 5, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.equal(await strays.idle(50), false);
  assert.equal(waits.length, 1);
  assert.equal(store.get(key)?.value, "v", "kept while its owner has not taken it");
  waits[0]();
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls.map(({ node }) => node), [C, C]);
  assert.equal(store.replica(key), undefined);
});

Deno.test("Strays sends a key by the newer ring that came while it was sent", async () => {
  const first = view(3, [A, B, C]);
  const next = view(4, [A, B]);
  // C's in the first ring, B's in the next.
  const key = Array.from({ length: 500 }, (_, i) => `k${i}`)
    .find((k) => new Ring(first.nodes).owner(k) === C && new Ring(next.nodes).owner(k) === B)!;
  let setup_: ReturnType<typeof setup> | undefined = undefined;
  setup_ = setup(first, (_node, call) => {
    if (call === 1) setup_!.ring.current = next;
    return Promise.resolve();
  });
  const { store, calls, waits, strays } = setup_;
  store.apply({ key, version: 5, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 2 });
  await new Promise((resolve) => setTimeout(resolve, 10));
  waits.splice(0).forEach((wake) => wake());
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls.map(({ node, epoch }) => ({ node, epoch })), [
    { node: C, epoch: 3 },
    { node: B, epoch: 4 },
  ]);
  assert.equal(store.get(key), undefined);
});

Deno.test("Strays does not drop a key written here after the state it sent", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  let written = false;
  let setup_: ReturnType<typeof setup> | undefined = undefined;
  setup_ = setup(ring, () => {
    if (!written) setup_!.store.apply({ key, version: 9, epoch: 3, value: "newer" });
    written = true;
    return Promise.resolve();
  });
  const { store, calls, strays } = setup_;
  store.apply({ key, version: 5, epoch: 2, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.ok(await strays.idle(1000));
  assert.equal(calls[0].replicas[0].value, "v");
  assert.equal(store.get(key)?.value, "newer");
});

Deno.test("Strays sends a copy's TTL as it is when it goes, not when it came", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  let setup_: ReturnType<typeof setup> | undefined = undefined;
  setup_ = setup(ring, (_node, call) => {
    if (call === 1) return Promise.reject(new Error("refused"));
    return Promise.resolve();
  });
  const { clock, store, calls, waits, strays } = setup_;
  store.apply({ key, version: 5, value: "v", ttlMs: 10_000 });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.equal(await strays.idle(50), false);
  clock.now += 4_000;
  waits[0]();
  assert.ok(await strays.idle(1000));
  assert.equal(calls[1].replicas[0].ttlMs, 6_000);
});

Deno.test("Strays.reset() forgets the keys waiting", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  const { store, calls, waits, strays } = setup(ring, () => Promise.reject(new Error("refused")));
  store.apply({ key, version: 5, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.equal(await strays.idle(50), false);
  strays.reset();
  waits[0]();
  assert.ok(await strays.idle(1000));
  assert.equal(calls.length, 1);
});

Deno.test("Strays sends nothing past its stop time, and forgets what waits", async () => {
  // A leaving node's handover time: past it the masters count what it holds as gone. Paused
  // there, then resumed, it went on sending keys already answered 404.
  const ring = view(3, [A, B, C]);
  const keys = Array.from({ length: 300 }, (_, i) => `s${i}`)
    .filter((key) => new Ring(ring.nodes).owner(key) === C).slice(0, 4).map((key) => ({ key }));
  const first = Promise.withResolvers<void>();
  const { store, calls, waits, strays } = setup(
    ring,
    (_node, call) => call === 1 ? first.promise : Promise.reject(new Error("refused")),
  );
  for (const { key } of keys) store.apply({ key, version: 5, value: "v" });
  const sent = strays.take(keys.slice(0, 1), { term: 1, epoch: 2 });
  strays.take(keys.slice(1, 2), { term: 1, epoch: 2 }); // waits for the call under way
  strays.stopAt(performance.now());
  first.resolve();
  assert.equal(await sent, true, "taken before the stop");
  assert.ok(await strays.idle(1000), "the key noted meanwhile forgotten");
  assert.equal(await strays.take(keys.slice(2), { term: 1, epoch: 2 }), false);
  assert.ok(await strays.idle(1000));
  assert.equal(calls.length, 1, `${calls.length} calls`);
  assert.equal(waits.length, 0);
  assert.equal(store.get(keys[1].key)?.value, "v", "kept, not dropped as sent");
});

Deno.test("Strays keeps each call under batchBytes of JSON, a larger key alone", async () => {
  const ring = view(3, [A, B, C]);
  const keys = Array.from({ length: 300 }, (_, i) => `s${i}`)
    .filter((key) => new Ring(ring.nodes).owner(key) === C).slice(0, 10);
  const clock = { now: 1_000 };
  const store = new Store({ now: () => clock.now });
  const sizes: number[][] = [];
  const strays = new Strays({
    self: A,
    store,
    view: () => ring,
    send: (_node, replicas) => {
      sizes.push(replicas.map((replica) => JSON.stringify(replica).length + 1));
      return Promise.resolve();
    },
    batch: 100,
    batchBytes: 3_000,
    log: silentLogger,
  });
  for (const [i, key] of keys.entries()) {
    store.apply({ key, version: 1, value: "x".repeat(i === 0 ? 5_000 : 1_000) });
  }
  strays.take(keys.map((key) => ({ key })), { term: 1, epoch: 2 });
  assert.ok(await strays.idle(1000));
  assert.equal(sizes.flat().length, keys.length, "every key sent once");
  for (const call of sizes) {
    const total = call.reduce((a, b) => a + b, 0);
    assert.ok(call.length === 1 || total <= 3_000, `a call of ${total} bytes`);
  }
});

Deno.test("Strays tried again sends a key only to the owners that did not take it", async () => {
  const ring = view(3, [A, B, C], 3);
  const key = "k";
  const { store, calls, waits, strays } = setup(
    ring,
    (node) =>
      node === C && calls.length <= 2 ? Promise.reject(new Error("refused")) : Promise.resolve(),
  );
  store.apply({ key, version: 5, value: "v" });
  strays.take([{ key }], { term: 1, epoch: 2 });
  assert.equal(await strays.idle(50), false);
  waits[0]();
  assert.ok(await strays.idle(1000));
  assert.deepEqual(calls.map(({ node }) => node).sort(), [B, C, C].sort());
});

Deno.test("Strays settles a key's wait once its owners took it, while newer states keep coming", async () => {
  // A primary behind keeps writing the key: each copy replaces the one waiting. The first copy's
  // sender waits only until the first copy, or a newer one, is on its owner.
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  const answers: (() => void)[] = [];
  const { store, calls, strays } = setup(ring, () => new Promise((done) => answers.push(done)));
  store.apply({ key, version: 1, epoch: 2, value: "v1" });
  const first = strays.take([{ key }], { term: 1, epoch: 2 })!;
  store.apply({ key, version: 2, epoch: 2, value: "v2" });
  const second = strays.take([{ key }], { term: 1, epoch: 2 })!; // replaces v1, waiting
  await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(calls.map((call) => call.replicas[0].value), ["v1"], "one call at a time to C");
  answers[0](); // C took v1
  assert.equal(await first, true);
  await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(calls.map((call) => call.replicas[0].value), ["v1", "v2"]);
  answers[1](); // and v2
  assert.equal(await second, true);
  assert.ok(await strays.idle(1000));
});

Deno.test("Strays settles a key whose owners took it though another owner's call fails", async () => {
  const ring = view(3, [A, B, C]);
  const forB = keyWhere(ring, (owners) => owners[0] === B);
  const forC = keyWhere(ring, (owners) => owners[0] === C);
  let failB = (_error: Error) => {};
  const { store, strays } = setup(
    ring,
    (node) => node === B ? new Promise((_, reject) => failB = reject) : Promise.resolve(),
  );
  store.apply({ key: forB, version: 1, epoch: 2, value: "b" });
  store.apply({ key: forC, version: 1, epoch: 2, value: "c" });
  const toB = strays.take([{ key: forB }], { term: 1, epoch: 2 })!;
  const toC = strays.take([{ key: forC }], { term: 1, epoch: 2 })!;
  // B does not answer (yet): C's key, sent in the same round, is on C all the same.
  assert.equal(await toC, true);
  failB(new Error("no answer within 2000 ms"));
  strays.reset(); // the store cleared: B's key is not sent on, and its wait says so
  assert.equal(await toB, false);
});

Deno.test("Strays is idle once reset, though a call failed and its owner waits to be sent to again", async () => {
  const ring = view(3, [A, B, C]);
  const key = keyWhere(ring, (owners) => owners[0] === C);
  const { store, waits, strays } = setup(ring, () => Promise.reject(new Error("refused")));
  store.apply({ key, version: 5, value: "v" });
  const sent = strays.take([{ key }], { term: 1, epoch: 2 })!;
  assert.equal(await strays.idle(50), false);
  assert.equal(waits.length, 1, "waiting to go again");
  const idle = strays.idle(1000);
  strays.reset(); // the store cleared, to rejoin empty
  assert.equal(await idle, true);
  assert.equal(await sent, false);
});

for (const b of ["paused", "refusing"] as const) {
  Deno.test(`Strays sends keys taken while an owner is ${b} to the others at once`, async () => {
    const ring = view(3, [A, B, C]);
    const placed = new Ring(ring.nodes);
    const forB = Array.from({ length: 200 }, (_, i) => `k${i}`)
      .filter((key) => placed.owner(key) === B).slice(0, 6);
    const forC = keyWhere(ring, (owners) => owners[0] === C);
    const { store, waits, strays } = setup(
      ring,
      (node) =>
        node !== B ? Promise.resolve() : b === "paused"
          ? new Promise(() => {}) // answers after the peer timeout, past the sender's wait
          : Promise.reject(new Error("503")), // then waits to try again
    );
    for (const key of [...forB, forC]) store.apply({ key, version: 1, epoch: 2, value: key });
    for (const key of forB) strays.take([{ key }], { term: 1, epoch: 2 }); // one /replicate each
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (b === "refusing") assert.equal(waits.length, 1);
    assert.equal(await strays.take([{ key: forC }], { term: 1, epoch: 2 }), true);
  });
}

Deno.test("Strays does not count a key sent on by the owners of a ring that changed meanwhile", async () => {
  const first = view(3, [A, B, C]);
  const next = view(4, [A, B]);
  const key = Array.from({ length: 500 }, (_, i) => `k${i}`)
    .find((k) => new Ring(first.nodes).owner(k) === C && new Ring(next.nodes).owner(k) === B)!;
  let answerC = () => {};
  let answerB = () => {};
  const { store, ring, strays } = setup(
    first,
    (node) => new Promise((done) => node === C ? answerC = done : answerB = done),
  );
  store.apply({ key, version: 5, epoch: 2, value: "v" });
  let sent: boolean | undefined;
  strays.take([{ key }], { term: 1, epoch: 2 })!.then((done) => sent = done);
  await new Promise((resolve) => setTimeout(resolve, 1));
  ring.current = next; // reads by ring 4 go to B
  answerC(); // C, the owner in ring 3, took it
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(sent, undefined, "not yet: B lacks it");
  answerB();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(sent, true);
});
