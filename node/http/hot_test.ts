// The node's hot path against its own app: the same answers, headers and writes.

import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { Metrics } from "@cache/service/metrics";
import { EPOCH_HEADER, LINES_TYPE } from "@cache/protocol/wire";
import { createApp } from "./app.ts";
import { toResponse } from "@cache/http1/answer";
import { Store } from "../store/store.ts";
import { Writer } from "../cluster/writer.ts";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";

const MAX_VALUE_BYTES = 1024;

/** A node's app and its hot routes over one store, with the app's calls counted. */
function node(ringEpoch: () => number | undefined = () => 7, maxValueBytes = MAX_VALUE_BYTES) {
  const clock = { now: 1_000_000 };
  const store = new Store({ now: () => clock.now });
  const metrics = new Metrics();
  const writer = new Writer(store, undefined, maxValueBytes);
  const app = createApp({
    store,
    writer,
    maxValueBytes,
    notReady: () => undefined,
    log,
    now: () => clock.now,
    metrics,
    ringEpoch,
  });
  // The requests the hot path hands to the app, while it serves.
  const fell: string[] = [];
  let serving = false;
  const appFetch = app.fetch;
  app.fetch = (request, ...rest) => {
    if (serving) fell.push(`${request.method} ${new URL(request.url).pathname}`);
    return appFetch(request, ...rest);
  };
  const fast = (request: Request) => app.hot.serve(request);
  /** The hot path's answer to `request`, which it must take. */
  const served = async (request: Request): Promise<Response> => {
    serving = true;
    try {
      const answer = fast(request);
      assert.ok(answer, `${request.method} ${request.url} is taken`);
      return toResponse(await answer);
    } finally {
      serving = false;
    }
  };
  return { clock, store, app, fast, served, fell };
}

type Node = ReturnType<typeof node>;

/** What a client sees of an answer. */
async function seen(response: Response) {
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    epoch: response.headers.get(EPOCH_HEADER),
    body: await response.json(),
  };
}

/**
 * A JSON POST of `body` as a client sends it (Deno.serve gives the fast route a declared length),
 * made fresh for each Request that reads it.
 */
function jsonPost(body: string): () => RequestInit {
  const length = String(new TextEncoder().encode(body).byteLength);
  return () => ({
    method: "POST",
    headers: { "content-type": "application/json", "content-length": length },
    body,
  });
}

/** `POST /mget` with `body`, answered by the app alone and through the hot routes. */
async function mget({ app, served }: Node, body: string) {
  const init = jsonPost(body);
  return {
    byApp: await seen(await app.request("/mget", init())),
    byFast: await seen(await served(new Request("http://127.0.0.1:8081/mget", init()))),
  };
}

Deno.test("The hot path answers POST /mget of found and missing keys as the app does", async () => {
  const n = node();
  n.store.set("a", "1");
  n.store.set("b", "two");
  const { byApp, byFast } = await mget(n, '{"keys":["a","missing","b","gone"]}');
  assert.deepEqual(byFast, byApp);
  assert.deepEqual(byFast.body, {
    // Versions from the store's clock at 1,000,000 ms, in microseconds, one write after another.
    items: [
      { key: "a", value: "1", version: "0.1000000000" },
      { key: "b", value: "two", version: "0.1000000001" },
    ],
    missing: ["missing", "gone"],
  });
  assert.equal(byFast.status, 200);
  assert.match(byFast.type ?? "", /^application\/json/);
  assert.deepEqual(n.fell, [], "answered by the hot route, not the app");
});

Deno.test("The hot path answers POST /mget of a key with a TTL with its seconds left", async () => {
  const n = node();
  n.store.set("t", "v", 1500);
  n.clock.now += 500;
  const { byApp, byFast } = await mget(n, '{"keys":["t"]}');
  assert.deepEqual(byFast, byApp);
  assert.deepEqual(byFast.body, {
    items: [{ key: "t", value: "v", ttl: 1, version: "0.1000000000" }],
    missing: [],
  });
  assert.deepEqual(n.fell, []);
});

