// Reads through the router while keys move: the newest copy on any owner, and read repair.

import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import type { Fetch } from "@cache/http1/fetch";
import { Ring } from "@cache/ring/ring";
import { Router } from "./router.ts";
import { placement } from "./test_support.ts";

Deno.test("Router.get() trusts the primary's miss once keys have settled, not before", async () => {
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  const now = new Ring(nodes);
  const key = [...Array(200).keys()].map((i) => `k${i}`)
    .find((k) => now.owner(k) === "http://c:1")!;
  const before = new Ring(["http://a:1", "http://b:1"]);
  const calls: string[] = [];
  const fetch: Fetch = (input) => {
    calls.push(String(input));
    const home = String(input).startsWith(before.owner(key)!);
    return Promise.resolve(
      !home
        ? Response.json({ error: "not found" }, { status: 404 })
        : String(input).includes("/replica/")
        ? Response.json({ key, version: 1, value: "old home" })
        : Response.json({ key, value: "old home", version: "0.1" }),
    );
  };
  const settled = new Router({ placement: placement(now), fetch, timeoutMs: 100 });
  assert.equal((await settled.get(key)).status, 404);
  assert.equal(calls.length, 1);

  const moving = new Router({
    placement: { ring: now, epoch: 8, replicas: 1, unsettledRings: [before] },
    fetch,
    timeoutMs: 100,
  });
  assert.deepEqual(await (await moving.get(key)).json(), {
    key,
    value: "old home",
    version: "0.1",
  });
});

Deno.test("Router.get() finds a moving key where it was and copies it to its new owner", async () => {
  const before = new Ring(["http://a:1"]);
  const after = new Ring(["http://a:1", "http://b:1"]);
  let key = "k0";
  for (let i = 0; after.owner(key) !== "http://b:1"; i++) key = `k${i}`;
  const calls: string[] = [];
  const repaired: unknown[] = [];
  const fetch: Fetch = (input, init) => {
    const url = String(input);
    calls.push(`${init?.method ?? "GET"} ${url}`);
    if (url.startsWith("http://b:1/keys/") || url.startsWith("http://b:1/replica/")) {
      return Promise.resolve(Response.json({}, { status: 404 }));
    }
    if (url.startsWith("http://a:1/keys/")) {
      return Promise.resolve(Response.json({ key, value: "v", version: "0.3" }));
    }
    if (url.startsWith("http://a:1/replica/")) {
      // The ring changes while the read waits: the repair still names the ring that chose b.
      placement.epoch = 9;
      return Promise.resolve(Response.json({ key, version: 3, value: "v" }));
    }
    repaired.push(JSON.parse(String(init?.body))); // b's /replicate
    rings.push(new Headers(init?.headers).get("x-sender-ring"));
    return Promise.resolve(Response.json({ applied: 1 }));
  };
  const rings: (string | null)[] = [];
  const placement = { ring: after, epoch: 8, term: 2, replicas: 1, unsettledRings: [before] };
  const router = new Router({
    placement,
    fetch,
    timeoutMs: 100,
  });
  // Its version where it was, as its state there says.
  assert.deepEqual(await (await router.get(key)).json(), { key, value: "v", version: "0.3" });
  await new Promise((resolve) => setTimeout(resolve, 20)); // the repair runs in the background
  // The new owner missed it: every owner, now and before, is asked for its versioned state.
  assert.deepEqual(calls, [
    `GET http://b:1/keys/${key}`,
    `GET http://b:1/replica/${key}`,
    `GET http://a:1/replica/${key}`,
    "POST http://b:1/replicate",
  ]);
  assert.deepEqual(repaired, [{ entries: [{ key, version: 3, value: "v" }] }]);
  assert.deepEqual(rings, ["2/8"], "named by the ring the master routes by");
});

Deno.test("Router.get() takes no state a flush went through for the newest while keys move", async () => {
  // A node the flush missed (leaving, marked down while it went round) answered its old states
  // until it learnt the flush from the ring: reads undid the flush for that while.
  const before = new Ring(["http://a:1", "http://b:1"]);
  const after = new Ring(["http://a:1"]);
  let key = "k0";
  for (let i = 0; before.owner(key) !== "http://b:1"; i++) key = `k${i}`;
  const calls: string[] = [];
  const fetch: Fetch = (input, init) => {
    const url = String(input);
    calls.push(`${init?.method ?? "GET"} ${url}`);
    if (url.startsWith("http://b:1/replica/")) {
      return Promise.resolve(Response.json({ key, version: 5_000, value: "flushed" }));
    }
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  };
  const router = new Router({
    placement: { ring: after, epoch: 8, replicas: 1, unsettledRings: [before], flushed: 5_000 },
    fetch,
    timeoutMs: 100,
  });
  assert.equal((await router.get(key)).status, 404);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(!calls.some((call) => call.startsWith("POST")), "nothing repaired from it");
  assert.ok(calls.includes(`GET http://b:1/replica/${key}`), "it was asked");
});

