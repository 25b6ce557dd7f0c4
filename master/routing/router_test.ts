import assert from "node:assert/strict";
import { HttpError } from "../../shared/protocol/errors.ts";
import type { Fetch } from "../../shared/http1/fetch.ts";
import { silentLogger } from "../../shared/log/log.ts";
import { Ring } from "../../shared/ring/ring.ts";
import { LINES_TYPE } from "../../shared/protocol/wire.ts";
import { Breakers } from "./breaker.ts";
import { Router } from "./router.ts";

const ring = new Ring(["http://a:1", "http://b:1"]);
const placement = (r: Ring) => ({ ring: r, epoch: 7, replicas: 1, unsettledRings: [] });

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

Deno.test("Router.get() reads from a backup when the primary fails", async () => {
  const [primary, backup] = ring.owners("k", 2);
  const fetch: Fetch = (input) =>
    String(input).startsWith(primary)
      ? Promise.reject(new TypeError("refused"))
      : Promise.resolve(Response.json({ key: "k", value: `from ${backup}` }));
  const router = new Router({
    placement: { ...placement(ring), replicas: 2 },
    fetch,
    timeoutMs: 100,
  });
  const answer = await router.get("k");
  assert.deepEqual(await answer.json(), { key: "k", value: `from ${backup}` });
});

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
        : Response.json({ key, value: "old home" }),
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
  assert.deepEqual(await (await moving.get(key)).json(), { key, value: "old home" });
});

async function failure(router: Router): Promise<HttpError> {
  const error = await router.delete("k").catch((e) => e);
  assert.ok(error instanceof HttpError, String(error));
  return error;
}

Deno.test("Router.delete() answers 503 when no node is up", async () => {
  const router = new Router({ placement: placement(new Ring()), fetch, timeoutMs: 100 });
  assert.equal((await failure(router)).status, 503);
});

Deno.test("Router.delete() answers 502 when the owner refuses the connection", async () => {
  const fetch: Fetch = () => Promise.reject(new TypeError("Connection refused"));
  const error = await failure(new Router({ placement: placement(ring), fetch, timeoutMs: 100 }));
  assert.equal(error.status, 502);
  assert.match(error.message, /unreachable: Connection refused/);
});

Deno.test("Router.delete() answers 504 when the owner does not answer in time", async () => {
  const hang: Fetch = (_input, init) =>
    new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  const error = await failure(
    new Router({ placement: placement(ring), fetch: hang, timeoutMs: 20 }),
  );
  assert.equal(error.status, 504);
  assert.match(error.message, /did not answer within 20 ms/);
});

Deno.test("Router keeps sending to a node after a call whose fetch ignored its deadline", async () => {
  let calls = 0;
  const deafOnce: Fetch = () =>
    calls++ === 0 ? new Promise(() => {}) : Promise.resolve(new Response(null, { status: 204 }));
  const router = new Router({ placement: placement(ring), fetch: deafOnce, timeoutMs: 20 });
  assert.equal((await router.set("k", "{}").catch((e) => e)).status, 504);
  assert.equal((await router.set("k", "{}")).status, 204); // the primary's queue moved on
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
      return Promise.resolve(Response.json({ key, value: "v" }));
    }
    if (url.startsWith("http://a:1/replica/")) {
      return Promise.resolve(Response.json({ key, version: 3, value: "v" }));
    }
    repaired.push(JSON.parse(String(init?.body))); // b's /replicate
    return Promise.resolve(Response.json({ applied: 1 }));
  };
  const router = new Router({
    placement: { ring: after, epoch: 8, replicas: 1, unsettledRings: [before] },
    fetch,
    timeoutMs: 100,
  });
  assert.deepEqual(await (await router.get(key)).json(), { key, value: "v" });
  await new Promise((resolve) => setTimeout(resolve, 20)); // the repair runs in the background
  // The new owner missed it: every owner, now and before, is asked for its versioned state.
  assert.deepEqual(calls, [
    `GET http://b:1/keys/${key}`,
    `GET http://b:1/replica/${key}`,
    `GET http://a:1/replica/${key}`,
    "POST http://b:1/replicate",
  ]);
  assert.deepEqual(repaired, [{ entries: [{ key, version: 3, value: "v" }] }]);
});