Deno.test("POST /mget answers lines when asked, each the body GET /keys/{key} answers", async () => {
  const n = node();
  n.store.set("a", "1");
  n.store.set("t", 'say "hi"\nbye', 1500);
  n.clock.now += 500;
  const body = '{"keys":["a","missing","t"]}';
  const init = (): RequestInit => ({
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(body.length),
      accept: `${LINES_TYPE}, application/json`,
    },
    body,
  });
  const byApp = await n.app.request("/mget", init());
  const byFast = await n.served(new Request("http://127.0.0.1:8081/mget", init()));
  const lines = await byFast.text();
  assert.equal(await byApp.text(), lines);
  assert.equal(byFast.headers.get("content-type"), LINES_TYPE);
  assert.equal(byApp.headers.get("content-type"), LINES_TYPE);
  const single = async (key: string) =>
    await (await n.served(new Request(`http://127.0.0.1:8081/keys/${key}`))).text();
  assert.equal(lines, `${await single("a")}\nnull\n${await single("t")}\n`);
  assert.deepEqual(JSON.parse(lines.split("\n")[2]), {
    key: "t",
    value: 'say "hi"\nbye',
    ttl: 1,
    version: "0.1000000001",
  });
  assert.deepEqual(n.fell, []);
});

Deno.test("The hot path leaves an invalid POST /mget body to the app and its 400", async () => {
  const n = node();
  const bodies = ['{"keys":[]}', "not json", '{"keys":["a"],"extra":1}', '{"keys":"a"}'];
  for (const body of bodies) {
    const { byApp, byFast } = await mget(n, body);
    assert.deepEqual(byFast, byApp, body);
    assert.equal(byFast.status, 400, body);
    assert.equal(typeof byFast.body.error, "string", body);
  }
  assert.deepEqual(n.fell, bodies.map(() => "POST /mget"));
});

Deno.test("The hot path sends the ring epoch with its answers when the node knows one", async () => {
  let epoch: number | undefined = 12;
  const n = node(() => epoch);
  n.store.set("a", "1");
  const read = () => n.served(new Request("http://127.0.0.1:8081/keys/a"));
  assert.equal((await mget(n, '{"keys":["a"]}')).byFast.epoch, "12");
  assert.equal((await read()).headers.get(EPOCH_HEADER), "12");
  epoch = 13;
  assert.equal((await mget(n, '{"keys":[]}')).byFast.epoch, "13", "on the app's answer too");
  epoch = undefined;
  const { byApp, byFast } = await mget(n, '{"keys":["a"]}');
  assert.equal(byFast.epoch, null);
  assert.deepEqual(byFast, byApp);
  assert.equal((await read()).headers.get(EPOCH_HEADER), null);
});

Deno.test("A node's answers carry its clock once it knows a ring, for its writers' deadlines", async () => {
  let epoch: number | undefined = 12;
  const n = node(() => epoch);
  n.store.set("a", "1");
  const read = () => n.served(new Request("http://127.0.0.1:8081/keys/a"));
  assert.equal((await read()).headers.get(NODE_TIME_HEADER), "1000000");
  n.clock.now += 5;
  assert.equal((await read()).headers.get(NODE_TIME_HEADER), "1000005");
  const byApp = await n.app.request("/stats");
  assert.equal(byApp.headers.get(NODE_TIME_HEADER), "1000005", "the app's answers too");
  epoch = undefined; // no ring: no writer gives it a deadline
  assert.equal((await read()).headers.get(NODE_TIME_HEADER), null);
});

Deno.test("The hot path serves GET /keys/{key} as the app does, and no other GET", async () => {
  const n = node();
  n.store.set("user:42", "Ada");
  for (const key of ["user:42", "missing"]) {
    const byApp = await seen(await n.app.request(`/keys/${key}`));
    const byFast = await seen(await n.served(new Request(`http://127.0.0.1:8081/keys/${key}`)));
    assert.deepEqual(byFast, byApp, key);
  }
  assert.deepEqual(n.fell, []);
  const read = await n.served(new Request("http://127.0.0.1:8081/keys/user:42"));
  assert.deepEqual(await read.json(), { key: "user:42", value: "Ada", version: "0.1000000000" });
  assert.equal(n.fast(new Request("http://127.0.0.1:8081/stats")), undefined);
});

