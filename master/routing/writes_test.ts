// Writes through the router: to the primary, with the ring epoch and deadline, gathered into /mset.

import assert from "node:assert/strict";
import type { Fetch } from "@cache/http1/fetch";
import { Router } from "./router.ts";
import { heldNode, oneNode, placement, ring } from "./test_support.ts";

Deno.test("Router.set() and delete() send a write to the key's owner with the ring epoch", async () => {
  const calls: string[] = [];
  const fetch: Fetch = (input, init) => {
    calls.push(`${init?.method} ${input} epoch ${new Headers(init?.headers).get("x-ring-epoch")}`);
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 100 });
  assert.equal((await router.set("k", "{}")).status, 204);
  assert.equal((await router.delete("user:1")).status, 204);
  assert.deepEqual(calls, [
    `POST ${ring.owner("k")}/keys epoch 7`,
    `DELETE ${ring.owner("user:1")}/keys/user:1 epoch 7`,
  ]);
});

Deno.test("Router.set() resends a write refused with 421 once it caught up with the ring", async () => {
  const epochs: string[] = [];
  const state = { ...placement(ring) };
  const fetch: Fetch = (_input, init) => {
    epochs.push(new Headers(init?.headers).get("x-ring-epoch")!);
    return Promise.resolve(
      epochs.length === 1
        ? Response.json({ error: "Routed with an older ring", epoch: 8 }, { status: 421 })
        : new Response(null, { status: 204 }),
    );
  };
  let caughtUp = 0;
  const catchUp = () => {
    caughtUp++;
    state.epoch = 8; // the follower took the leader's newer ring
    return Promise.resolve();
  };
  const router = new Router({ placement: state, fetch, timeoutMs: 100, catchUp });
  const answer = await router.set("k", "{}");
  assert.equal(answer.status, 204);
  assert.deepEqual(epochs, ["7", "8"]);
  assert.equal(caughtUp, 1);
  // Without a way to catch up (one master), a 421 is the answer.
  const alone = new Router({
    placement: placement(ring),
    fetch: () => fetch("", {}),
    timeoutMs: 100,
  });
  epochs.length = 0;
  assert.equal((await alone.set("k", "{}")).status, 421);
});

/**
 * A sole master's router (it has its newest ring already) whose nodes refuse the first
 * `refusals.left` writes with 421, the ring moving on from epoch 7 to 9 at most meanwhile.
 */
function movingRing() {
  const state = { ...placement(ring) }; // epoch 7
  const epochs: string[] = [];
  const refusals = { left: 2 };
  const fetch: Fetch = (_input, init) => {
    epochs.push(new Headers(init?.headers).get("x-ring-epoch")!);
    if (epochs.length > refusals.left) return Promise.resolve(new Response(null, { status: 204 }));
    if (state.epoch < 9) state.epoch++; // the ring changed while this try waited on the node
    const error = `Ring epoch ${state.epoch} came while this write waited`;
    return Promise.resolve(Response.json({ error, epoch: state.epoch }, { status: 421 }));
  };
  const catchUp = () => Promise.resolve();
  const router = new Router({ placement: state, fetch, timeoutMs: 100, catchUp });
  return { router, epochs, refusals };
}

Deno.test("Router.delete() resends a 421 while the ring it routes by moves on, no longer", async () => {
  const { router, epochs, refusals } = movingRing();
  assert.equal((await router.delete("user:1")).status, 204);
  assert.deepEqual(epochs, ["7", "8", "9"], "refused twice, the ring moving on each time");
  // Refused again with the ring unchanged since: that answer stands.
  epochs.length = 0;
  refusals.left = Infinity;
  assert.equal((await router.delete("user:1")).status, 421);
  assert.deepEqual(epochs, ["9", "9"]);
});

