import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import type { Fetch } from "@cache/http1/fetch";
import { Ring } from "@cache/ring/ring";
import type { RingView } from "@cache/protocol/wire";
import { MisdirectedError, Replicator } from "./replicator.ts";

const nodes = ["http://a:1", "http://b:1"];

/**
 * A cluster as node `self` sees it at `epoch`, at wall-clock time `clock.now`; a refresh brings the
 * next epoch; `source.leaseMs` is what is left of its lease.
 */
function setup(self: string, epoch: number, fetch: Fetch = () => Promise.reject(new Error("no"))) {
  const view = (e: number): RingView => ({
    term: 0,
    epoch: e,
    replicas: 2,
    nodes,
    joined: {},
    settled: true,
  });
  const source = {
    view: view(epoch),
    ring: new Ring(nodes),
    refreshes: 0,
    leaseMs: 1000,
    refresh() {
      source.refreshes++;
      source.view = view(source.view.epoch + 1);
      return Promise.resolve(true);
    },
    leaseLeftMs: () => source.leaseMs,
  };
  const clock = { now: 1_000_000 };
  const cluster = new Replicator({
    self,
    ring: source,
    fetch,
    timeoutMs: 100,
    now: () => clock.now,
  });
  return { source, clock, cluster };
}

const ring = new Ring(nodes);
const keyOf = (owner: string) => {
  for (let i = 0;; i++) if (ring.owner(`k${i}`) === owner) return `k${i}`;
};

Deno.test("Replicator.checkPrimary() refuses with 421 a write routed with an older ring", async () => {
  const { cluster } = setup("http://a:1", 10);
  const error = await cluster.checkPrimary([keyOf("http://a:1")], { epoch: 9 }).catch((e) => e);
  assert.ok(error instanceof MisdirectedError);
  assert.equal(error.status, 421);
  assert.equal(error.details.epoch, 10);
  // The same ring: taken, and the writes are stamped with it.
  assert.equal(await cluster.checkPrimary([keyOf("http://a:1")], { epoch: 10 }), 10);
});

Deno.test("Replicator.checkPrimary() refuses with 421 a key it is not the primary of", async () => {
  const { cluster } = setup("http://a:1", 10);
  const error = await cluster.checkPrimary([keyOf("http://b:1")], { epoch: 10 }).catch((e) => e);
  assert.ok(error instanceof MisdirectedError);
  assert.deepEqual(error.details, { epoch: 10, owner: "http://b:1" });
});

Deno.test("Replicator.checkPrimary() reads the ring first for a write routed with a newer one", async () => {
  const { source, cluster } = setup("http://a:1", 10);
  assert.equal(await cluster.checkPrimary([keyOf("http://a:1")], { epoch: 11 }), 11);
  assert.equal(source.refreshes, 1);
  assert.equal(source.view.epoch, 11);
});

Deno.test("Replicator.checkPrimary() asks again when a heartbeat already out brought the old ring", async () => {
  const { source, cluster } = setup("http://a:1", 10);
  const newer = source.refresh;
  let stale = true;
  source.refresh = () => {
    if (!stale) return newer();
    stale = false;
    source.refreshes++;
    return Promise.resolve(true); // answered with the ring this node holds
  };
  assert.equal(await cluster.checkPrimary([keyOf("http://a:1")], { epoch: 11 }), 11);
  assert.equal(source.refreshes, 2);
});

Deno.test("Replicator.checkPrimary() reads no ring for an epoch past any there can be yet", async () => {
  // Each request with `x-ring-epoch` far ahead made the node heartbeat at once: 20 clients drove
  // 5,460 heartbeats in 10 s from one node. Epochs start from a leader's clock, 1 a ring after.
  const { source, cluster } = setup("http://a:1", 10); // its clock at 1,000,000 ms
  const key = keyOf("http://a:1");
  assert.equal(await cluster.checkPrimary([key], { epoch: 1_060_001 }), 10);
  assert.equal(source.refreshes, 0);
  // Within a minute of the clock: a ring the masters may have, asked for three times.
  assert.equal(await cluster.checkPrimary([key], { epoch: 1_060_000 }), 13);
  assert.equal(source.refreshes, 3);
});