Deno.test("Router.get() answers an owner's error, not an earlier owner's miss, while keys move", async () => {
  // Finding 2: both owners skipped (a frozen backup made the primary slow too), and a node that
  // owned the key in an earlier ring, and already dropped it, answered 404.
  const now = new Ring(["http://a:1", "http://b:1", "http://c:1"]);
  const before = new Ring(["http://a:1", "http://b:1", "http://c:1", "http://d:1"]);
  const key = [...Array(400).keys()].map((i) => `k${i}`)
    .find((k) =>
      !now.owners(k, 2).includes("http://d:1") && before.owners(k, 2).includes("http://d:1")
    )!;
  const fetch: Fetch = (input) =>
    String(input).startsWith("http://d:1")
      ? Promise.resolve(Response.json({ error: "not here" }, { status: 404 }))
      : Promise.reject(new TypeError("refused"));
  const router = new Router({
    placement: { ring: now, epoch: 8, replicas: 2, unsettledRings: [before] },
    fetch,
    timeoutMs: 100,
  });
  const error = await router.get(key).catch((e) => e);
  assert.ok(error instanceof HttpError, "not a 404");
  assert.equal(error.status, 502);
});

Deno.test("Router.get() answers the newest state of the owners while keys move, a deletion too", async () => {
  const now = new Ring(["http://a:1", "http://b:1"]);
  const before = new Ring(["http://a:1", "http://c:1"]);
  const key = [...Array(400).keys()].map((i) => `k${i}`)
    .find((k) => now.owner(k) === "http://b:1" && before.owner(k) === "http://c:1")!;
  const states: Record<string, unknown> = {
    "http://b:1": { key, version: 9, epoch: 8, deleted: true }, // deleted in this ring
    "http://c:1": { key, version: 99, epoch: 7, value: "old" }, // never heard of it
  };
  const fetch: Fetch = (input) => {
    const url = new URL(String(input));
    if (url.pathname.startsWith("/keys/")) {
      return Promise.resolve(Response.json({}, { status: 404 }));
    }
    const state = states[url.origin];
    if (url.pathname === "/replicate") return Promise.resolve(Response.json({ applied: 1 }));
    return Promise.resolve(state ? Response.json(state) : Response.json({}, { status: 404 }));
  };
  const router = new Router({
    placement: { ring: now, epoch: 8, replicas: 1, unsettledRings: [before] },
    fetch,
    timeoutMs: 100,
  });
  assert.equal((await router.get(key)).status, 404, "the deletion is newer: no stale value");
  states["http://b:1"] = undefined;
  // The version names the write's ring epoch too.
  assert.deepEqual(await (await router.get(key)).json(), { key, value: "old", version: "7.99" });
});

Deno.test("Router.mget() answers an earlier owner's failure, as get() does, not a miss", async () => {
  const [a, b] = ["http://a:1", "http://b:1"];
  const now = new Ring([a, b]);
  const key = [...Array(200).keys()].map((i) => `k${i}`).find((k) => now.owner(k) === b)!;
  // The key is moving from a, which cannot be reached; b does not hold it yet.
  const fetch: Fetch = (input, init) => {
    if (String(input).startsWith(a)) return Promise.reject(new TypeError("connection refused"));
    if (!String(input).endsWith("/mget")) {
      return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
    }
    const { keys } = JSON.parse(String(init?.body));
    return Promise.resolve(Response.json({ items: [], missing: keys }));
  };
  const placement = { ring: now, epoch: 8, replicas: 1, unsettledRings: [new Ring([a])] };
  const router = new Router({ placement, fetch, timeoutMs: 100 });
  for (const read of [() => router.get(key), () => router.mget([key])]) {
    const error = await read().then(() => undefined, (e) => e);
    assert.ok(error instanceof HttpError && error.status === 502, String(error));
  }
});