Deno.test("The hot path writes as the app does: POST /keys, /mset and /replicate", async () => {
  const byApp = node();
  const byFast = node();
  const big = "x".repeat(MAX_VALUE_BYTES + 1);
  const cases: [string, unknown][] = [
    ["/keys", { key: "a", value: "1" }],
    ["/keys", { key: "t", value: "2", ttl: 60 }],
    ["/keys", { key: "big", value: big }], // 413, nothing written
    // Read from the body's bytes, or by the JSON parser for an escape: the same either way.
    ["/keys", { key: "ключ", value: "é😀", ttl: 0.5 }],
    ["/keys", { key: "esc", value: 'a"b\\c\n\u0001' }],
    ["/mset", { items: [{ key: "b", value: "3" }, { key: "c", value: "4" }] }],
    ["/mset", { items: [{ key: "d", value: "5" }, { key: "e", value: big }] }], // 413: none
    ["/replicate", { entries: [{ key: "r", version: 5, value: "6" }] }],
    ["/keys", { key: "a" }], // no value: the app's 400 through the hot route too
    // Nested past the app's limit in a field the schema drops: still the app's 400.
    ["/keys", { key: "deep", value: "1", x: JSON.parse("[".repeat(20) + "]".repeat(20)) }],
  ];
  for (const [path, body] of cases) {
    const text = JSON.stringify(body);
    const init = jsonPost(text);
    const app = await byApp.app.request(path, init());
    const fast = await byFast.served(new Request(`http://127.0.0.1:8081${path}`, init()));
    assert.equal(fast.status, app.status, `${path} ${text.slice(0, 60)}`);
    assert.equal(await fast.text(), await app.text(), `${path} ${text.slice(0, 60)}`);
    assert.equal(fast.headers.get(EPOCH_HEADER), "7", `${path} ${text.slice(0, 60)}`);
    assert.equal(app.headers.get(EPOCH_HEADER), "7", `the app's own ${path} answer`);
  }
  for (const key of ["a", "t", "big", "ключ", "esc", "b", "c", "d", "e", "r", "deep"]) {
    assert.deepEqual(byFast.store.get(key), byApp.store.get(key), key);
  }
  assert.equal(byFast.store.get("t")?.ttlMs, 60_000);
  assert.equal(byFast.store.get("ключ")?.value, "é😀");
  assert.equal(byFast.store.get("esc")?.value, 'a"b\\c\n\u0001');
  assert.deepEqual(byFast.fell, ["POST /keys", "POST /keys"], "only the invalid bodies went on");
  assert.equal(byFast.store.get("deep"), undefined);
});

Deno.test("The hot path stores large plain values from the body's bytes, as the app stores them", async () => {
  const byApp = node(undefined, 1 << 20);
  const byFast = node(undefined, 1 << 20);
  const plain = "é0123456789abcdef".repeat(2000); // past the bytes reader's 16 KiB
  const cases = [
    { key: "plain", value: plain, ttl: 60 },
    { key: "escaped", value: plain + '"\n' }, // left to JSON.parse
    { key: "big", value: "x".repeat((1 << 20) + 1) }, // 413 either way
  ];
  for (const body of cases) {
    const init = jsonPost(JSON.stringify(body));
    const app = await byApp.app.request("/keys", init());
    const fast = await byFast.served(new Request("http://127.0.0.1:8081/keys", init()));
    assert.equal(fast.status, app.status, body.key);
    assert.equal(await fast.text(), await app.text(), body.key);
    assert.deepEqual(byFast.store.get(body.key), byApp.store.get(body.key), body.key);
  }
  assert.equal(byFast.store.get("plain")?.value, plain);
  assert.equal(byFast.store.get("big"), undefined);
  const init = jsonPost(JSON.stringify({
    items: [{ key: "m1", value: plain }, { key: "m2", value: plain.slice(1), ttl: 5 }],
  }));
  const app = await byApp.app.request("/mset", init());
  const fast = await byFast.served(new Request("http://127.0.0.1:8081/mset", init()));
  assert.equal(fast.status, app.status);
  for (const key of ["m1", "m2"]) {
    assert.deepEqual(byFast.store.get(key), byApp.store.get(key), key);
  }
  assert.equal(byFast.store.get("m2")?.value, plain.slice(1));
});