Deno.test("Replicator.checkPrimary() refuses with 503 once the lease from the master ran out", async () => {
  const { source, cluster } = setup("http://a:1", 10);
  source.leaseMs = 0; // no heartbeat answered by the leading master lately: maybe marked down
  const error = await cluster.checkPrimary([keyOf("http://a:1")], { epoch: 10 }).catch((e) => e);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 503);
  assert.match(error.message, /cannot confirm its ring is current/);
});

Deno.test("Replicator.checkPrimary() refuses with 504 a write whose sender already gave up", async () => {
  const { clock, cluster } = setup("http://a:1", 10);
  const key = keyOf("http://a:1");
  const late = await cluster.checkPrimary([key], { epoch: 10, deadline: clock.now - 5 })
    .catch((e) => e);
  assert.ok(late instanceof HttpError);
  assert.equal(late.status, 504);
  assert.match(late.message, /gave up on this write 5 ms ago: not applied/);
  assert.equal(await cluster.checkPrimary([key], { epoch: 10, deadline: clock.now + 5 }), 10);
});

Deno.test("Replicator.replicate() gives up on a slow backup in time to answer before the deadline", async () => {
  // The backup never answers: the primary must answer its sender before the sender gives up.
  const fetch: Fetch = (_input, init) =>
    new Promise((_, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  const { source } = setup("http://a:1", 10);
  // The peer timeout alone would be 2 s; the sender waits 300 ms, so the backup gets 240 (a fifth
  // of what is left is kept for the answer's way back): room enough on a busy machine.
  const cluster = new Replicator({ self: "http://a:1", ring: source, fetch, timeoutMs: 2000 });
  const started = performance.now();
  const error = await cluster.replicate(
    [{ key: keyOf("http://a:1"), version: 1, value: "v" }],
    Date.now() + 300,
  ).catch((e) => e);
  const waited = performance.now() - started;
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 504);
  assert.ok(waited < 300, `answered after ${Math.round(waited)} ms, before the 300 ms deadline`);
});

Deno.test("Replicator.replicate() says the write is on the primary when a backup fails", async () => {
  const sent: string[] = [];
  const fetch: Fetch = (input) => {
    sent.push(String(input));
    return Promise.reject(new TypeError("refused"));
  };
  const { cluster } = setup("http://a:1", 10, fetch);
  const key = keyOf("http://a:1");
  const error = await cluster.replicate([{ key, version: 1, value: "v" }]).catch((e) => e);
  assert.deepEqual(sent, ["http://b:1/replicate"]);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 502);
  assert.match(error.message, /^Stored on the primary, but 1 of 1 backups did not take it/);
  assert.deepEqual(error.details, { unreplicated: [key] });
});

/**
 * Node a of three at R=2, whose copies to b are refused and whose copies to c get `fromC`; 20 keys
 * a is the primary of, and those of them b backs up.
 */
function backedUpOnBAndC(fromC: () => Response) {
  const three = ["http://a:1", "http://b:1", "http://c:1"];
  const ringOf3 = new Ring(three);
  const source = {
    view: { term: 0, epoch: 1, replicas: 2, nodes: three, joined: {}, settled: true },
    ring: ringOf3,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const fetch: Fetch = (input) =>
    String(input).startsWith("http://b:1")
      ? Promise.reject(new TypeError("refused"))
      : Promise.resolve(fromC());
  const cluster = new Replicator({ self: "http://a:1", ring: source, fetch, timeoutMs: 100 });
  const keys = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ringOf3.owner(key) === "http://a:1").slice(0, 20);
  const onB = keys.filter((key) => ringOf3.owners(key, 2)[1] === "http://b:1");
  assert.ok(onB.length > 0 && onB.length < keys.length, "keys backed up on b and on c");
  const replicate = () =>
    cluster.replicate(keys.map((key) => ({ key, version: 1, value: "v" }))).catch((e) => e);
  return { keys, onB, replicate };
}

Deno.test("Replicator.replicate() names as unreplicated only the keys of the backup that failed", async () => {
  const { onB, replicate } = backedUpOnBAndC(() => Response.json({ applied: 1 }));
  const error = await replicate();
  assert.ok(error instanceof HttpError);
  assert.deepEqual(error.details, { unreplicated: onB });
});

/**
 * Node a of a, b and c at R=2 in ring 1, with b answering every `/replicate` with 503 as a node
 * that handed its keys over does (or, `gone`, refusing connections as one that exited since); a
 * refresh brings ring 2, `nodes` (b left, if not named).
 */