Deno.test("Router.get() reads again by the new ring when the ring changed while it waited", async () => {
  const [a, b] = ["http://a:1", "http://b:1"];
  const before = new Ring([a]);
  const after = new Ring([a, b]);
  const key = [...Array(200).keys()].map((i) => `k${i}`).find((k) => after.owner(k) === b)!;
  let answered!: () => void;
  const handedOver = new Promise<void>((resolve) => answered = resolve);
  const fetch: Fetch = async (input) => {
    if (String(input).startsWith(a)) {
      await handedOver; // a answers once it has handed the key to b, and dropped it
      return Response.json({ error: "not found" }, { status: 404 });
    }
    return Response.json({ key, value: "v", version: "8.1" });
  };
  const placement = { ring: before, epoch: 7, replicas: 1, unsettledRings: [] as Ring[] };
  const router = new Router({ placement, fetch, timeoutMs: 1000 });
  const read = router.get(key); // by the settled ring of epoch 7: a owns the key
  await new Promise((resolve) => setTimeout(resolve, 10));
  Object.assign(placement, { ring: after, epoch: 8 }); // b joined, and the keys moved
  answered();
  assert.deepEqual(await (await read).json(), { key, value: "v", version: "8.1" });
});

Deno.test("Router.mget() reads a miss again by the new ring when the ring changed while it waited", async () => {
  const [a, b] = ["http://a:1", "http://b:1"];
  const after = new Ring([a, b]);
  const key = [...Array(200).keys()].map((i) => `k${i}`).find((k) => after.owner(k) === b)!;
  let answered!: () => void;
  const handedOver = new Promise<void>((resolve) => answered = resolve);
  const fetch: Fetch = async (input, init) => {
    if (String(input).startsWith(a)) {
      await handedOver; // a answers once it has handed the key to b, and dropped it
      const { keys } = JSON.parse(String(init?.body));
      return Response.json({ items: [], missing: keys });
    }
    return Response.json({ key, value: "v", version: "8.1" });
  };
  const placement = { ring: new Ring([a]), epoch: 7, replicas: 1, unsettledRings: [] as Ring[] };
  const router = new Router({ placement, fetch, timeoutMs: 1000 });
  const read = router.mget([key, key]); // by the settled ring of epoch 7: a owns the key
  await new Promise((resolve) => setTimeout(resolve, 10));
  Object.assign(placement, { ring: after, epoch: 8 }); // b joined, the keys moved, and settled
  answered();
  const { items } = await read;
  assert.deepEqual(items.map((item) => JSON.parse(String(item.body)).value), ["v", "v"]);
});

Deno.test("Router.get() through two ring changes compares an old hit with every ring's owners", async () => {
  const [a, b] = ["http://a:1", "http://b:1"];
  const now = new Ring([a]);
  const between = new Ring([a, b]);
  const key = [...Array(200).keys()].map((i) => `k${i}`).find((k) => between.owner(k) === b)!;
  // a kept its copy from epoch 1 (its handover for epoch 2 was cut short), and owns the key again
  // in epoch 3; b took a write in epoch 2 and is handing it back.
  const calls: string[] = [];
  const fetch: Fetch = (input) => {
    const url = String(input);
    calls.push(url);
    const a1 = { key, version: 1, epoch: 1, value: "old" };
    const b2 = { key, version: 2, epoch: 2, value: "new" };
    if (url.includes("/replica/")) {
      return Promise.resolve(Response.json(url.startsWith(a) ? a1 : b2));
    }
    return Promise.resolve(Response.json({ key, value: "old", version: "1.1" }));
  };
  const read = (unsettledRings: Ring[]) =>
    new Router({
      placement: { ring: now, epoch: 3, replicas: 1, unsettledRings },
      fetch,
      timeoutMs: 100,
    })
      .get(key);
  assert.deepEqual(await (await read([between, now])).json(), {
    key,
    value: "new",
    version: "2.2",
  });
  calls.length = 0;
  // Through one change, a hit from an earlier ring is the newest: no one wrote the key since.
  assert.deepEqual(await (await read([between])).json(), { key, value: "old", version: "1.1" });
  assert.equal(calls.length, 1, "the owner alone is asked");
});

Deno.test("Router.mget() through two ring changes compares an old hit as get() does", async () => {
  // An mget answered its owners' hits as they were: a node back with a ring a restarted master
  // never learnt held values older than writes acknowledged since, and they were read.
  const [a, b] = ["http://a:1", "http://b:1"];
  const now = new Ring([a]);
  const between = new Ring([a, b]);
  const key = [...Array(200).keys()].map((i) => `k${i}`).find((k) => between.owner(k) === b)!;
  const fetch: Fetch = (input, init) => {
    const url = String(input);
    if (url.includes("/replica/")) {
      const a1 = { key, version: 1, epoch: 1, value: "old" };
      const b2 = { key, version: 2, epoch: 2, value: "new" };
      return Promise.resolve(Response.json(url.startsWith(a) ? a1 : b2));
    }
    const old = { key, value: "old", version: "1.1" };
    if (url.endsWith("/mget")) {
      const { keys } = JSON.parse(String(init?.body)) as { keys: string[] };
      return Promise.resolve(Response.json({ items: keys.map(() => old), missing: [] }));
    }
    return Promise.resolve(Response.json(old));
  };
  const placement = { ring: now, epoch: 3, replicas: 1, unsettledRings: [between, now] };
  const router = new Router({ placement, fetch, timeoutMs: 100 });
  const { items } = await router.mget([key, key]);
  assert.deepEqual(items.map((item) => JSON.parse(String(item.body)).value), ["new", "new"]);
});

