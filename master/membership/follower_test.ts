// Tests of the Follower: how a follower master long-polls the leader's ring and forwards changes.

import assert from "node:assert/strict";
import type { Fetch } from "@cache/http1/fetch";
import { createLogger, silentLogger } from "@cache/log/log";
import { HttpError } from "@cache/protocol/errors";
import type { RingView } from "@cache/protocol/wire";
import { Follower } from "./follower.ts";
import { Registry } from "./registry.ts";

const LEADER = "http://leader:1";
const OTHER = "http://other:1";

/** A ring the leader publishes. */
function ring(epoch: number, nodes = ["http://a:1", "http://b:1"], term = 2): RingView {
  return {
    term,
    epoch,
    replicas: 1,
    nodes,
    joined: Object.fromEntries(nodes.map((node) => [node, epoch])),
    settled: true,
  };
}

/** Lets every pending promise chain run: the fakes below answer without timers. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * A follower master of a registry that does not lead, with a fake leader whose every call waits
 * for the test to answer it (an aborted call rejects, as fetch does), waits that last until the
 * test wakes them (or their signal aborts), a clock the test sets, and its log lines.
 */
function setup() {
  const state = { leader: LEADER as string | undefined, leads: false, now: 1000 };
  const calls: {
    url: URL;
    init: RequestInit | undefined;
    answer: (response: Response) => void;
    fail: (error: Error) => void;
  }[] = [];
  const fetch: Fetch = (input, init) =>
    new Promise((resolve, reject) => {
      calls.push({ url: new URL(String(input)), init, answer: resolve, fail: reject });
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason), { once: true });
    });
  const waits: { ms: number; wake: () => void }[] = [];
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((wake) => {
      if (signal.aborted) return wake();
      waits.push({ ms, wake });
      signal.addEventListener("abort", () => wake(), { once: true });
    });
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("master", { write: (line) => lines.push(JSON.parse(line)) });
  const registry = new Registry({
    failureTimeoutMs: 1000,
    now: () => 0,
    log: silentLogger,
    leading: () => state.leads,
  });
  const follower = new Follower({
    registry,
    leaderUrl: () => state.leader,
    fetch,
    log,
    sleep,
    now: () => state.now,
  });
  return { state, calls, waits, lines, registry, follower };
}

/** The registry's ring as a follower reports it. */
const held = (registry: Registry) => ({
  term: registry.term,
  epoch: registry.epoch,
  nodes: [...registry.ring.nodes],
});

Deno.test("Follower long-polls the leader with the ring it has and adopts the answer", async () => {
  const { calls, registry, follower } = setup();
  follower.start();
  await settle();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url.origin + calls[0].url.pathname, `${LEADER}/ring`);
  assert.deepEqual(Object.fromEntries(calls[0].url.searchParams), {
    term: "0",
    epoch: "0",
    settled: "true",
    waitMs: "20000",
    movingFrom: "true",
  });
  calls[0].answer(Response.json(ring(7)));
  await settle();
  assert.deepEqual(held(registry), { term: 2, epoch: 7, nodes: ["http://a:1", "http://b:1"] });
  assert.equal(calls.length, 2, "the next poll goes out at once");
  assert.equal(calls[1].url.searchParams.get("term"), "2");
  assert.equal(calls[1].url.searchParams.get("epoch"), "7");
  assert.equal(calls[1].url.searchParams.get("version"), null, "the leader named none");
  calls[1].answer(Response.json({ ...ring(8), version: 41 }));
  await settle();
  assert.equal(calls[2].url.searchParams.get("version"), "41", "the leader's, to wait on");
  await follower.stop();
});

Deno.test("Follower keeps its ring while the leader is unreachable, says so once, and tries again after a wait", async () => {
  const { calls, waits, lines, registry, follower } = setup();
  follower.start();
  await settle();
  calls[0].answer(Response.json(ring(7)));
  await settle();
  const before = held(registry);
  calls[1].fail(new TypeError("Connection refused"));
  await settle();
  assert.deepEqual(held(registry), before);
  assert.deepEqual(waits.map((wait) => wait.ms), [250]);
  assert.equal(calls.length, 2, "no poll before the wait ends");
  waits[0].wake();
  await settle();
  assert.equal(calls.length, 3);
  calls[2].fail(new TypeError("Connection refused"));
  await settle();
  const warnings = lines.filter((line) => line.level === "warn");
  assert.equal(warnings.length, 1, "one line for the whole outage");
  assert.equal(warnings[0].msg, "cannot follow the leader");
  assert.equal(warnings[0].leader, LEADER);
  assert.match(String(warnings[0].error), /Connection refused/);
  waits[1].wake();
  await settle();
  calls[3].answer(Response.json(ring(8)));
  await settle();
  assert.equal(registry.epoch, 8);
  assert.ok(lines.some((line) => line.msg === "leader reachable again"));
  calls[4].fail(new TypeError("Connection reset"));
  await settle();
  assert.equal(lines.filter((line) => line.level === "warn").length, 2, "a new outage, a new line");
  await follower.stop();
});