Deno.test("Router.mset() stamps each part with the epoch and deadline, resending a 421 once", async () => {
  const calls: string[] = [];
  const state = { ...placement(ring) };
  const fetch: Fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    const deadline = Number(headers.get("x-deadline"));
    assert.ok(deadline > Date.now(), "a deadline to come");
    const { items } = JSON.parse(String(init?.body));
    calls.push(
      `${new URL(String(input)).origin} epoch ${headers.get("x-ring-epoch")} ${items.length}`,
    );
    return Promise.resolve(
      calls.length === 1
        ? Response.json({ error: "Not the primary", epoch: 8 }, { status: 421 })
        : new Response(null, { status: 204 }),
    );
  };
  const catchUp = () => {
    state.epoch = 8;
    return Promise.resolve();
  };
  const items = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: "v" }));
  const router = new Router({ placement: state, fetch, timeoutMs: 100, catchUp });
  await router.mset(items);
  const owners = new Set(items.map((item) => ring.owner(item.key)));
  assert.equal(calls.length, owners.size + 1, "one part per owner, and the refused one again");
  assert.match(calls.at(-1)!, / epoch 8 /);
  // Without a way to catch up, the 421 is the answer, saying what was stored.
  calls.length = 0;
  const alone = new Router({ placement: placement(ring), fetch, timeoutMs: 100 });
  await assert.rejects(alone.mset(items), /Not the primary.*were stored/);
});

Deno.test("Router.mset() resends a 421 part while the ring it routes by moves on, no longer", async () => {
  const { router, epochs, refusals } = movingRing();
  const items = [{ key: "user:1", value: "v" }];
  await router.mset(items);
  assert.deepEqual(epochs, ["7", "8", "9"], "refused twice, the ring moving on each time");
  // Refused again with the ring unchanged since: that answer stands.
  epochs.length = 0;
  refusals.left = Infinity;
  await assert.rejects(router.mset(items), /came while this write waited; 0 of 1 items/);
  assert.deepEqual(epochs, ["9", "9"]);
});

Deno.test("Router.mset() resends a 421 part though another part failed, and counts items", async () => {
  const sent: string[] = [];
  const state = { ...placement(ring) };
  const fetch: Fetch = (input, init) => {
    const node = new URL(String(input)).origin;
    const epoch = new Headers(init?.headers).get("x-ring-epoch");
    const { items } = JSON.parse(String(init?.body));
    sent.push(`${node} epoch ${epoch} ${items.length}`);
    if (node === "http://a:1" && epoch === "7") {
      return Promise.resolve(Response.json({ error: "Not the primary" }, { status: 421 }));
    }
    if (node === "http://b:1") {
      return Promise.resolve(Response.json({ error: "Store is full" }, { status: 507 }));
    }
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const catchUp = () => {
    state.epoch = 8;
    return Promise.resolve();
  };
  const items = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: "v" }));
  const onA = items.filter((item) => ring.owner(item.key) === "http://a:1").length;
  const router = new Router({ placement: state, fetch, timeoutMs: 100, catchUp });
  await assert.rejects(
    router.mset(items),
    new RegExp(`Store is full; ${onA} of 20 items were stored`),
  );
  assert.ok(sent.includes(`http://a:1 epoch 8 ${onA}`), "the refused part went again");
});

Deno.test("Router.mset() counts a part its primary stored but a backup did not as unreplicated", async () => {
  const items = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: "v" }));
  const onA = items.filter((item) => ring.owner(item.key) === "http://a:1").map((i) => i.key);
  const missed = onA.slice(0, 2); // a's backup took all but these
  const fetch: Fetch = (input) => {
    if (new URL(String(input)).origin !== "http://a:1") {
      return Promise.resolve(new Response(null, { status: 204 }));
    }
    const error = "Stored on the primary, but 1 of 1 backups did not take it";
    return Promise.resolve(Response.json({ error, unreplicated: missed }, { status: 502 }));
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 100 });
  const error = await router.mset(items).catch((e) => e);
  assert.equal(error.status, 502);
  assert.match(
    error.message,
    new RegExp(
      `; ${20 - missed.length} of 20 items were stored on every owner, and ` +
        `${missed.length} more on their primary only`,
    ),
  );
  assert.deepEqual(error.details, { unreplicated: missed });
});

Deno.test("Router.mset() says a part whose node did not answer may be stored, not that it is not", async () => {
  // A 504 said "0 of 1000 items were stored on every owner" of an /mset its node had all stored.
  const items = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: "v" }));
  const onA = items.filter((item) => ring.owner(item.key) === "http://a:1").length;
  const fetch: Fetch = (input) => {
    if (new URL(String(input)).origin === "http://a:1") return new Promise<Response>(() => {});
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 50 });
  const error = await router.mset(items).catch((e) => e);
  assert.equal(error.status, 504);
  assert.match(
    error.message,
    new RegExp(
      `; ${20 - onA} of 20 items were stored on every owner, and ${onA} more may have been ` +
        `\\(their node did not answer\\)$`,
    ),
  );
});

