import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { refusals } from "../../tests/support/bad_input.ts";
import { createApp } from "./app.ts";
import { Auth } from "@cache/service/auth";
import { Store } from "../store/store.ts";

function nodeApp(maxValueBytes = 1024) {
  const store = new Store({ now: () => 0 }); // a still clock: versions count writes, from 1
  const app = createApp({ store, maxValueBytes, notReady: () => undefined, log });
  const send = async (path: string, init?: RequestInit) => await app.request(path, init);
  return { store, send };
}

const put = (key: string, value: string): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ key, value }),
});

Deno.test("node stores, reads and deletes keys of any characters", async () => {
  const { send, store } = nodeApp();
  const keys = ["a/b", "with space", "emoji 😀", "100%", "?#&", "é".repeat(512)];
  for (const [i, key] of keys.entries()) {
    assert.equal((await send("/keys", put(key, `value of ${key.slice(0, 20)}`))).status, 204, key);
    const path = `/keys/${encodeURIComponent(key)}`;
    const read = await send(path);
    assert.equal(read.status, 200, key);
    // Each key's write and its delete take a version each.
    const version = `0.${2 * i + 1}`;
    assert.deepEqual(await read.json(), { key, value: `value of ${key.slice(0, 20)}`, version });
    assert.equal((await send(path, { method: "DELETE" })).status, 204, key);
    assert.equal((await send(path)).status, 404, key);
  }
  assert.equal(store.stats().keys, 0);
});

Deno.test("node answers 404 with an error for a missing key", async () => {
  const { send } = nodeApp();
  const read = await send("/keys/missing");
  assert.equal(read.status, 404);
  assert.deepEqual(await read.json(), { error: 'Key "missing" not found' });
  const gone = await send("/keys/missing", { method: "DELETE" });
  assert.equal(gone.status, 404);
  assert.match((await gone.json()).error, /not found/);
});

Deno.test("node refuses a scan cursor past the last slot, as the master does", async () => {
  const { send } = nodeApp();
  await send("/keys", put("a", "1"));
  for (const cursor of [String(2 ** 20), "9999999"]) {
    const refused = await send(`/keys?cursor=${cursor}`);
    assert.equal(refused.status, 400, cursor);
    assert.match((await refused.json()).error, /cursor/);
  }
  const last = await send(`/keys?cursor=${2 ** 20 - 1}`);
  assert.equal(last.status, 200);
});

Deno.test("node empties on DELETE /keys, and through a version answers a cluster's flush", async () => {
  const { send, store } = nodeApp();
  await send("/keys", put("a", "1"));
  await send("/keys", put("b", "2"));
  const emptied = await send("/keys", { method: "DELETE" });
  assert.deepEqual([emptied.status, await emptied.json()], [200, { version: 2 }]);
  assert.deepEqual(store.keys(), []);
  await send("/keys", put("c", "3")); // version 3: after the flush's first round here
  const through = await send("/keys?through=40", { method: "DELETE" });
  assert.deepEqual([through.status, await through.json()], [200, { version: 40 }]);
  assert.deepEqual([store.keys(), store.flushedThrough], [[], 40]);
  for (const bad of ["-1", "x", "1.5", "12345678901234567", "9999999999999999"]) {
    const refused = await send(`/keys?through=${bad}`, { method: "DELETE" });
    assert.equal(refused.status, 400, bad);
    assert.match((await refused.json()).error, /through/);
  }
  // Past what any node's clock and floors allow: its versions would count writes, not time.
  const ahead = await send("/keys?through=40000001", { method: "DELETE" });
  assert.equal(ahead.status, 409);
  assert.match((await ahead.json()).error, /ahead of this node's clock/);
  assert.equal(store.flushedThrough, 40, "a refused flush changes nothing");
});

Deno.test("node refuses copies stamped past what any node's clock, flush or ring allow, not the others", async () => {
  // One copy stamped 2^53 - 1 left no room for the versions after it: every write this node made
  // as primary from then on was refused by its backups (400), and acknowledged nowhere. Refused
  // with its batch, the keys handed over with it never got here.
  const { send, store } = nodeApp(); // its clock at 0, with no ring
  const replicate = (stamp: { version: number; epoch?: number }) =>
    send("/replicate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        entries: [{ key: "a", version: 1, value: "1" }, { key: "b", value: "2", ...stamp }],
      }),
    });
  const max = Number.MAX_SAFE_INTEGER;
  for (const stamp of [{ version: max }, { version: 40_000_001 }, { version: 1, epoch: max }]) {
    const refused = await replicate(stamp);
    assert.equal(refused.status, 409, JSON.stringify(stamp));
    const { error, refused: keys } = await refused.json();
    assert.match(error, /^1 of 2 copies refused, the others taken: (Version|Ring epoch) \d+ is /);
    assert.deepEqual([keys, store.keys()], [["b"], ["a"]]);
  }
  assert.equal((await replicate({ version: 1, epoch: 60_001 })).status, 409);
  assert.equal((await replicate({ version: 40_000_000, epoch: 60_000 })).status, 200);
  assert.deepEqual(store.keys().sort(), ["a", "b"]);
});