const garbage: [string, () => Response][] = [
  ["a body that is not JSON", () => new Response("<html>oops</html>", { status: 200 })],
  ["JSON that is not a ring", () => Response.json({ epoch: "nine", nodes: 3 })],
  ["a ring with a negative epoch", () => Response.json({ ...ring(9), epoch: -1 })],
  ["an error status, even with a ring", () => Response.json(ring(9), { status: 500 })],
];
for (const [what, answer] of garbage) {
  Deno.test(`Follower keeps its ring when the leader answers ${what}`, async () => {
    const { calls, waits, lines, registry, follower } = setup();
    follower.start();
    await settle();
    calls[0].answer(Response.json(ring(7)));
    await settle();
    const before = held(registry);
    calls[1].answer(answer());
    await settle();
    assert.deepEqual(held(registry), before);
    assert.equal(lines.filter((line) => line.level === "warn").length, 1);
    assert.deepEqual(waits.map((wait) => wait.ms), [250], "it waits, then polls again");
    waits[0].wake();
    await settle();
    assert.equal(calls.length, 3);
    await follower.stop();
  });
}

Deno.test("Follower polls no one while no other master leads, and starts once one does", async () => {
  const { state, calls, waits, follower } = setup();
  state.leader = undefined;
  follower.start();
  await settle();
  assert.equal(calls.length, 0);
  assert.deepEqual(waits.map((wait) => wait.ms), [250]);
  waits[0].wake();
  await settle();
  assert.equal(calls.length, 0, "still no leader");
  state.leader = LEADER;
  waits[1].wake();
  await settle();
  assert.equal(calls.length, 1);
  await follower.stop();
});

Deno.test("Follower does not poll while its own master leads", async () => {
  const { state, calls, waits, follower } = setup();
  state.leads = true;
  follower.start();
  await settle();
  assert.equal(calls.length, 0);
  assert.equal(waits.length, 1);
  await follower.stop();
});

Deno.test("Follower.refresh() drops the poll in flight and asks the leader again at once", async () => {
  const { state, calls, waits, lines, follower } = setup();
  follower.start();
  await settle();
  state.leader = OTHER; // the leader changed
  follower.refresh();
  assert.equal(calls[0].init?.signal?.aborted, true);
  await settle();
  assert.equal(calls.length, 2);
  assert.equal(calls[1].url.origin, OTHER, "the new leader is asked");
  assert.equal(waits.length, 0, "no wait after a refresh");
  assert.equal(lines.length, 0, "a refresh is no failure");
  await follower.stop();
});

Deno.test("Follower.refresh() drops a poll at most every 50 ms", async () => {
  const { state, calls, follower } = setup();
  follower.start();
  await settle();
  follower.refresh();
  await settle();
  assert.equal(calls.length, 2);
  state.now += 49;
  follower.refresh();
  await settle();
  assert.equal(calls[1].init?.signal?.aborted, false);
  assert.equal(calls.length, 2);
  state.now += 1;
  follower.refresh();
  await settle();
  assert.equal(calls[1].init?.signal?.aborted, true);
  assert.equal(calls.length, 3);
  // A new leader is asked at once, however soon after the last refresh.
  state.now += 10;
  state.leader = OTHER;
  follower.refresh();
  await settle();
  assert.equal(calls.length, 4);
  assert.equal(calls[3].url.origin, OTHER);
  await follower.stop();
});

Deno.test("Follower.refresh() cuts a wait after a failure short", async () => {
  const { calls, waits, follower } = setup();
  follower.start();
  await settle();
  calls[0].fail(new TypeError("Connection refused"));
  await settle();
  assert.equal(waits.length, 1);
  follower.refresh();
  await settle();
  assert.equal(calls.length, 2);
  await follower.stop();
});