function bLeaves(nodes: string[], gone = false, refreshMs = 0) {
  const three = ["http://a:1", "http://b:1", "http://c:1"];
  const view = (epoch: number, nodes: string[]): RingView => ({
    term: 0,
    epoch,
    replicas: 2,
    nodes,
    joined: {},
    settled: true,
  });
  const source = {
    view: view(1, three),
    ring: new Ring(three),
    refreshes: 0,
    async refresh() {
      source.refreshes++;
      await new Promise((resolve) => setTimeout(resolve, refreshMs));
      source.view = view(2, nodes);
      source.ring = new Ring(nodes);
      return true;
    },
    leaseLeftMs: () => 1000,
  };
  const sent: { node: string; keys: string[] }[] = [];
  const fetch: Fetch = (input, init) => {
    const node = new URL(String(input)).origin;
    const { entries } = JSON.parse(String(init?.body)) as { entries: { key: string }[] };
    sent.push({ node, keys: entries.map((entry) => entry.key) });
    if (node === "http://b:1" && gone) {
      return Promise.reject(
        Object.assign(new Error("Connection refused"), { code: "ECONNREFUSED" }),
      );
    }
    if (node === "http://b:1") {
      const error = "Node http://b:1 has handed its keys over and is shutting down";
      return Promise.resolve(Response.json({ error }, { status: 503 }));
    }
    return Promise.resolve(Response.json({ applied: entries.length }));
  };
  const cluster = new Replicator({ self: "http://a:1", ring: source, fetch, timeoutMs: 100 });
  const ringOf3 = new Ring(three);
  const onB = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ringOf3.owners(key, 2).join() === "http://a:1,http://b:1").slice(0, 5);
  const replicate = () =>
    cluster.replicate(onB.map((key) => ({ key, version: 1, value: "v" }))).catch((e) => e);
  return { onB, sent, replicate, source };
}

Deno.test("Replicator.replicate() sends to the new backup the copies a backup that left refused", async () => {
  const { onB, sent, replicate } = bLeaves(["http://a:1", "http://c:1"]);
  assert.deepEqual(await replicate(), [], "every owner in the ring after b's leave has them");
  assert.deepEqual(sent, [{ node: "http://b:1", keys: onB }, { node: "http://c:1", keys: onB }]);
});

Deno.test("Replicator.replicate() sends to the new backup the copies a backup that left since missed", async () => {
  // b handed its keys over and exited before this node heard of the ring without it.
  const { onB, sent, replicate } = bLeaves(["http://a:1", "http://c:1"], true);
  assert.deepEqual(await replicate(), []);
  assert.deepEqual(sent, [{ node: "http://b:1", keys: onB }, { node: "http://c:1", keys: onB }]);
});

Deno.test("Replicator.replicate() waits for the ring read out when a backup that left fails again", async () => {
  // The second write's copies fail while the first one's read of the ring is out: one read, both
  // writes on the owners of the ring it brings.
  const { replicate, source } = bLeaves(["http://a:1", "http://c:1"], false, 50);
  assert.deepEqual(await Promise.all([replicate(), replicate()]), [[], []]);
  assert.equal(source.refreshes, 1);
});

Deno.test("Replicator.replicate() fails the copies a backup refused while the ring still names it", async () => {
  const { onB, sent, replicate } = bLeaves(["http://a:1", "http://b:1", "http://c:1"]);
  const error = await replicate();
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 502);
  assert.match(error.message, /handed its keys over/);
  assert.deepEqual(error.details, { unreplicated: onB });
  assert.deepEqual(sent, [{ node: "http://b:1", keys: onB }], "sent nowhere else");
});

Deno.test("Replicator.checkPrimary() takes no client's word for a newer ring", async () => {
  const { source, cluster } = setup("http://a:1", 10);
  const key = keyOf("http://a:1");
  assert.equal(await cluster.checkPrimary([key], { epoch: 1e12, untrusted: true }), 10);
  assert.equal(source.refreshes, 0, "no ask of the master for each made-up epoch");
  await cluster.checkPrimary([key], { epoch: 11 });
  assert.equal(source.refreshes, 1, "the master's or a node's word is taken");
});