async function gatheredWrites(status: number, then = 204, details = {}) {
  let msets = 0;
  const node = heldNode((_method, path) => {
    if (path === "/mset" && msets++ === 0 && status !== 204) {
      return Response.json({ error: `refused with ${status}`, ...details }, { status });
    }
    return new Response(null, { status: then });
  });
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  const keys = ["a", "b", "c"];
  const bodies = keys.map((key) => JSON.stringify({ key, value: key }));
  const writes = bodies.map((body, i) => router.set(keys[i], body));
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    node.release();
  }
  return { calls: node.calls, answers: await Promise.all(writes), bodies };
}

Deno.test("Router.set() gathers writes to a busy primary into one /mset of the bodies as sent", async () => {
  const { calls, answers, bodies } = await gatheredWrites(204);
  assert.deepEqual(answers.map((a) => a.status), [204, 204, 204]);
  assert.deepEqual(calls.slice(1), [`POST /mset {"items":[${bodies[1]},${bodies[2]}]}`]);
});

Deno.test("Router.set() resends a refused /mset's writes alone, for their own answers", async () => {
  const { calls, answers } = await gatheredWrites(413);
  assert.deepEqual(answers.map((a) => a.status), [204, 204, 204]);
  assert.deepEqual(calls.map((call) => call.split(" ").slice(0, 2).join(" ")), [
    "POST /keys",
    "POST /mset",
    "POST /keys",
    "POST /keys",
  ]);
});

Deno.test("Router.set() gives every write of an /mset the primary stored its error", async () => {
  const { calls, answers } = await gatheredWrites(502);
  assert.deepEqual(answers.map((a) => a.status), [204, 502, 502]);
  assert.deepEqual(await answers[2].json(), { error: "refused with 502" });
  assert.equal(calls.length, 2, "nothing sent again: the primary has the writes");
});

Deno.test("Router.set() answers 204 for the writes of a failed /mset that every backup took", async () => {
  const { calls, answers } = await gatheredWrites(502, 204, { unreplicated: ["c"] });
  assert.deepEqual(answers.map((a) => a.status), [204, 204, 502]);
  assert.deepEqual(await answers[2].json(), { error: "refused with 502", unreplicated: ["c"] });
  assert.equal(calls.length, 2, "nothing sent again");
});

Deno.test("Router.set() sends writes routed in different ring epochs alone, each with its own", async () => {
  const node = heldNode(() => new Response(null, { status: 204 }));
  const state = { ...oneNode };
  const epochs: string[] = [];
  const fetch: Fetch = (input, init) => {
    const epoch = new Headers(init?.headers).get("x-ring-epoch");
    epochs.push(`${new URL(String(input)).pathname} ${epoch}`);
    return node.fetch(input, init);
  };
  const router = new Router({ placement: state, fetch, timeoutMs: 1000 });
  const writes = [router.set("a", '{"key":"a","value":"1"}')];
  writes.push(router.set("b", '{"key":"b","value":"2"}')); // waits, routed in epoch 7
  state.epoch = 8; // the ring changed while it waited
  writes.push(router.set("c", '{"key":"c","value":"3"}'));
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    node.release();
  }
  assert.deepEqual((await Promise.all(writes)).map((a) => a.status), [204, 204, 204]);
  assert.deepEqual(epochs, ["/keys 7", "/keys 7", "/keys 8"]);
});

Deno.test("Router.set() keeps a batch of writes, and a backup's copy of it, under any body limit", async () => {
  const node = heldNode(() => new Response(null, { status: 204 }));
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  const body = (i: number) => JSON.stringify({ key: `k${i}`, value: "é".repeat(980) });
  let answered = 0;
  const writes = Array.from(
    { length: 61 },
    (_, i) => router.set(`k${i}`, body(i)).finally(() => answered++),
  );
  while (answered < writes.length) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    node.release();
  }
  await Promise.all(writes);
  // 1,004 characters a body, of 2 UTF-8 bytes each for most, counted as 3 bytes a character plus
  // 64: 19 a batch, ~38 KB of UTF-8 with room for the version a backup's copy adds to each.
  const msets = node.calls.filter((call) => call.startsWith("POST /mset"))
    .map((call) => call.slice("POST /mset ".length));
  const sizes = msets.map((text) => (JSON.parse(text) as { items: unknown[] }).items.length);
  assert.deepEqual(sizes, [19, 19, 19, 3]);
  for (const [i, text] of msets.entries()) {
    const bytes = new TextEncoder().encode(text).length;
    assert.ok(bytes + sizes[i] * 64 < 64 * 1024, `${bytes} bytes`);
  }
});

