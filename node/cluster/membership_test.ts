import assert from "node:assert/strict";
import type { Fetch } from "@cache/http1/fetch";
import { createLogger, silentLogger as log } from "@cache/log/log";
import { inProcessCluster } from "../../tests/support/in_process.ts";
import { Membership, type MembershipOptions } from "./membership.ts";

function member(fetch: Fetch, options: Partial<MembershipOptions> = {}) {
  return new Membership({
    masters: () => Promise.resolve(["http://master"]),
    advertise: "http://node-9:8081",
    heartbeatMs: 20,
    fetch,
    log,
    ...options,
  });
}

Deno.test("Membership.beat() registers, follows the ring and heartbeats", async () => {
  const cluster = inProcessCluster(2);
  const membership = member(cluster.fetch);
  assert.equal(membership.registered, false);
  assert.equal(await membership.beat(), true);
  assert.equal(membership.registered, true);
  assert.deepEqual(membership.ring.nodes, cluster.registry.ring.nodes);
  assert.equal(membership.ring.size, 3);
  assert.equal(await membership.beat(), true);
  assert.equal(cluster.registry.epoch, 3, "a heartbeat does not change the epoch");
});

Deno.test("Membership registers again with a master that forgot it", async () => {
  let cluster = inProcessCluster(0);
  const membership = member((input, init) => cluster.fetch(input, init));
  await membership.beat();
  cluster = inProcessCluster(0); // the master restarted with an empty registry
  assert.equal(await membership.beat(), true);
  assert.deepEqual(cluster.registry.ring.nodes, ["http://node-9:8081"]);
});

Deno.test("Membership is not registered while the master cannot be reached", async () => {
  let reachable = true;
  const cluster = inProcessCluster(0);
  const membership = member((input, init) =>
    reachable ? cluster.fetch(input, init) : Promise.reject(new TypeError("Connection refused"))
  );
  await membership.beat();
  reachable = false;
  assert.equal(await membership.beat(), false);
  assert.equal(membership.registered, false);
  reachable = true;
  assert.equal(await membership.beat(), true);
});

Deno.test("Membership.start() keeps beating with backoff until stop()", async () => {
  let calls = 0;
  const times: number[] = [];
  const cluster = inProcessCluster(0);
  const membership = member((input, init) => {
    calls++;
    times.push(performance.now());
    // The first three attempts find the master down, as when nodes start first.
    return calls <= 3 ? Promise.reject(new TypeError("refused")) : cluster.fetch(input, init);
  });
  membership.start();
  const deadline = Date.now() + 3000;
  while (!membership.registered && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await membership.stop();
  assert.equal(membership.registered, true);
  // Retries wait 100, 200, 400 ms (each with jitter down to half), not the 20 ms heartbeat.
  const gaps = times.slice(1, 4).map((at, i) => at - times[i]);
  assert.ok(gaps[0] >= 45 && gaps[1] >= 95 && gaps[2] >= 195, `gaps ${gaps.map(Math.round)}`);
  const after = calls;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, after, "no heartbeat after stop()");
});

Deno.test("Membership.deregister() removes the node from the master", async () => {
  const cluster = inProcessCluster(1);
  const membership = member(cluster.fetch);
  await membership.beat();
  assert.equal(await membership.deregister(), true);
  assert.deepEqual(cluster.registry.ring.nodes, ["http://node-0:8081"]);
  assert.equal(membership.registered, false);
  assert.equal(await membership.deregister(), false, "already gone");
});

Deno.test("Membership rejoins empty when the master marked it down", async () => {
  const cluster = inProcessCluster(1);
  let cleared = 0;
  const membership = new Membership({
    masters: () => Promise.resolve(["http://master"]),
    advertise: "http://node-9:8081",
    heartbeatMs: 20,
    fetch: cluster.fetch,
    log,
    onRejoin: () => cleared++,
  });
  await membership.beat();
  cluster.clock.now += 5000;
  // The other node beats on: not every one is late.
  cluster.registry.heartbeat("http://node-0:8081");
  cluster.registry.reached("http://node-0:8081");
  cluster.registry.sweep(); // this node silent: marked down
  assert.equal(cluster.registry.status("http://node-9:8081"), "down");
  assert.equal(await membership.beat(), true);
  assert.equal(cleared, 1, "dropped its keys");
  const me = cluster.registry.list().nodes.find((n) => n.address === "http://node-9:8081");
  assert.equal(me?.status, "up");
  assert.equal(cluster.registry.view().joined["http://node-9:8081"], cluster.registry.epoch);
});