Deno.test("Follower.stop() ends the poll in flight and polls no more", async () => {
  const { calls, follower } = setup();
  follower.start();
  await settle();
  const stopped = follower.stop();
  assert.equal(calls[0].init?.signal?.aborted, true);
  await stopped;
  await settle();
  assert.equal(calls.length, 1);
});

Deno.test("Follower.stop() ends a wait at once", async () => {
  const { state, calls, waits, follower } = setup();
  state.leader = undefined;
  follower.start();
  await settle();
  assert.equal(waits.length, 1);
  await follower.stop(); // would hang if the wait went on
  state.leader = LEADER;
  await settle();
  assert.equal(calls.length, 0);
});

Deno.test("Follower.start() twice runs one poll loop", async () => {
  const { calls, follower } = setup();
  follower.start();
  follower.start();
  await settle();
  assert.equal(calls.length, 1);
  await follower.stop();
});

Deno.test("Follower.forward() refuses with 503 while no other master leads", async () => {
  const { state, calls, follower } = setup();
  state.leader = undefined;
  const error = await follower.forward("/register", { method: "POST" }).catch((e) => e);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 503);
  assert.match(error.message, /No leader is elected/);
  assert.equal(calls.length, 0);
});

Deno.test("Follower.forward() sends the change to the leader and adopts the ring it answers", async () => {
  const { calls, registry, follower } = setup();
  const body = JSON.stringify({ address: "http://c:1" });
  const forwarded = follower.forward("/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await settle();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url.href, `${LEADER}/register`);
  assert.equal(calls[0].init?.method, "POST");
  assert.equal(calls[0].init?.body, body);
  const answer = ring(9, ["http://a:1", "http://c:1"]);
  calls[0].answer(Response.json(answer, { status: 201 }));
  const response = await forwarded;
  assert.equal(response.status, 201);
  assert.deepEqual(await response.json(), answer);
  assert.deepEqual(held(registry), { term: 2, epoch: 9, nodes: ["http://a:1", "http://c:1"] });
});

Deno.test("Follower.forward() passes on an error answer, adopting nothing", async () => {
  const { calls, registry, follower } = setup();
  const forwarded = follower.forward("/nodes/http%3A%2F%2Fa%3A1", { method: "DELETE" });
  await settle();
  calls[0].answer(Response.json({ error: "Node http://a:1 is not registered" }, { status: 404 }));
  const response = await forwarded;
  assert.equal(response.status, 404);
  assert.deepEqual(await response.json(), { error: "Node http://a:1 is not registered" });
  assert.equal(registry.epoch, 0);
});

Deno.test("Follower.forward() passes on a 200 that is not a ring, adopting nothing", async () => {
  const { calls, registry, follower } = setup();
  const forwarded = follower.forward("/register", { method: "POST", body: "{}" });
  await settle();
  calls[0].answer(
    new Response("not json", { status: 200, headers: { "content-type": "text/plain" } }),
  );
  const response = await forwarded;
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "not json");
  assert.equal(registry.epoch, 0);
});

Deno.test("Follower.forward() answers 503 naming the leader it cannot reach", async () => {
  const { calls, registry, follower } = setup();
  const forwarded = follower.forward("/register", { method: "POST", body: "{}" });
  await settle();
  calls[0].fail(new TypeError("Connection refused"));
  const error = await forwarded.catch((e) => e);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 503);
  assert.match(
    error.message,
    /The leader http:\/\/leader:1 cannot be reached: .*Connection refused/,
  );
  assert.equal(registry.epoch, 0);
});

Deno.test("Follower waits before asking again when the leader's answer brings nothing new", async () => {
  const { calls, waits, registry, follower } = setup();
  follower.start();
  await settle();
  calls[0].answer(Response.json(ring(7)));
  await settle();
  assert.equal(calls.length, 2, "a new ring: the next poll goes out at once");
  // A leader shutting down answers every poll at once with the ring the follower has.
  calls[1].answer(Response.json(ring(7)));
  await settle();
  assert.equal(calls.length, 2, "the same ring: no poll before the wait ends");
  assert.equal(waits.length, 1);
  waits[0].wake();
  await settle();
  assert.equal(calls.length, 3);
  calls[2].answer(Response.json(ring(6, undefined, 1))); // an older term: nothing new either
  await settle();
  assert.equal(calls.length, 3);
  assert.equal(waits.length, 2);
  assert.equal(registry.epoch, 7);
  await follower.stop();
});