/** A node that holds every answer until the test lets it go, recording each call. */
function heldNode(answer: (method: string, path: string, body: string) => Response) {
  const calls: string[] = [];
  const gates: (() => void)[] = [];
  const fetch: Fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    const body = typeof init?.body === "string" ? init.body : "";
    calls.push(`${init?.method ?? "GET"} ${path}${body ? ` ${body}` : ""}`);
    await new Promise<void>((resolve) => gates.push(resolve));
    return answer(init?.method ?? "GET", path, body);
  };
  const release = () => gates.splice(0).forEach((go) => go());
  return { calls, fetch, release };
}

const oneNode = { ring: new Ring(["http://a:1"]), epoch: 7, replicas: 1, unsettledRings: [] };

Deno.test("Router.get() gathers reads of a busy node into one /mget with single-read answers", async () => {
  const stored: Record<string, string> = { k1: "one", k2: "two", k4: "four" };
  const node = heldNode((_method, path, body) => {
    if (path === "/mget") {
      const { keys } = JSON.parse(body) as { keys: string[] };
      const items = keys.filter((k) => k in stored).map((key) => ({ key, value: stored[key] }));
      return Response.json({ items, missing: keys.filter((k) => !(k in stored)) });
    }
    const key = path.slice("/keys/".length);
    return Response.json({ key, value: stored[key] });
  });
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  // The first read goes at once; the reads made while it is out wait and go together.
  const reads = ["k1", "k2", "k3", "k4", "k2"].map((key) => router.get(key));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(node.calls, ["GET /keys/k1"]);
  node.release();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(node.calls.slice(1), ['POST /mget {"keys":["k2","k3","k4"]}']);
  node.release();
  const answers = await Promise.all(reads);
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 404, 200, 200]);
  assert.deepEqual(await answers[2].json(), { error: 'Key "k3" not found' });
  assert.deepEqual(await answers[3].json(), { key: "k4", value: "four" });
  assert.deepEqual(await answers[4].json(), { key: "k2", value: "two" });
});

Deno.test("Router.get() passes a batch's lines on as each read's body, unparsed", async () => {
  const accepts: (string | null)[] = [];
  const fetch: Fetch = (_input, init) => {
    accepts.push(new Headers(init?.headers).get("accept"));
    const { keys } = JSON.parse(String(init?.body)) as { keys: string[] };
    // Spaced as no JSON.stringify would write it: the master passes lines on as they are.
    const line = (key: string) => key === "k3" ? "null" : `{"key": "${key}", "value": "v"}`;
    return Promise.resolve(
      new Response(keys.map(line).join("\n") + "\n", { headers: { "content-type": LINES_TYPE } }),
    );
  };
  const node = heldNode((_method, path) => Response.json({ key: path.slice(6), value: "v" }));
  const router = new Router({
    placement: oneNode,
    fetch: (input, init) => init?.method === "POST" ? fetch(input, init) : node.fetch(input, init),
    timeoutMs: 1000,
  });
  const reads = ["k1", "k2", "k3", "k2"].map((key) => router.get(key));
  await new Promise((resolve) => setTimeout(resolve, 0));
  node.release(); // k1 went alone; k2, k3 and k2 again wait for it, then go together
  const answers = await Promise.all(reads);
  assert.match(accepts[0] ?? "", new RegExp(LINES_TYPE.replace("/", "\\/")));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 404, 200]);
  assert.equal(answers[1].headers.get("content-type"), "application/json");
  assert.equal(await answers[1].text(), '{"key": "k2", "value": "v"}');
  assert.equal(await answers[3].text(), '{"key": "k2", "value": "v"}');
  assert.deepEqual(await answers[2].json(), { error: 'Key "k3" not found' });
});