Deno.test("Replicator.replicate() sends the copies of writes made while one is out in one /replicate", async () => {
  const bodies: string[][] = [];
  let release = () => {};
  const fetch: Fetch = async (_input, init) => {
    const { entries } = JSON.parse(String(init?.body)) as { entries: { key: string }[] };
    bodies.push(entries.map((entry) => entry.key));
    if (bodies.length === 1) await new Promise<void>((resolve) => release = resolve);
    return Response.json({ applied: entries.length });
  };
  const { cluster } = setup("http://a:1", 10, fetch);
  const keys = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ring.owner(key) === "http://a:1").slice(0, 4);
  const writes = keys.map((key) => cluster.replicate([{ key, version: 1, value: "v" }]));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(bodies, [[keys[0]]], "the first write's copy goes at once, alone");
  release();
  await Promise.all(writes);
  assert.deepEqual(bodies, [[keys[0]], keys.slice(1)], "the others went together, in order");
});

Deno.test("Replicator.replicate() sends a copy that waited with what is left of its TTL", async () => {
  const ttls: number[] = [];
  let release = () => {};
  const fetch: Fetch = async (_input, init) => {
    const { entries } = JSON.parse(String(init?.body)) as { entries: { ttlMs: number }[] };
    ttls.push(...entries.map((entry) => entry.ttlMs));
    if (ttls.length === 1) await new Promise<void>((resolve) => release = resolve);
    return Response.json({ applied: entries.length });
  };
  const { cluster, clock } = setup("http://a:1", 10, fetch);
  const [first, second] = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ring.owner(key) === "http://a:1");
  const writes = [first, second].map((key) =>
    cluster.replicate([{ key, version: 1, value: "v", ttlMs: 1000 }])
  );
  await new Promise((resolve) => setTimeout(resolve, 10));
  clock.now += 800; // the second copy waits 800 ms behind the first's call
  release();
  await Promise.all(writes);
  assert.deepEqual(ttls, [1000, 200]);
});

Deno.test("Replicator.replicate() fails the copies queued behind a backup that timed out, unsent", async () => {
  let calls = 0;
  const fetch: Fetch = (_input, init) => {
    calls++;
    return new Promise((_, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  };
  const { cluster } = setup("http://a:1", 10, fetch);
  const keys = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ring.owner(key) === "http://a:1").slice(0, 3);
  const errors = await Promise.all(
    keys.map((key) => cluster.replicate([{ key, version: 1, value: "v" }]).catch((e) => e)),
  );
  assert.equal(calls, 1, "one call waited out the timeout; the queued copies were not sent");
  for (const [i, error] of errors.entries()) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 504);
    assert.deepEqual(error.details, { unreplicated: [keys[i]] });
  }
});

Deno.test("Replicator.replicate() cuts no other copy's call short for one sender's deadline", async () => {
  // A write come with 12 ms left gave its backup call 2 ms; the timeout failed the copies of
  // the writes queued behind it, unsent, as if the backup hung (and the master answered 504).
  const bodies: string[][] = [];
  const fetch: Fetch = async (_input, init) => {
    const { entries } = JSON.parse(String(init?.body)) as { entries: { key: string }[] };
    bodies.push(entries.map((entry) => entry.key));
    await new Promise((resolve) => setTimeout(resolve, 20)); // a backup answers in 20 ms
    return Response.json({ applied: entries.length });
  };
  const { cluster, clock } = setup("http://a:1", 10, fetch);
  const [hasty, ...patient] = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ring.owner(key) === "http://a:1").slice(0, 4);
  const first = cluster.replicate([{ key: hasty, version: 1, value: "v" }], clock.now + 12);
  const others = patient.map((key, i) =>
    cluster.replicate([{ key, version: 1, value: "v" }], i === 0 ? clock.now + 12 : undefined)
  );
  assert.equal((await first.catch((e) => e)).status, 504, "its own sender's time ran out");
  await Promise.all(others);
  assert.deepEqual(
    bodies,
    [[hasty], patient],
    "the others went together, the call as long as theirs",
  );
});

Deno.test("Replicator.statesElsewhere() leaves out a node gone, and refuses (503) for one silent", async () => {
  const [a, b, c] = ["http://a:1", "http://b:1", "http://c:1"];
  let silent = true;
  const fetch: Fetch = (input) => {
    const url = String(input);
    if (url.startsWith(b)) {
      return Promise.resolve(Response.json({ key: "k", version: 7, value: "v" }));
    }
    if (url.startsWith(c)) {
      if (silent) return new Promise<Response>(() => {}); // there, but it does not answer
      return Promise.reject(new TypeError("connection refused")); // gone
    }
    return Promise.reject(new Error(`no call to ${url}`));
  };
  const source = {
    view: { term: 0, epoch: 2, replicas: 2, nodes: [a, b, c], joined: {}, settled: false },
    ring: new Ring([a, b, c]),
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const cluster = new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 });
  // c may hold the newest state: an increment must not start from b's.
  const error = await cluster.statesElsewhere("k", 2).then(() => undefined, (e) => e);
  assert.ok(error instanceof HttpError && error.status === 503, String(error));
  silent = false;
  assert.deepEqual(await cluster.statesElsewhere("k", 2), [{ key: "k", version: 7, value: "v" }]);
});

