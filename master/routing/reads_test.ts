// Reads through the router: failing over across owners, gathered into /mget while a node is busy.

import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import type { Fetch } from "@cache/http1/fetch";
import { Ring } from "@cache/ring/ring";
import { LINES_TYPE } from "@cache/protocol/wire";
import { Router } from "./router.ts";
import { heldNode, oneNode, placement, ring } from "./test_support.ts";

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

Deno.test("Router.mget() asks each owner once for its keys' lines, as gathered reads do", async () => {
  const calls: { node: string; path: string; accept: string | null; keys: string[] }[] = [];
  const fetch: Fetch = (input, init) => {
    const url = new URL(String(input));
    const { keys } = JSON.parse(String(init?.body)) as { keys: string[] };
    const accept = new Headers(init?.headers).get("accept");
    calls.push({ node: url.origin, path: url.pathname, accept, keys });
    const line = (key: string) =>
      key === "nope"
        ? "null"
        : `{"key": "${key}", "value": "v-${key}", "version": "7.${key.slice(1)}"}`;
    const lines = keys.map(line).join("\n") + "\n";
    return Promise.resolve(new Response(lines, { headers: { "content-type": LINES_TYPE } }));
  };
  const router = new Router({ placement: placement(ring), fetch, timeoutMs: 100 });
  const keys = ["k1", "nope", "k2", "k1", "k3", "k4"];
  const { items, missing } = await router.mget(keys);
  assert.deepEqual({ items: items.map((item) => JSON.parse(String(item.body))), missing }, {
    items: ["k1", "k2", "k1", "k3", "k4"].map((key) => ({
      key,
      value: `v-${key}`,
      version: `7.${key.slice(1)}`,
    })),
    missing: ["nope"],
  });
  const owners = new Set(keys.map((key) => ring.owner(key)));
  assert.deepEqual(new Set(calls.map((call) => call.node)), owners);
  assert.equal(calls.length, owners.size, "one call per owner");
  for (const call of calls) {
    assert.equal(call.path, "/mget");
    assert.ok(call.accept?.includes(LINES_TYPE), String(call.accept));
    assert.deepEqual(call.keys, [...new Set(keys)].filter((key) => ring.owner(key) === call.node));
  }
});