Deno.test("Router.get() fails a batch's reads with 502 when the node answers too few lines", async () => {
  const node = heldNode((_method, path) =>
    path === "/mget"
      ? new Response("null\n", { headers: { "content-type": LINES_TYPE } })
      : Response.json({ key: path.slice("/keys/".length), value: "v" })
  );
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  const reads = ["a", "b", "c"].map((key) =>
    router.get(key).then((a) => a.status, (e) => e.status)
  );
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    node.release();
  }
  assert.deepEqual(await Promise.all(reads), [200, 502, 502]);
  assert.deepEqual(node.calls, ["GET /keys/a", 'POST /mget {"keys":["b","c"]}']);
});

Deno.test("Router.get() reads keys one by one when a node refuses their /mget", async () => {
  const node = heldNode((_method, path) =>
    path === "/mget"
      ? Response.json({ error: "No route for POST /mget" }, { status: 404 })
      : Response.json({ key: path.slice("/keys/".length), value: "v" })
  );
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  const reads = ["a", "b", "c"].map((key) => router.get(key));
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  for (let i = 0; i < 2; i++) {
    await tick();
    node.release();
  }
  await tick();
  // b and c are out alone; a read made now waits for them: they hold the node's one slot.
  reads.push(router.get("d"));
  await tick();
  assert.equal(node.calls.length, 4);
  node.release();
  await tick();
  node.release();
  const answers = await Promise.all(reads);
  assert.deepEqual(await answers[2].json(), { key: "c", value: "v" });
  assert.deepEqual(node.calls, [
    "GET /keys/a",
    'POST /mget {"keys":["b","c"]}',
    "GET /keys/b",
    "GET /keys/c",
    "GET /keys/d",
  ]);
});