Deno.test("Replicator.statesElsewhere() leaves out a node that left the ring and is silent", async () => {
  const [a, b, gone] = ["http://a:1", "http://b:1", "http://c:1"];
  const fetch: Fetch = (input) =>
    String(input).startsWith(gone)
      ? new Promise<Response>(() => {}) // a dead host: calls time out
      : Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  const source = {
    view: { term: 0, epoch: 3, replicas: 2, nodes: [a, b], joined: {}, settled: false },
    ring: new Ring([a, b]),
    departed: [gone],
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const cluster = new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 });
  assert.deepEqual(await cluster.statesElsewhere("k", 3), []);
});

Deno.test("Replicator.statesElsewhere() waits for a node still leaving as for one of the ring", async () => {
  // At R=1, c, leaving, is busy handing its keys over and answers after 300 ms, past the brief
  // wait for a node that left: an increment by b's state alone would start from nothing.
  const [a, b, leaving] = ["http://a:1", "http://b:1", "http://c:1"];
  let silent = false;
  const fetch: Fetch = async (input) => {
    if (!String(input).startsWith(leaving)) {
      return Response.json({ error: "not found" }, { status: 404 });
    }
    if (silent) return await new Promise<Response>(() => {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    return Response.json({ key: "k", version: 7, value: "41" });
  };
  const source = {
    view: {
      term: 0,
      epoch: 3,
      replicas: 1,
      nodes: [a, b],
      joined: {},
      settled: false,
      outside: { [leaving]: "leaving" as const },
    },
    ring: new Ring([a, b]),
    departed: [leaving],
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const cluster = new Replicator({ self: a, ring: source, fetch, timeoutMs: 1000 });
  assert.deepEqual(await cluster.statesElsewhere("k", 3), [{ key: "k", version: 7, value: "41" }]);
  // There, and silent: it may hold the newest state; refused, applied nowhere.
  silent = true;
  const fast = new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 });
  const error = await fast.statesElsewhere("k", 3).then(() => undefined, (e) => e);
  assert.ok(error instanceof HttpError && error.status === 503, String(error));
});

Deno.test("Replicator.checkStillPrimary() refuses (504) a write whose sender gave up meanwhile", () => {
  // Asking a leaving node for a key's state may take the peer timeout, past the master's own.
  const { clock, cluster } = setup(nodes[0], 4);
  const key = keyOf(nodes[0]);
  cluster.checkStillPrimary([key], 4, clock.now + 1);
  assert.throws(
    () => cluster.checkStillPrimary([key], 4, clock.now - 1),
    (e: unknown) => e instanceof HttpError && e.status === 504 && /not applied/.test(e.message),
  );
});

Deno.test("Replicator.checkStillPrimary() refuses (421) once the ring was lost, not with none at all", () => {
  const { source, cluster } = setup(nodes[0], 4);
  const key = keyOf(nodes[0]);
  cluster.checkStillPrimary([key], 4);
  assert.throws(() => cluster.checkStillPrimary([key], 3), MisdirectedError, "a newer ring came");
  (source as { view?: unknown }).view = undefined; // told to rejoin empty
  assert.throws(() => cluster.checkStillPrimary([key], 4), MisdirectedError);
  cluster.checkStillPrimary([key], 0); // a write checked with no ring: none still
});

Deno.test("Replicator.replicate() that fails names as unreplicated the keys a backup holds newer too", async () => {
  // c holds a newer state of one key than its copy, which a restamp would have fixed.
  let newerOnC = "";
  const { keys, onB, replicate } = backedUpOnBAndC(() =>
    Response.json({ applied: 1, newer: [{ key: newerOnC, version: 9 }] })
  );
  newerOnC = keys.find((key) => !onB.includes(key))!;
  const error = await replicate();
  assert.ok(error instanceof HttpError);
  assert.deepEqual(
    [...(error.details?.unreplicated as string[])].sort(),
    [...onB, newerOnC].sort(),
  );
});

Deno.test("Replicator.replicate() names the ring it placed the copies by", async () => {
  const rings: (string | null)[] = [];
  const fetch: Fetch = (_input, init) => {
    rings.push(new Headers(init?.headers).get("x-sender-ring"));
    return Promise.resolve(Response.json({ applied: 1 }));
  };
  const { cluster } = setup("http://a:1", 10, fetch);
  await cluster.replicate([{ key: keyOf("http://a:1"), version: 1, value: "v" }]);
  assert.deepEqual(rings, ["0/10"]);
});

Deno.test("Replicator.replicate() names the ring that chose the backup, not a newer one", async () => {
  // A copy waits behind the call in flight; the ring changes meanwhile. Its /replicate still
  // names the older ring, so a backup on the newer one sends on what it does not own there.
  const rings: (string | null)[] = [];
  let release!: () => void;
  const first = new Promise<void>((resolve) => release = resolve);
  const fetch: Fetch = async (_input, init) => {
    rings.push(new Headers(init?.headers).get("x-sender-ring"));
    if (rings.length === 1) await first;
    return Response.json({ applied: 1 });
  };
  const { cluster, source } = setup("http://a:1", 10, fetch);
  const key = keyOf("http://a:1");
  const inFlight = cluster.replicate([{ key, version: 1, value: "v" }]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const waiting = cluster.replicate([{ key, version: 2, value: "w" }]);
  source.view = { ...source.view, epoch: 11 };
  release();
  await Promise.all([inFlight, waiting]);
  assert.deepEqual(rings, ["0/10", "0/10"]);
});

/**
 * Ring 5 of `term`, where node n joined nodes a (joined at ring 1) and b (at `bJoined`), as n knows
 * it while keys move, and a key n took from `tookFrom` (its owner in the ring of a and b), which
 * owns it no more.
 */
function joinedRing(term = 0, bJoined = 1, tookFrom: "a" | "b" = "a") {
  const [a, b, joiner] = ["http://a:1", "http://b:1", "http://n:1"];
  const view: RingView = {
    term,
    epoch: 5,
    replicas: 1,
    nodes: [a, b, joiner],
    joined: { [a]: 1, [b]: bJoined, [joiner]: 5 },
    settled: false,
  };
  const ring = new Ring(view.nodes);
  const before = new Ring([a, b]);
  const from = tookFrom === "a" ? a : b;
  let key = "k0";
  for (let i = 0; ring.owner(key) !== joiner || before.owner(key) !== from; i++) key = `k${i}`;
  return { a, b, joiner, view, ring, key };
}

Deno.test("Replicator takes a write of a key a node that stays lost to a join once that node follows the ring", async () => {
  // A direct client still routing by the ring before the join wrote the key to its old owner,
  // which had not heard of the join: acknowledged after this ring's write, then lost to it.
  const { a, joiner, view, ring, key } = joinedRing();
  const calls: string[] = [];
  let follows = 4;
  const fetch = (url: string | URL | Request, init?: RequestInit) => {
    calls.push(`${url} ${new Headers(init?.headers).get("x-ring-epoch")}`);
    const headers = { "x-ring-epoch": String(follows) };
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404, headers }));
  };
  const source = {
    view,
    ring,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 1000,
  };
  const replicator = new Replicator({ self: joiner, ring: source, fetch, timeoutMs: 100 });
  const write = () => replicator.checkOwners([key], 1, { epoch: 5 });
  const refused = await write().then(() => undefined, (e) => e);
  assert.ok(refused instanceof HttpError && refused.status === 503, String(refused));
  assert.deepEqual(calls, [`${a}/replica/${key} 5`], "its old owner is asked, in this ring");
  follows = 5; // it learnt the ring
  assert.deepEqual(await write(), { epoch: 5, primary: [true] });
  assert.equal(calls.length, 2);
  await write();
  assert.equal(calls.length, 2, "asked once per ring");
  // Settled, every node follows the ring: nothing is asked.
  source.view = { ...view, epoch: 6, settled: true };
  await replicator.checkOwners([key], 1, { epoch: 6 });
  assert.equal(calls.length, 2);
});