Deno.test("POST /replicate answers the keys it holds a newer state of than their copies", async () => {
  const n = node();
  const replicate = async (entries: unknown[]) => {
    const init = jsonPost(JSON.stringify({ entries }));
    return await (await n.served(new Request("http://127.0.0.1:8081/replicate", init()))).json();
  };
  assert.deepEqual(await replicate([{ key: "r", version: 5, epoch: 7, value: "new" }]), {
    applied: 1,
  });
  const older = [
    { key: "r", version: 3, epoch: 7, value: "old" },
    { key: "s", version: 3, epoch: 7, value: "s" },
    { key: "r", version: 5, epoch: 7, value: "new" }, // the same copy again: not newer
  ];
  assert.deepEqual(await replicate(older), {
    applied: 1,
    newer: [{ key: "r", version: 5, epoch: 7 }],
  });
  assert.equal(n.store.get("r")?.value, "new");
});

Deno.test("POST /replicate tells the node's strays its keys and sender's ring; a bad ring is 400", async () => {
  const store = new Store({ now: () => 1_000_000 });
  const told: { keys: string[]; from: unknown }[] = [];
  const app = createApp({
    store,
    maxValueBytes: MAX_VALUE_BYTES,
    notReady: () => undefined,
    log,
    replicated: (entries, from) => {
      told.push({ keys: [...entries].map(({ key }) => key), from });
    },
  });
  const post = (ring: string | undefined, key: string, byApp: boolean) => {
    const body = JSON.stringify({ entries: [{ key, version: 5, value: "v" }] });
    const headers = {
      "content-type": "application/json",
      "content-length": String(body.length),
      ...(ring ? { "x-sender-ring": ring } : {}),
    };
    const request = new Request("http://127.0.0.1:8081/replicate", {
      method: "POST",
      headers,
      body,
    });
    if (byApp) return app.request(request);
    const answer = app.hot.serve(request);
    assert.ok(answer, "taken by the hot path");
    return Promise.resolve(answer).then(toResponse);
  };
  for (const byApp of [false, true]) {
    const bad = await post("2/x", `bad${byApp}`, byApp);
    assert.equal(bad.status, 400, `by the app: ${byApp}`);
    assert.match((await bad.json()).error, /x-sender-ring/);
    assert.equal(store.get(`bad${byApp}`), undefined, "nothing applied");
    assert.equal((await post("2/7", `good${byApp}`, byApp)).status, 200);
    assert.equal((await post(undefined, `bare${byApp}`, byApp)).status, 200);
  }
  assert.deepEqual(told, [
    { keys: ["goodfalse"], from: { term: 2, epoch: 7 } },
    { keys: ["goodtrue"], from: { term: 2, epoch: 7 } },
  ]);
});

Deno.test("POST /replicate is refused with 503, nothing applied, once the node refuses copies", async () => {
  const store = new Store({ now: () => 1_000_000 });
  const app = createApp({
    store,
    maxValueBytes: MAX_VALUE_BYTES,
    notReady: () => undefined,
    log,
    refusesCopies: () => "Node x has handed its keys over and is shutting down",
  });
  const body = JSON.stringify({ entries: [{ key: "r", version: 5, value: "v" }] });
  const init = () => ({
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(body.length) },
    body,
  });
  const fast = app.hot.serve(new Request("http://127.0.0.1:8081/replicate", init()));
  assert.ok(fast, "taken by the hot path");
  for (const answer of [toResponse(await fast), await app.request("/replicate", init())]) {
    assert.equal(answer.status, 503);
    assert.match((await answer.json()).error, /handed its keys over/);
  }
  assert.equal(store.get("r"), undefined);
});