Deno.test("Router writes carry the moment the master stops waiting", async () => {
  const seen: (string | null)[] = [];
  const fetch: Fetch = (_input, init) => {
    seen.push(new Headers(init?.headers).get("x-deadline"));
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 250, now: () => 1000 });
  await router.set("k", "{}");
  await router.delete("k");
  assert.deepEqual(seen, ["1250", "1250"]);
});

Deno.test("Router.set() asks for a version above a write's floor, a batch's highest", async () => {
  const floors: string[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const fetch: Fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    floors.push(`${path} ${new Headers(init?.headers).get("x-version-above")}`);
    if (floors.length === 1) await held;
    return new Response(null, { status: 204 });
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 1000 });
  const first = router.set("k", '{"key":"k","value":"v"}', 500);
  const batch = [700, undefined, 600].map((floor) =>
    router.set("k", '{"key":"k","value":"v"}', floor)
  );
  release();
  const answers = await Promise.all([first, ...batch]);
  assert.deepEqual(answers.map((answer) => answer.status), [204, 204, 204, 204]);
  assert.deepEqual(floors, ["/keys 500", "/mset 700"]);
  assert.equal((await router.set("k", '{"key":"k","value":"v"}')).status, 204);
  assert.deepEqual(floors.at(-1), "/keys null", "none without one");
});

Deno.test("Router writes carry their sender's deadline, when it comes before the master's", async () => {
  const seen: number[] = [];
  const fetch: Fetch = (_input, init) => {
    seen.push(Number(new Headers(init?.headers).get("x-deadline")));
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 250, now: () => 1000 });
  await router.set("k", "{}", undefined, 100);
  await router.delete("k", 100);
  await router.alone("k", "/keys/k/incr", "{}", 100);
  await router.mset([{ key: "k", value: "v" }], 100);
  await router.set("k", "{}", undefined, 60_000);
  assert.equal(seen.length, 5);
  // 1100, less what passed since the write came: a millisecond or so.
  for (const deadline of seen.slice(0, 4)) assert.ok(deadline > 1090 && deadline <= 1100);
  assert.equal(seen[4], 1250, "the master's own, the sooner");
});