Deno.test("Replicator's ask of an old owner does without one gone, and a write past its deadline meanwhile is refused", async () => {
  const { joiner, view, ring, key } = joinedRing();
  const source = { view, ring, refresh: () => Promise.resolve(true), leaseLeftMs: () => 1000 };
  // Nothing listens at the old owner's address: it takes no write by any ring.
  const refused = () =>
    Promise.reject(Object.assign(new Error("Connection refused"), { code: "ECONNREFUSED" }));
  const gone = new Replicator({ self: joiner, ring: source, fetch: refused, timeoutMs: 100 });
  assert.deepEqual(await gone.checkOwners([key], 1, { epoch: 5 }), { epoch: 5, primary: [true] });
  // The sender gives up while the old owner is asked: not applied.
  const clock = { now: 1000 };
  const slow = () => {
    clock.now += 50;
    const headers = { "x-ring-epoch": "5" };
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404, headers }));
  };
  const late = new Replicator({
    self: joiner,
    ring: source,
    fetch: slow,
    timeoutMs: 100,
    now: () => clock.now,
  });
  const error = await late.checkOwners([key], 1, { epoch: 5, deadline: 1020 })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof HttpError && error.status === 504, String(error));
  // The lease out, or a newer ring come, while the old owner is asked: not applied either.
  for (const [change, status] of [["lease", 503], ["ring", 421]] as const) {
    let lease = 1000;
    const moving = { ...source, view, leaseLeftMs: () => lease };
    const asked = () => {
      if (change === "lease") lease = 0;
      else moving.view = { ...view, epoch: 6 };
      return slow();
    };
    const replicator = new Replicator({ self: joiner, ring: moving, fetch: asked, timeoutMs: 100 });
    const refused = await replicator.checkOwners([key], 1, { epoch: 5 })
      .then(() => undefined, (e) => e);
    assert.ok(refused instanceof HttpError && refused.status === status, `${change}: ${refused}`);
  }
});