Deno.test("Router.get() gives every read of an /mget the node's 5xx, sending none again", async () => {
  const node = heldNode((_method, path) =>
    path === "/mget"
      ? Response.json({ error: "Shutting down" }, { status: 503 })
      : Response.json({ key: path.slice("/keys/".length), value: "v" })
  );
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  const reads = ["a", "b", "c"].map((key) => router.get(key));
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    node.release();
  }
  // The node could not answer for its keys: with no other owner, its error is each read's.
  const answers = await Promise.all(reads.map((read) => read.catch((error: HttpError) => error)));
  assert.deepEqual(answers.map((answer) => answer.status), [200, 503, 503]);
  assert.ok(answers[2] instanceof HttpError);
  assert.equal(answers[2].message, "Node http://a:1: Shutting down");
  assert.deepEqual(node.calls, ["GET /keys/a", 'POST /mget {"keys":["b","c"]}']);
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

Deno.test("Router.get() sends reads queued behind a timed-out call to a backup, not to the node", async () => {
  const two = new Ring(["http://a:1", "http://b:1"]);
  const keys = [...Array(100).keys()].map((i) => `k${i}`)
    .filter((key) => two.owner(key) === "http://a:1").slice(0, 3);
  const calls: string[] = [];
  const fetch: Fetch = (input, init) => {
    const url = String(input);
    calls.push(url);
    if (url === "http://b:1/mget") {
      const { keys } = JSON.parse(String(init?.body)) as { keys: string[] };
      const items = keys.map((key) => ({ key, value: "from b" }));
      return Promise.resolve(Response.json({ items, missing: [] }));
    }
    if (url.startsWith("http://b:1")) {
      return Promise.resolve(Response.json({ key: url.split("/").pop(), value: "from b" }));
    }
    return new Promise((_resolve, reject) =>
      // a stops answering
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  };
  const router = new Router({
    placement: { ring: two, epoch: 7, replicas: 2, unsettledRings: [] },
    fetch,
    timeoutMs: 30,
  });
  const answers = await Promise.all(keys.map((key) => router.get(key)));
  for (const [i, answer] of answers.entries()) {
    assert.deepEqual(await answer.json(), { key: keys[i], value: "from b" });
  }
  assert.equal(calls.filter((url) => url.startsWith("http://a:1")).length, 1);
});

Deno.test("Router.get() keeps a batch of long keys under the size a node takes", async () => {
  const node = heldNode((_method, path, body) => {
    if (path !== "/mget") return Response.json({ key: path.slice(6), value: "v" });
    const { keys } = JSON.parse(body) as { keys: string[] };
    return Response.json({ items: keys.map((key) => ({ key, value: "v" })), missing: [] });
  });
  const router = new Router({ placement: oneNode, fetch: node.fetch, timeoutMs: 1000 });
  const keys = Array.from({ length: 121 }, (_, i) => `${i}`.padStart(1000, "k"));
  let answered = 0;
  const reads = keys.map((key) => router.get(key).finally(() => answered++));
  while (answered < keys.length) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    node.release();
  }
  await Promise.all(reads);
  // The first read goes alone; the 120 behind it (120,360 characters, counted as up to 6 bytes
  // each) go in batches of 10, each far under the smallest body limit a node can have (64 KiB).
  assert.equal(node.calls[0].slice(0, 10), "GET /keys/");
  assert.deepEqual(
    new Set(node.calls.slice(1).map((call) => call.slice(0, 10))),
    new Set(["POST /mget"]),
  );
  assert.equal(node.calls.length, 13);
  for (const call of node.calls) assert.ok(call.length < 62 * 1024, `${call.length} characters`);
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

Deno.test("Router counts a timed-out batch as its calls for the breaker, a refused one as one", async () => {
  const breakersFor = () =>
    new Breakers({ failures: 3, cooldownMs: 60_000, now: () => 0, log: silentLogger });
  const reads = async (fetch: Fetch, breakers: Breakers) => {
    const router = new Router({ placement: oneNode, fetch, timeoutMs: 20, breakers });
    // One read goes alone; the four behind it go as one batch.
    await Promise.allSettled(["a", "b", "c", "d", "e"].map((key) => router.get(key)));
  };
  const refusing = breakersFor();
  await reads(() => Promise.reject(new TypeError("Connection reset")), refusing);
  assert.equal(refusing.state("http://a:1"), "closed", "two failed calls");
  // The first read is answered; the batch of four behind it times out: four failures.
  const batchHangs = breakersFor();
  let answered = false;
  await reads((input, init) => {
    if (!answered) {
      answered = true;
      return Promise.resolve(Response.json({ key: String(input).split("/").pop(), value: "v" }));
    }
    return new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  }, batchHangs);
  assert.equal(batchHangs.state("http://a:1"), "open", "the batch timed out with four calls");
  // The first read times out; the four behind it fail unsent, and count as well.
  const hanging = breakersFor();
  await reads(
    (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
      ),
    hanging,
  );
  assert.equal(hanging.state("http://a:1"), "open", "one read timed out, four waited behind it");
});

Deno.test("Router says that calls failed behind a timed-out one were not sent", async () => {
  const hangs: Fetch = (_input, init) =>
    new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  const router = new Router({ placement: oneNode, fetch: hangs, timeoutMs: 20 });
  const [first, ...queued] = await Promise.allSettled(["a", "b", "c"].map((k) => router.get(k)));
  const reason = (result: PromiseSettledResult<Response>) =>
    result.status === "rejected" ? (result.reason as HttpError) : undefined;
  assert.equal(reason(first)?.status, 504);
  assert.equal(reason(first)?.message, "Node http://a:1 did not answer within 20 ms");
  for (const result of queued) {
    assert.equal(reason(result)?.status, 504);
    assert.equal(
      reason(result)?.message,
      "Node http://a:1 did not answer an earlier call within 20 ms; this one was not sent",
    );
  }
});

Deno.test("Router.set() answers 204 for the writes of a failed /mset that every backup took", async () => {
  const { calls, answers } = await gatheredWrites(502, 204, { unreplicated: ["c"] });
  assert.deepEqual(answers.map((a) => a.status), [204, 204, 502]);
  assert.deepEqual(await answers[2].json(), { error: "refused with 502", unreplicated: ["c"] });
  assert.equal(calls.length, 2, "nothing sent again");
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
  assert.deepEqual(await (await router.get(key)).json(), { key, value: "old" });
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