Deno.test("Membership beats every master, and logs a silent one once, not every beat", async () => {
  const cluster = inProcessCluster(0);
  const lines: string[] = [];
  const membership = new Membership({
    masters: () => Promise.resolve(["http://master", "http://gone"]),
    advertise: "http://node-9:8081",
    heartbeatMs: 20,
    fetch: cluster.fetch, // knows no app at http://gone: connection refused
    log: createLogger("node", { write: (line) => lines.push(JSON.parse(line).msg) }),
  });
  for (let i = 0; i < 3; i++) assert.equal(await membership.beat(), true);
  assert.equal(lines.filter((msg) => msg === "master unreachable").length, 1);
  assert.deepEqual(cluster.registry.ring.nodes, ["http://node-9:8081"]);
});

Deno.test("Membership.refresh() calls made together share one heartbeat per master", async () => {
  const cluster = inProcessCluster(1);
  let beats = 0;
  const membership = member((input, init) => {
    if (String(input).endsWith("/register")) beats++;
    return cluster.fetch(input, init);
  });
  const answers = await Promise.all(Array.from({ length: 10 }, () => membership.refresh()));
  assert.deepEqual(answers, Array(10).fill(true));
  assert.equal(beats, 1);
  assert.equal(membership.view?.epoch, cluster.registry.epoch);
  // A heartbeat, not a read of /ring: the ring comes with the leader's lease.
  assert.ok(membership.leaseLeftMs() > 0);
});

Deno.test("Membership holds a lease from the leader's answers, counted from when the beat left", async () => {
  let clock = 0;
  let leader = true;
  const view = {
    term: 0,
    epoch: 5,
    replicas: 1,
    nodes: ["http://node-9:8081"],
    joined: {},
  };
  const fetch: Fetch = () => {
    clock += 30; // the answer takes 30 ms
    const headers: Record<string, string> = leader ? { "x-lease-ms": "1000" } : {};
    return Promise.resolve(Response.json(view, { status: 200, headers }));
  };
  const membership = member(fetch, { now: () => clock });
  assert.equal(membership.leaseLeftMs(), 0, "no ring yet: it may own nothing");
  const alone = member(fetch, { now: () => clock, standalone: true });
  assert.equal(alone.leaseLeftMs(), Infinity, "a node on its own");
  await membership.beat();
  assert.equal(membership.leaseLeftMs(), 970, "from the send, not the answer");
  leader = false; // a follower's answer shows nothing about the leader's view of this node
  clock = 900;
  await membership.beat();
  assert.equal(membership.leaseLeftMs(), 70);
  clock = 1000;
  assert.equal(membership.leaseLeftMs(), 0);
  leader = true;
  await membership.beat();
  assert.equal(membership.leaseLeftMs(), 1000 - 30);
});

for (const lease of [undefined, "200"]) {
  const when = lease ? "within half a lease shorter than its heartbeat" : "each heartbeat";
  Deno.test(`Membership beats again ${when}`, async () => {
    // With a lease shorter than the heartbeat (--failure-timeout-ms 1000 gives 800 ms, against
    // 1000 ms beats), a node went without one a fifth of every second, answering 503.
    const view = { term: 0, epoch: 5, replicas: 1, nodes: ["http://node-9:8081"], joined: {} };
    let beats = 0;
    const fetch: Fetch = () => {
      beats++;
      const headers: Record<string, string> = lease ? { "x-lease-ms": lease } : {};
      return Promise.resolve(Response.json(view, { status: 200, headers }));
    };
    const membership = member(fetch, { heartbeatMs: 1000 });
    membership.start();
    await new Promise((resolve) => setTimeout(resolve, 450));
    await membership.stop();
    if (lease) assert.ok(beats >= 3, `${beats} beats`);
    else assert.equal(beats, 1);
  });
}