Deno.test("Replicator asks a node that stays only for keys it owned in the ring last seen settled", async () => {
  // a joined first, b at ring 3, n at 5; ring 4 (a and b) was seen settled: a gave the key to b
  // then, and b handed it to n since. Only b may still take writes of it by an older ring.
  const { a, b, joiner, view, ring, key } = joinedRing(2, 3, "b");
  const asked = async (settledRing: { term: number; epoch: number }) => {
    const calls: string[] = [];
    const fetch = (url: string | URL | Request) => {
      calls.push(String(url).split("/replica/")[0]);
      const headers = { "x-ring-epoch": "5" };
      return Promise.resolve(Response.json({ error: "not found" }, { status: 404, headers }));
    };
    const source = {
      view,
      ring,
      settledRing,
      refresh: () => Promise.resolve(true),
      leaseLeftMs: () => 1000,
    };
    const replicator = new Replicator({ self: joiner, ring: source, fetch, timeoutMs: 100 });
    await replicator.checkOwners([key], 1, { epoch: 5 });
    return calls.sort();
  };
  assert.deepEqual(await asked({ term: 2, epoch: 4 }), [b]);
  // A settled ring of another term tells nothing of this one's joins: a, alone at ring 1, owned
  // the key then.
  assert.deepEqual(await asked({ term: 1, epoch: 4 }), [a, b]);
});

Deno.test("Replicator's refusal names why an old owner was not confirmed to follow the ring", async () => {
  const { joiner, view, ring, key } = joinedRing();
  const source = { view, ring, refresh: () => Promise.resolve(true), leaseLeftMs: () => 1000 };
  const answers: [() => Promise<Response>, RegExp][] = [
    [() => Promise.resolve(new Response(null, { headers: { "x-ring-epoch": "4" } })), /not learnt/],
    [
      () => Promise.resolve(Response.json({ error: "Bad token" }, { status: 401 })),
      /refused this node's token \(401\)/,
    ],
    [() => Promise.reject(new Error("reset")), /could not be asked \(.*reset\)/],
    [
      () => Promise.resolve(Response.json({ error: "Starting" }, { status: 503 })),
      /and answered 503/,
    ],
  ];
  for (const [answer, why] of answers) {
    const replicator = new Replicator({
      self: joiner,
      ring: source,
      fetch: answer,
      timeoutMs: 100,
    });
    const refused = await replicator.checkOwners([key], 1, { epoch: 5 }).then(() => null, (e) => e);
    assert.ok(refused instanceof HttpError && refused.status === 503, String(refused));
    assert.match(refused.message, /held these keys before ring 5 and/);
    assert.match(refused.message, why);
  }
});