Deno.test("Router.set() sends no write past its sender's deadline, short ones apart from others", async () => {
  const calls: string[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const fetch: Fetch = async (input, init) => {
    const deadline = new Headers(init?.headers).get("x-deadline");
    calls.push(`${new URL(String(input)).pathname} ${init?.body} by ${deadline}`);
    if (calls.length === 1) await held;
    await new Promise((resolve) => setTimeout(resolve, 5)); // a call takes a moment
    return new Response(null, { status: 204 });
  };
  const router = new Router({ placement: oneNode, fetch, timeoutMs: 1000, now: () => 0 });
  const first = router.set("a", "1");
  const late = router.set("b", "2", undefined, 20);
  const hasty = router.set("h", "7", undefined, 95); // under 50 ms left once its turn comes
  const short = [router.set("c", "3", undefined, 500), router.set("d", "4", undefined, 600)];
  const patient = [router.set("e", "5", undefined, 60_000), router.set("f", "6")];
  await new Promise((resolve) => setTimeout(resolve, 60));
  release();
  const answers = await Promise.all([first, late, hasty, ...short, ...patient]);
  assert.deepEqual(answers.map((answer) => answer.status), [204, 504, 204, 204, 204, 204, 204]);
  assert.match(await answers[1].text(), /past its sender's deadline: not sent/);
  assert.deepEqual(calls.map((call) => call.replace(/ by \d+/, "")), [
    "/keys 1",
    "/keys 7", // alone: a call that carries others would take longer
    '/mset {"items":[3,4]}',
    '/mset {"items":[5,6]}',
  ]);
  const [own, byHasty, byShort, byPatient] = calls.map((call) => Number(call.split(" by ")[1]));
  assert.equal(own, 1000, "the master's own");
  assert.ok(byHasty > 0 && byHasty < 50, `${byHasty}: its own, 95 ms from when h came`);
  assert.ok(byShort > 380 && byShort <= 440, `${byShort}: 500 ms from when c came, 60 gone`);
  assert.equal(byPatient, 1000, "the master's own, before either sender's");
});

Deno.test("Router.set() sends a batch refused past its earliest deadline again, without it", async () => {
  // Senders that stop waiting soon must not fail the writes of the others in their batch.
  const calls: string[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const fetch: Fetch = async (input, init) => {
    const deadline = Number(new Headers(init?.headers).get("x-deadline"));
    calls.push(`${new URL(String(input)).pathname} ${init?.body}`);
    if (calls.length === 1) await held;
    if (deadline < 250) { // a node slow enough that it read this call past its earliest deadline
      const error = "The sender gave up on this write 3 ms ago: not applied";
      return Response.json({ error, late: true }, { status: 504 });
    }
    return new Response(null, { status: 204 });
  };
  const router = new Router({ placement: oneNode, fetch, timeoutMs: 1000, now: () => 0 });
  const first = router.set("a", "1");
  const hasty = router.set("b", "2", undefined, 200);
  const others = [300, 400, 60_000].map((left, i) =>
    router.set(`k${i}`, `${i + 3}`, undefined, left)
  );
  release();
  const answers = await Promise.all([first, hasty, ...others]);
  assert.deepEqual(answers.map((answer) => answer.status), [204, 504, 204, 204, 204]);
  assert.equal((await answers[1].json()).late, true, "nothing applied: it says so");
  assert.deepEqual(calls, [
    "/keys 1",
    '/mset {"items":[2,3,4]}',
    "/keys 5", // the patient one, alone in its group
    '/mset {"items":[3,4]}',
  ]);
});

Deno.test("Router.set() does not say nothing was applied when a copy sent to every owner may stay", async () => {
  // The primary refused the copy as late, a backup took it; the try again through the primary was
  // refused as late too: the backup's copy stays (until the key's next write).
  const primary = ring.owner("k");
  const fetch: Fetch = (input) => {
    const { origin, pathname } = new URL(String(input));
    if (pathname === "/stamped" && origin !== primary) {
      return Promise.resolve(Response.json({ stale: [] }));
    }
    const error = "The sender gave up on this write 1 ms ago: not applied";
    return Promise.resolve(Response.json({ error, late: true }, { status: 504 }));
  };
  const both = { ...placement(ring), replicas: 2 };
  const router = new Router({ placement: both, fetch, timeoutMs: 1000 });
  const answer = await router.set("k", '{"key":"k","value":"v"}', undefined, 500);
  assert.equal(answer.status, 504);
  const body = await answer.json();
  assert.equal(body.late, undefined, "not 'nothing applied'");
  assert.match(body.error, /^The write's first try, sent to every owner at once, failed, and its /);
  assert.match(body.error, /a copy of the first try may be on some owners until the key's next/);
});

Deno.test("Router.set() awaits every answer of a group sent again alone while the other is out", async () => {
  // A refused batch's writes went again alone and failed while the other group's call was out:
  // their rejections, awaited only after it, ended the process.
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  let calls = 0;
  const fetch: Fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    if (++calls === 1) await held;
    if (path === "/mset") return Response.json({ error: "A bad batch" }, { status: 400 });
    if (init?.body === "4") {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return new Response(null, { status: 204 });
    }
    if (init?.body !== "1") throw new TypeError("Connection reset"); // the short ones, alone
    return new Response(null, { status: 204 });
  };
  const router = new Router({ placement: oneNode, fetch, timeoutMs: 1000, now: () => 0 });
  const first = router.set("a", "1");
  const short = [router.set("b", "2", undefined, 400), router.set("c", "3", undefined, 500)];
  const patient = router.set("d", "4");
  release();
  const settled = await Promise.allSettled([first, ...short, patient]);
  assert.deepEqual(settled.map((result) => result.status), [
    "fulfilled",
    "rejected",
    "rejected",
    "fulfilled",
  ]);
});