Deno.test("Membership says it is empty once it dropped its keys to rejoin, until taken back", async () => {
  const bodies: { empty?: boolean }[] = [];
  let marked = true;
  const view = { term: 0, epoch: 5, replicas: 1, nodes: [], joined: {} };
  const fetch: Fetch = (_input, init) => {
    const body = JSON.parse(String(init?.body));
    bodies.push(body);
    if (marked && !body.empty) {
      return Promise.resolve(Response.json({ error: "marked down", term: 0 }, { status: 409 }));
    }
    marked = false;
    return Promise.resolve(Response.json(view, { status: 201 }));
  };
  let cleared = 0;
  const membership = member(fetch, { onRejoin: () => cleared++ });
  assert.equal(await membership.beat(), true);
  await membership.beat();
  assert.equal(cleared, 1);
  assert.deepEqual(bodies.map((b) => b.empty ?? false), [false, true, false]);
});

Deno.test("Membership names the nodes that left the ring until its keys have settled", async () => {
  let ring = { term: 1, epoch: 5, replicas: 1, nodes: ["http://a", "http://b"], joined: {} };
  let settled = true;
  const membership = member(() => Promise.resolve(Response.json({ ...ring, settled })));
  await membership.beat();
  assert.deepEqual(membership.departed, []);
  ring = { ...ring, epoch: 6, nodes: ["http://b", "http://c"] };
  settled = false;
  await membership.beat();
  assert.deepEqual(membership.departed, ["http://a"]);
  assert.equal(membership.view?.settled, false);
  settled = true; // the same ring, its keys moved
  await membership.beat();
  assert.equal(membership.view?.settled, true);
  assert.deepEqual(membership.departed, []);
});

Deno.test("Membership names a node leaving the ring it first follows, still handing keys over", async () => {
  // A node that joined while another was leaving never saw a ring with it, so it named no one: its
  // increments and conditions started from "missing" where the leaver held the key (acknowledged
  // increments lost, `if: present` refused for stored keys).
  const ring = {
    term: 1,
    epoch: 6,
    replicas: 1,
    nodes: ["http://b", "http://node-9:8081"],
    joined: {},
    settled: false,
    outside: { "http://a": "leaving", "http://d": "down" },
  };
  const membership = member(() => Promise.resolve(Response.json(ring)));
  await membership.beat();
  assert.deepEqual(membership.departed, ["http://a"]);
});

Deno.test("Membership reports the last ring it moved keys for by term and epoch", async () => {
  const bodies: { synced?: number; syncedTerm?: number }[] = [];
  const view = { term: 3, epoch: 7, replicas: 1, nodes: [], joined: {} };
  const fetch: Fetch = (_input, init) => {
    bodies.push(JSON.parse(String(init?.body)));
    return Promise.resolve(Response.json(view, { status: 201 }));
  };
  const membership = member(fetch, { synced: () => ({ term: 2, epoch: 9 }) });
  await membership.beat();
  assert.deepEqual([bodies[0].synced, bodies[0].syncedTerm], [9, 2]);
});

Deno.test("Membership.beatUntilTaken() asks again while the master cannot take it yet", async () => {
  const cluster = inProcessCluster(0);
  let busy = 2; // a master learning the last ring answers 503 until it knows it
  let down = false;
  const membership = member((input, init) => {
    if (down) return Promise.reject(new TypeError("Connection refused"));
    if (busy-- > 0) return Promise.resolve(Response.json({ error: "recovering" }, { status: 503 }));
    return cluster.fetch(input, init);
  });
  membership.leave();
  assert.equal(await membership.beatUntilTaken(5_000), true);
  assert.equal(busy, -1, "taken at the third beat");
  assert.deepEqual(cluster.registry.ring.nodes, [], "leaving: kept out of the ring");

  busy = 1_000;
  const started = performance.now();
  assert.equal(await membership.beatUntilTaken(300), false, "not past its time");
  assert.ok(performance.now() - started < 2_000);
  down = true;
  busy = 0;
  // A master restarting refuses calls for a moment: a node that stopped asking then exited
  // without handing anything over. It asks until its time is out.
  const refusedFrom = performance.now();
  assert.equal(await membership.beatUntilTaken(300), false, "refused until its time is out");
  assert.ok(performance.now() - refusedFrom >= 290, "and asked meanwhile");
  down = false;
  assert.equal(await membership.beatUntilTaken(5_000), true, "taken once back");
});

Deno.test("Membership.beat() while leaving says how long it still hands over", async () => {
  // Marked down meanwhile, the masters still ask it for its keys until then.
  const bodies: Record<string, unknown>[] = [];
  const cluster = inProcessCluster(0);
  const membership = member((input, init) => {
    bodies.push(JSON.parse(String(init?.body)));
    return cluster.fetch(input, init);
  });
  await membership.beat();
  let left = 12_345.6;
  membership.leave(() => left);
  await membership.beat();
  left = -5; // past its time
  await membership.beat();
  assert.deepEqual(bodies.map((body) => body.handoverLeftMs), [undefined, 12_346, 0]);
});