Deno.test("Router.get() names its ring to every node it asks for a key's state while keys move", async () => {
  // An owner in the ring before that has not heard of this one takes it first, and so no more
  // writes by its own: else it could acknowledge one after the read, and the state repaired onto
  // the key's owner here would be older than that write.
  const [a, b] = ["http://a:1", "http://b:1"];
  const before = new Ring([b]);
  const stateReads: (string | null)[] = [];
  const fetch: Fetch = (input, init) => {
    const url = String(input);
    if (url.includes("/replica/")) {
      stateReads.push(new Headers(init?.headers).get("x-ring-epoch"));
      return Promise.resolve(
        url.startsWith(b)
          ? Response.json({ key: "k", version: 5, epoch: 7, value: "v" })
          : Response.json({ error: "not found" }, { status: 404 }),
      );
    }
    if (url.endsWith("/replicate")) return Promise.resolve(Response.json({ changed: 1 }));
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  };
  const router = new Router({
    placement: { ring: new Ring([a]), epoch: 8, replicas: 1, unsettledRings: [before] },
    fetch,
    timeoutMs: 100,
  });
  assert.equal((await router.get("k")).status, 200);
  assert.deepEqual(stateReads, ["8", "8"]);
});

Deno.test("Router.get() asks the new owner again when it and the old one both miss a key moving between them", async () => {
  // The new owner answered before the key landed, the old one after it let go (it drops a key
  // only once its new owners have it): 404 for an acknowledged key, at R=1, while a node joined.
  const before = new Ring(["http://a:1"]);
  const after = new Ring(["http://a:1", "http://b:1"]);
  let key = "k0";
  for (let i = 0; after.owner(key) !== "http://b:1"; i++) key = `k${i}`;
  let landed = false;
  const fetch: Fetch = (input) => {
    const url = String(input);
    const missing = Response.json({ error: "not found" }, { status: 404 });
    if (url.startsWith("http://a:1/")) {
      landed = true; // handed over meanwhile, and dropped
      return Promise.resolve(missing);
    }
    if (!landed) return Promise.resolve(missing);
    return Promise.resolve(
      url.includes("/replica/")
        ? Response.json({ key, version: 7, epoch: 3, value: "moved" })
        : Response.json({ key, value: "moved", version: "3.7" }),
    );
  };
  const router = new Router({
    placement: { ring: after, epoch: 8, replicas: 1, unsettledRings: [before] },
    fetch,
    timeoutMs: 100,
  });
  const answer = await router.get(key);
  assert.equal(answer.status, 200);
  assert.equal((await answer.json()).value, "moved");
});

Deno.test("Router.get() through two ring changes answers an error, not an old hit, when a node is silent", async () => {
  // The newer copy's holder timed out (loaded, while a joining node was marked down and came back):
  // the newest of those that answered was the old hit, older than an acknowledged write.
  const [a, b] = ["http://a:1", "http://b:1"];
  const now = new Ring([a]);
  const between = new Ring([a, b]);
  const key = [...Array(200).keys()].map((i) => `k${i}`).find((k) => between.owner(k) === b)!;
  const fetch: Fetch = (input) => {
    const url = String(input);
    if (url.startsWith(b)) return Promise.reject(new TypeError("Connection reset"));
    if (url.includes("/replica/")) {
      return Promise.resolve(Response.json({ key, version: 1, epoch: 1, value: "old" }));
    }
    return Promise.resolve(Response.json({ key, value: "old", version: "1.1" }));
  };
  const router = new Router({
    placement: { ring: now, epoch: 3, replicas: 1, unsettledRings: [between, now] },
    fetch,
    timeoutMs: 100,
  });
  const answer = await router.get(key).catch((error) => error);
  assert.equal(answer.status, 502, "b may hold a newer state");
  // A state written in this ring outranks every earlier ring's: answered though b is silent.
  const fresh: Fetch = (input) => {
    const url = String(input);
    if (url.startsWith(b)) return Promise.reject(new TypeError("Connection reset"));
    return Promise.resolve(Response.json({ key, value: "new", version: "3.5" }));
  };
  const reader = new Router({
    placement: { ring: now, epoch: 3, replicas: 1, unsettledRings: [between, now] },
    fetch: fresh,
    timeoutMs: 100,
  });
  assert.equal((await reader.get(key)).status, 200);
});
