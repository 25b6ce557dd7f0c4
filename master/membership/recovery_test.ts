import assert from "node:assert/strict";
import type { RingView } from "@cache/protocol/wire";
import { Recovery } from "./recovery.ts";

const ring = (term: number, epoch: number, nodes: string[]): RingView => ({
  term,
  epoch,
  replicas: 2,
  nodes,
  joined: {},
});

Deno.test("Recovery waits for every node of the newest ring reported, or its deadline", () => {
  const recovery = new Recovery(3000);
  recovery.heard("http://c:1", undefined); // a new node knows no ring: nothing to go by yet
  assert.equal(recovery.done(100), false);
  recovery.heard("http://a:1", ring(0, 5, ["http://a:1", "http://b:1"]));
  assert.deepEqual(recovery.missing(), ["http://b:1"]);
  assert.equal(recovery.done(200), false);
  // A node behind reports an older ring: the newest one still decides.
  recovery.heard("http://b:1", ring(0, 4, ["http://b:1"]));
  assert.equal(recovery.last?.epoch, 5);
  assert.equal(recovery.done(300), true, "every node of the last ring is back");
});

Deno.test("Recovery gives up on a node of the last ring at its deadline", () => {
  const recovery = new Recovery(3000);
  recovery.heard("http://a:1", ring(1, 2, ["http://a:1", "http://b:1"]));
  assert.equal(recovery.done(2999), false);
  assert.equal(recovery.done(3000), true);
  assert.deepEqual(recovery.missing(), ["http://b:1"]);
});

Deno.test("Recovery orders reported rings by term first", () => {
  const recovery = new Recovery(3000);
  recovery.heard("http://a:1", ring(1, 900, ["http://a:1"]));
  recovery.heard("http://b:1", ring(2, 10, ["http://b:1"]));
  assert.deepEqual(recovery.last?.nodes, ["http://b:1"]);
});

Deno.test("Recovery names the nodes an earlier ring of the last term held and the last dropped", () => {
  const recovery = new Recovery(3000);
  recovery.heard("http://a:1", ring(2, 6, ["http://a:1"]));
  recovery.heard("http://b:1", ring(2, 5, ["http://a:1", "http://b:1"])); // dropped in 6
  recovery.heard("http://c:1", ring(1, 9, ["http://a:1", "http://c:1"])); // another term's
  recovery.heard("http://d:1", ring(2, 5, ["http://a:1"])); // not in its own ring: new
  assert.deepEqual(recovery.dropped(), ["http://b:1"]);
});

Deno.test("Recovery names the nodes the last ring lists leaving, while no report says it settled", () => {
  const recovery = new Recovery(3000);
  const last = {
    ...ring(2, 6, ["http://a:1", "http://b:1"]),
    settled: false,
    outside: { "http://x:1": "leaving", "http://y:1": "down", "http://z:1": "down" } as const,
    downWhileLeaving: { "http://z:1": 4000 },
  };
  recovery.heard("http://a:1", last);
  assert.deepEqual([...recovery.leavers()], [["http://x:1", undefined], ["http://z:1", 4000]]);
  recovery.heard("http://b:1", { ...last, settled: true }); // every key handed over since
  assert.deepEqual([...recovery.leavers()], []);
});

Deno.test("Recovery takes the latest report of the newest ring, whichever node beats first", () => {
  // A leaving node that handed over and deregistered within the ring's epoch: listed leaving by
  // an answer a node took before, gone from a later one. Revived by the earlier, reads asked it.
  const gone = {
    ...ring(2, 6, ["http://a:1", "http://b:1"]),
    settled: false,
    version: 12,
    outside: {},
  };
  const before = { ...gone, version: 10, outside: { "http://x:1": "leaving" as const } };
  for (const order of [[before, gone], [gone, before]]) {
    const recovery = new Recovery(3000);
    recovery.heard("http://a:1", order[0]);
    recovery.heard("http://b:1", order[1]);
    assert.deepEqual([...recovery.leavers()], []);
    assert.equal(recovery.last?.version, 12);
  }
});

Deno.test("Recovery gives a leaving node the handover time its ring says it had left", () => {
  // A node leaving with a handover of 110 s (the Kubernetes manifest's) got the default 20 s: heard
  // after that, it was told to rejoin empty, and dropped keys only it held.
  const recovery = new Recovery(3000);
  recovery.heard("http://a:1", {
    ...ring(2, 6, ["http://a:1"]),
    settled: false,
    outside: { "http://x:1": "leaving" },
    handoverLeftMs: { "http://x:1": 104_000 },
  });
  assert.deepEqual([...recovery.leavers()], [["http://x:1", 104_000]]);
});