Deno.test("Membership.beatUntilTaken() stops at once when every master refuses it, not on a 5xx", async () => {
  let status = 401;
  const membership = member(() => Promise.resolve(Response.json({ error: "no" }, { status })));
  membership.leave();
  const started = performance.now();
  assert.equal(await membership.beatUntilTaken(5_000), false);
  assert.ok(performance.now() - started < 1_000, "no wait for an answer that will not change");
  status = 502; // a proxy's, or a master's own trouble: it may pass
  const troubled = performance.now();
  assert.equal(await membership.beatUntilTaken(300), false);
  assert.ok(performance.now() - troubled >= 290, "asked until its time was out");
  // A load balancer's page, not JSON: the same.
  const html = member(() => Promise.resolve(new Response("<html>502</html>", { status: 502 })));
  html.leave();
  const paged = performance.now();
  assert.equal(await html.beatUntilTaken(300), false);
  assert.ok(performance.now() - paged >= 290, "a page is trouble too");
});

Deno.test("Membership.beatUntilTaken() asks again while no master answers in time", async () => {
  // A leader that hangs: a follower passes the leave on and waits, and the node's beat times out
  // first. Taken for an unreachable master, that lost every key of a node leaving at R=1.
  const cluster = inProcessCluster(0);
  let hung = 2;
  const membership = member((input, init) => {
    if (hung-- <= 0) return cluster.fetch(input, init);
    const signal = init?.signal;
    return new Promise((_, reject) =>
      signal?.addEventListener("abort", () => reject(signal.reason))
    );
  });
  membership.leave();
  assert.equal(await membership.beatUntilTaken(5_000), true);
  assert.equal(hung, -1, "taken at the third beat");
});

Deno.test("Membership takes the flush a ring names before the ring, and reports its own back", async () => {
  let cluster = inProcessCluster(1);
  cluster.registry.noteFlush(5_000);
  const learned: string[] = [];
  let own = 0;
  const membership = member((input, init) => cluster.fetch(input, init), {
    onFlushed: (version) => learned.push(`flushed ${version}`),
    onRing: (view) => learned.push(`ring ${view.epoch}`),
    flushed: () => own,
  });
  await membership.beat();
  assert.deepEqual(learned, ["flushed 5000", `ring ${cluster.registry.epoch}`]);
  own = 7_000; // a later flush's second round reached this node
  cluster = inProcessCluster(0); // the master restarted: it learns the flush from the node
  await membership.beat();
  assert.equal(cluster.registry.view().flushed, 7_000);
});

Deno.test("Membership logs a master unreachable again when the reason changes", async () => {
  const lines: string[] = [];
  let reason = "Connection refused";
  const membership = member(() => Promise.reject(new TypeError(reason)), {
    log: createLogger("node", {
      write: (line) => {
        const { msg, error } = JSON.parse(line);
        if (msg === "master unreachable") lines.push(error);
      },
    }),
  });
  await membership.beat();
  await membership.beat();
  reason = "invalid peer certificate: UnknownIssuer"; // the master came up, with a bad certificate
  await membership.beat();
  await membership.beat();
  assert.deepEqual(lines, [
    "TypeError: Connection refused",
    "TypeError: invalid peer certificate: UnknownIssuer",
  ]);
});

Deno.test("Membership reports its ring without the rings keys move from a follower relayed", async () => {
  // A follower relays the leader's answer to a forwarded registration, which names them: sent
  // back in every heartbeat, they grew each beat by up to eight node lists.
  const sent: { ring?: Record<string, unknown> }[] = [];
  const ring = {
    term: 1,
    epoch: 5,
    replicas: 1,
    nodes: ["http://node-9:8081"],
    joined: { "http://node-9:8081": 5 },
    settled: false,
    movingFrom: [["http://node-1:8081"]],
  };
  const membership = member((_input, init) => {
    sent.push(JSON.parse(String(init?.body)));
    return Promise.resolve(Response.json(ring, { status: 201 }));
  });
  await membership.beat();
  await membership.beat();
  assert.equal(sent[1].ring?.epoch, 5);
  assert.equal(sent[1].ring?.movingFrom, undefined);
});