Deno.test("node refuses a cluster flush's round with a query it does not take or a body", async () => {
  // A flush alone with either is in the shared bad-input list; with a good `through`, the round
  // still moves nothing.
  const { send, store } = nodeApp();
  await send("/keys", put("user:1", "a"));
  const refused = await send("/keys?through=40&prefix=user:", { method: "DELETE" });
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).error, /takes no prefix/);
  const headers = { "content-length": "18" };
  const body = await send("/keys?through=40", {
    method: "DELETE",
    headers,
    body: '{"prefix":"user:"}',
  });
  assert.deepEqual([body.status, await body.json()], [400, { error: "A DELETE takes no body" }]);
  assert.deepEqual([store.keys(), store.flushedThrough], [["user:1"], 0]);
});

Deno.test("node refuses every bad input with a 4xx error and writes nothing", async () => {
  const { send, store } = nodeApp(1024);
  assert.deepEqual(await refusals(send, 1024), []);
  assert.deepEqual(store.keys(), ["kept"], "only the key stored before the refusals");
});

Deno.test("node lets go of copies its primary evicted, on POST /evicted, and of no newer one", async () => {
  const { send, store } = nodeApp();
  for (const [key, version] of [["a", 3], ["b", 5], ["c", 9]] as const) {
    store.apply({ key, version, epoch: 1, value: "v" });
  }
  const evicted = (body: unknown) =>
    send("/evicted", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  for (
    const bad of [{}, { evicted: [] }, { evicted: [{ key: "a", version: 3 }] }, {
      evicted: [{ key: "a", version: 0, epoch: 1 }],
    }, { evicted: [{ key: "a", version: 3, epoch: 1, value: "v" }] }]
  ) {
    const answer = await evicted(bad);
    assert.equal(answer.status, 400, JSON.stringify(bad));
    assert.ok((await answer.json()).error);
  }
  assert.equal(store.stats().keys, 3, "a refused call drops nothing");
  const answer = await evicted({
    evicted: [{ key: "a", version: 3, epoch: 1 }, { key: "b", version: 4, epoch: 1 }, {
      key: "c",
      version: 10,
      epoch: 1,
    }, { key: "none", version: 1, epoch: 1 }],
  });
  assert.deepEqual([answer.status, await answer.json()], [200, { dropped: 2 }]);
  assert.deepEqual(["a", "b", "c"].map((key) => store.get(key)?.value), [
    undefined,
    "v",
    undefined,
  ]);
});

Deno.test("node replaces a value and keeps it after a refused write", async () => {
  const { send } = nodeApp(8);
  await send("/keys", put("k", "first"));
  await send("/keys", put("k", "second"));
  assert.equal((await send("/keys", put("k", "far too long"))).status, 413);
  const read = await (await send("/keys/k")).json();
  assert.deepEqual(read, { key: "k", value: "second", version: "0.2" }, "the second write's");
});

Deno.test("node serves its OpenAPI document and an offline reference page", async () => {
  const { send } = nodeApp();
  const document = await (await send("/openapi.json")).json();
  assert.equal(document.openapi, "3.1.0");
  assert.ok(document.paths["/keys/{key}"].get);
  const page = await (await send("/reference")).text();
  assert.match(page, /src="\/reference\/standalone\.js"/);
  assert.doesNotMatch(page, /cdn\.jsdelivr|https:\/\//);
  const script = await send("/reference/standalone.js");
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type") ?? "", /javascript/);
  assert.ok((await script.arrayBuffer()).byteLength > 1_000_000);
});

Deno.test("node's store metrics come from one reading per scrape, fresh at the next", async () => {
  const { send, store } = nodeApp();
  let readings = 0;
  const stats = store.stats.bind(store);
  store.stats = () => {
    readings++;
    return stats();
  };
  const series = async (name: string) =>
    Number(new RegExp(`^${name} (\\d+)$`, "m").exec(await (await send("/metrics")).text())?.[1]);
  assert.equal((await send("/keys", put("a", "1"))).status, 204);
  assert.equal(await series("cache_keys"), 1);
  assert.equal(readings, 1, "seven series, one reading");
  assert.equal((await send("/keys", put("b", "2"))).status, 204);
  await send("/keys/a");
  assert.equal(await series("cache_keys"), 2);
  assert.equal(await series("cache_hits_total"), 1);
  assert.equal(readings, 3);
});

Deno.test("node holds scans with a client token to their budget, answering 429 past it", async () => {
  const store = new Store();
  for (let i = 0; i < 10; i++) store.set(`k${i}`, "v");
  const spent: number[] = [];
  const budget = {
    waitSeconds: 0,
    wait: () => budget.waitSeconds,
    spend: (ms: number) => spent.push(ms),
  };
  const app = createApp({
    store,
    maxValueBytes: 1024,
    notReady: () => undefined,
    log,
    auth: await Auth.from([["client", "client-token"], ["node", "node-token"]]),
    scanBudget: budget,
  });
  const scan = (token: string) =>
    app.request("/keys?count=5", { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await scan("client-token")).status, 200);
  assert.equal(spent.length, 1, "its time taken from the budget");
  budget.waitSeconds = 3;
  const refused = await scan("client-token");
  assert.equal(refused.status, 429);
  assert.match((await refused.json()).error, /client token have taken their share/);
  assert.equal(refused.headers.get("retry-after"), "3");
  // The master's own scans (a node token) are not held to it, nor counted.
  assert.equal((await scan("node-token")).status, 200);
  assert.equal(spent.length, 1);
});
