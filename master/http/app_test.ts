import assert from "node:assert/strict";
import { refusals } from "../../tests/support/bad_input.ts";
import { inProcessCluster } from "../../tests/support/in_process.ts";
import { giveReadBudget } from "@cache/http1/unread_budget";

const put = (key: string, value: string): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ key, value }),
});

Deno.test("master stores each key on its ring owner and reads it back", async () => {
  const { master, registry, stores } = inProcessCluster(3);
  for (let i = 0; i < 60; i++) {
    assert.equal((await master.request("/keys", put(`key/${i}`, `v${i}`))).status, 204);
  }
  for (let i = 0; i < 60; i++) {
    const key = `key/${i}`;
    const read = await master.request(`/keys/${encodeURIComponent(key)}`);
    const owner = registry.ring.owner(key)!;
    // The owner's version, passed on.
    const version = stores.get(owner)!.peek(key)?.version;
    assert.match(version ?? "", /^0\.\d+$/);
    assert.deepEqual(await read.json(), { key, value: `v${i}`, version });
    for (const [address, store] of stores) {
      assert.equal(
        store.get(key)?.value,
        address === owner ? `v${i}` : undefined,
        `${key} on ${address}`,
      );
    }
  }
  for (const store of stores.values()) assert.ok(store.stats().keys > 0, "every node holds keys");
});

Deno.test("master forwards a write's ttl and the owner's time left", async () => {
  const { master, clock } = inProcessCluster(2);
  const write = { key: "k", value: "v", ttl: 2 };
  await master.request("/keys", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(write),
  });
  clock.now += 500;
  assert.deepEqual(await (await master.request("/keys/k")).json(), {
    key: "k",
    value: "v",
    ttl: 1.5,
    version: "0.1", // the owner's first write, its clock at 0
  });
  clock.now += 1500;
  assert.equal((await master.request("/keys/k")).status, 404);
});

Deno.test("master passes a write's x-version-above on: the owner's version is above it", async () => {
  const { master } = inProcessCluster(2);
  const write = put("k", "v");
  const above = { ...write, headers: { ...write.headers, "x-version-above": "5000" } };
  assert.equal((await master.request("/keys", above)).status, 204);
  assert.equal((await (await master.request("/keys/k")).json()).version, "0.5001");
});

Deno.test("master relays a node's 404 and deletes through the owner", async () => {
  const { master } = inProcessCluster(2);
  await master.request("/keys", put("k", "v"));
  assert.equal((await master.request("/keys/k", { method: "DELETE" })).status, 204);
  const gone = await master.request("/keys/k");
  assert.equal(gone.status, 404);
  assert.deepEqual(await gone.json(), { error: 'Key "k" not found' });
  assert.equal((await master.request("/keys/k", { method: "DELETE" })).status, 404);
});

Deno.test("master refuses every bad input and writes nothing, a failed condition too", async () => {
  const { master, stores } = inProcessCluster(2, 512);
  const send = async (path: string, init?: RequestInit) => await master.request(path, init);
  assert.deepEqual(await refusals(send, 512), []);
  const held = [...stores.values()].flatMap((store) => store.keys());
  assert.deepEqual(held, ["kept"], "only the key stored before the refusals");
});

Deno.test("master refuses a node's flush query or a chunked body, and empties nothing", async () => {
  // A prefix and a body with its length are in the shared bad-input list.
  const { master, stores } = inProcessCluster(2);
  await master.request("/keys", put("user:1", "a"));
  await master.request("/keys", put("other", "b"));
  const flushes: [string, RequestInit, RegExp][] = [
    ["/keys?through=5", { method: "DELETE" }, /takes no through/], // a node's, not the cluster's
    ["/keys", { method: "DELETE", body: "x", headers: { "transfer-encoding": "chunked" } }, /body/],
  ];
  for (const [path, init, error] of flushes) {
    const refused = await master.request(path, init);
    assert.equal(refused.status, 400, path);
    assert.match((await refused.json()).error, error);
  }
  const held = [...stores.values()].reduce((sum, store) => sum + store.stats().keys, 0);
  assert.equal(held, 2, "a refused flush empties nothing");
  assert.equal((await master.request("/keys", { method: "DELETE" })).status, 204);
});

Deno.test("master answers 503 with no node up, and 502 when the owner is gone", async () => {
  const empty = inProcessCluster(0);
  const none = await empty.master.request("/keys/k");
  assert.equal(none.status, 503);
  assert.deepEqual(await none.json(), { error: "No node is up to own the key" });
  assert.equal((await empty.master.request("/ready")).status, 503);
  const json = { "content-type": "application/json" };
  const many: [string, RequestInit, string][] = [
    ["/mget", { method: "POST", headers: json, body: '{"keys":["a","b"]}' }, "the keys"],
    ["/keys", { method: "DELETE" }, "any key"],
    ["/keys?prefix=a", {}, "any key"],
  ];
  for (const [path, init, what] of many) {
    const refused = await empty.master.request(path, init);
    assert.deepEqual([refused.status, await refused.json()], [503, {
      error: `No node is up to own ${what}`,
    }]);
  }

  const { master, registry, settle } = inProcessCluster(1);
  registry.heartbeat("http://vanished:8081"); // registered, but nothing answers there
  settle();
  const key = [...Array(100).keys()].map((i) => `k${i}`)
    .find((k) => registry.ring.owner(k) === "http://vanished:8081")!;
  const lost = await master.request(`/keys/${key}`);
  assert.equal(lost.status, 502);
  assert.match((await lost.json()).error, /http:\/\/vanished:8081 is unreachable/);
});

Deno.test("a master learning the last ring answers its listings 503, not an empty cluster", async () => {
  const { master } = inProcessCluster(0, 1024, { recoveryMs: 3000 });
  for (const path of ["/nodes", "/stats", "/dashboard/state", "/ring", "/keys/k"]) {
    const answer = await master.request(path);
    assert.equal(answer.status, 503, path);
    assert.match((await answer.json()).error, /learning the last ring/, path);
  }
});

Deno.test("master registers with 201, heartbeats with 200 and answers the ring", async () => {
  const { master } = inProcessCluster(0);
  const register = () =>
    master.request("/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address: "http://10.1.2.3:8081/" }),
    });
  const first = await register();
  assert.equal(first.status, 201);
  const ring = {
    term: 0,
    epoch: 1,
    replicas: 1,
    nodes: ["http://10.1.2.3:8081"],
    joined: { "http://10.1.2.3:8081": 1 },
    settled: false,
    movingRings: 1,
    outside: {},
    downWhileLeaving: {},
    version: 1,
  };
  assert.deepEqual(await first.json(), ring);
  assert.equal((await register()).status, 200);
  assert.deepEqual(await (await master.request("/ring")).json(), ring);
  const list = await (await master.request("/nodes")).json();
  assert.equal(list.nodes[0].status, "up");
  assert.equal((await master.request("/ready")).status, 200);
});

Deno.test("GET /ring answers a long poll at once when only the list of nodes changed", async () => {
  const { master, registry } = inProcessCluster(2);
  registry.heartbeat("http://node-1:8081", { leaving: true });
  const seen = await (await master.request("/ring")).json();
  assert.deepEqual(seen.outside, { "http://node-1:8081": "leaving" });
  registry.deregister("http://node-1:8081"); // between two polls: the ring stays the same
  const query = `term=${seen.term}&epoch=${seen.epoch}&settled=${seen.settled}` +
    `&version=${seen.version}&waitMs=20000`;
  const polled = (async () => await (await master.request(`/ring?${query}`)).json())();
  const timer = Promise.withResolvers<void>();
  const id = setTimeout(timer.resolve, 2000);
  const answer = await Promise.race([polled, timer.promise]);
  clearTimeout(id);
  assert.ok(answer, "answered before its wait");
  assert.deepEqual(answer.outside, {});
  assert.equal(answer.epoch, seen.epoch);
});

Deno.test("master names the rings keys move from to a registration that asks, as a follower's", async () => {
  // A follower forwards a node's registration and takes the ring answered: without them, it fell
  // back on the rings it saw, and missed one that came between two of its long polls.
  const { master } = inProcessCluster(2);
  const register = (query: string) =>
    master.request(`/register${query}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address: "http://10.1.2.3:8081" }),
    });
  const asked = await (await register("?movingFrom=true")).json();
  assert.equal(asked.settled, false, "the new node has keys to take");
  assert.ok(asked.movingFrom.length > 0, JSON.stringify(asked));
  assert.equal((await (await register("")).json()).movingFrom, undefined, "a node's beat");
});

Deno.test("master registers a node whose heartbeat has fields it does not know", async () => {
  const { master } = inProcessCluster(0);
  const beat = await master.request("/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ address: "http://10.1.2.3:8081", synced: 0, fromLaterBuild: 1 }),
  });
  assert.equal(beat.status, 201, "a node of a later build joins");
  const typo = await master.request("/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ address: "http://10.1.2.3:8082", synced: "0" }),
  });
  assert.equal(typo.status, 400, "a known field of the wrong type is still refused");
});

Deno.test("master learns a node's clock from its heartbeats, for the deadlines of its writes", async () => {
  const { master, router, clock } = inProcessCluster(0);
  clock.now = 1_000_000;
  const address = "http://10.1.2.3:8081";
  assert.equal(router.clocks.nowOn(address), 1_000_000);
  const beat = await master.request("/register", {
    method: "POST",
    headers: { "content-type": "application/json", "x-node-time": "1020000" },
    body: JSON.stringify({ address }),
  });
  assert.equal(beat.status, 201);
  assert.equal(router.clocks.nowOn(address), 1_020_000, "20 s ahead of the master");
});

Deno.test("master refuses a bad address and deregisters a URL-encoded one", async () => {
  const { master } = inProcessCluster(1);
  const bad = await master.request("/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ address: "node-0:8081" }),
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /address: Address must be an http\(s\) URL/);
  const noCaller = await master.request("/register", { method: "POST" });
  assert.equal(noCaller.status, 400);
  assert.match((await noCaller.json()).error, /caller's IP is unknown/);

  const address = encodeURIComponent("http://node-0:8081");
  assert.equal((await master.request(`/register/${address}`, { method: "DELETE" })).status, 204);
  const again = await master.request(`/register/${address}`, { method: "DELETE" });
  assert.equal(again.status, 404);
  assert.deepEqual(await again.json(), { error: "Node http://node-0:8081 is not registered" });
  assert.deepEqual(await (await master.request("/nodes")).json(), { epoch: 2, nodes: [] });
});

const postJson = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

Deno.test("master splits a batch by owner: one request per node, in parallel", async () => {
  // Each node's /mset is held until all three have arrived: sent one after another, they would
  // never all arrive, and the batch would fail.
  let arrived = 0;
  let all = () => {};
  const together = new Promise<void>((resolve) => all = resolve);
  const { master, registry, stores, calls } = inProcessCluster(3, 1024, {
    beforeCall: async (url) => {
      if (url.pathname !== "/mset") return;
      if (++arrived === 3) all();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TypeError("calls were not sent in parallel")), 500);
      });
      try {
        await Promise.race([together, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  });
  const items = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
  assert.equal((await master.request("/mset", postJson({ items }))).status, 204);
  assert.deepEqual(calls.sort(), [...stores.keys()].map((a) => `POST ${a}/mset`).sort());
  for (const { key, value } of items) {
    assert.equal(stores.get(registry.ring.owner(key)!)!.get(key)?.value, value);
  }

  calls.length = 0;
  const keys = ["k3", "nope", "k1", "k3", "k40"];
  const found = await (await master.request("/mget", postJson({ keys }))).json();
  const item = (key: string) => {
    const version = stores.get(registry.ring.owner(key)!)!.peek(key)?.version;
    assert.match(version ?? "", /^0\.\d+$/, key);
    return { key, value: `v${key.slice(1)}`, version };
  };
  assert.deepEqual(found, {
    items: [item("k3"), item("k1"), item("k3"), item("k40")],
    missing: ["nope"],
  });
  const owners = new Set(keys.map((key) => registry.ring.owner(key)));
  assert.equal(calls.length, owners.size, "one call per owning node");
});

Deno.test("master mget refuses 413 an answer past 16 MiB of values, repeats counted", async () => {
  const { master } = inProcessCluster(3, 1024 * 1024);
  const value = "x".repeat(1024 * 1024);
  assert.equal((await master.request("/keys", postJson({ key: "big", value }))).status, 204);
  const sixteen = await master.request("/mget", postJson({ keys: Array(16).fill("big") }));
  assert.equal((await sixteen.json()).items.length, 16);
  // Counted to the character: a 100-character value more is over.
  const small = { key: "small", value: "y".repeat(100), ttl: 60 };
  assert.equal((await master.request("/keys", postJson(small))).status, 204);
  const keys = [...Array(16).fill("big"), "small"];
  assert.equal((await master.request("/mget", postJson({ keys }))).status, 413);
  const over = await master.request("/mget", postJson({ keys: Array(1000).fill("big") }));
  assert.equal(over.status, 413);
  assert.match((await over.json()).error, /over 16777216 characters.*fewer keys/);
});

Deno.test("master mget counts values as JSON writes them: escapes and all", async () => {
  const { master } = inProcessCluster(3, 1024 * 1024);
  const value = '"'.repeat(1024 * 1024); // each one \" in JSON
  assert.equal((await master.request("/keys", postJson({ key: "quotes", value }))).status, 204);
  const eight = await master.request("/mget", postJson({ keys: Array(8).fill("quotes") }));
  assert.equal((await eight.json()).items.length, 8);
  const nine = await master.request("/mget", postJson({ keys: Array(9).fill("quotes") }));
  assert.equal(nine.status, 413);
});

Deno.test("master mget counts a value's characters as JSON writes them, not its UTF-8 bytes", async () => {
  // Passed on as the node's bytes, a value of 2-byte characters counts half its bytes.
  const { master } = inProcessCluster(3, 1024 * 1024);
  const value = "é".repeat(512 * 1024);
  assert.equal((await master.request("/keys", postJson({ key: "accents", value }))).status, 204);
  const all = await master.request("/mget", postJson({ keys: Array(32).fill("accents") }));
  const found = await all.json();
  assert.equal(found.items.length, 32);
  assert.ok(found.items.every((item: { value: string }) => item.value === value));
  const over = await master.request("/mget", postJson({ keys: Array(33).fill("accents") }));
  assert.equal(over.status, 413);
});

Deno.test("master mget asks the unread-answers budget right before it makes its answer", async () => {
  // 40 mgets let in together waited on their nodes together, and each answer was made.
  const { master } = inProcessCluster(2);
  assert.equal((await master.request("/keys", postJson({ key: "k", value: "v" }))).status, 204);
  const made: number[] = [];
  let full: string | undefined = undefined;
  const mget = () => {
    const request = new Request("http://master/mget", postJson({ keys: ["k", "nope"] }));
    giveReadBudget(request, { full: () => full, made: (bytes) => made.push(bytes) });
    return master.request(request);
  };
  const answer = await mget();
  assert.equal(answer.status, 200);
  assert.deepEqual(made, [(await answer.text()).length], "counted as it was made");
  full = "40 MB of answers wait for clients to read them: try again";
  const refused = await mget();
  assert.equal(refused.status, 503);
  assert.deepEqual(await refused.json(), { error: full });
  assert.equal(made.length, 1, "none made");
});

Deno.test("master mget finds keys still where they were while keys move", async () => {
  const { master, registry, stores } = inProcessCluster(2);
  const keys = Array.from({ length: 40 }, (_, i) => `m${i}`);
  const items = keys.map((key) => ({ key, value: `v-${key}` }));
  assert.equal((await master.request("/mset", postJson({ items }))).status, 204);
  const leaving = "http://node-1:8081";
  const stranded = keys.filter((key) => stores.get(leaving)!.get(key) !== undefined);
  assert.ok(stranded.length > 0);
  // Each key's version where it was written: read where it still is, it is the same.
  const versions = keys.map((key) =>
    [...stores.values()].map((store) => store.peek(key)?.version).find((v) => v !== undefined)
  );
  registry.deregister(leaving); // its keys have not reached node-0 yet: the ring is unsettled
  const found = await (await master.request("/mget", postJson({ keys }))).json();
  assert.deepEqual(found.missing, []);
  assert.deepEqual(
    found.items,
    items.map((item, i) => ({ ...item, version: versions[i] })),
  );
});

Deno.test("master mget reads a failed owner's keys from their backups", async () => {
  const down = "http://node-1:8081";
  const beforeCall = (url: URL) =>
    url.origin === down ? Promise.reject(new TypeError("Connection refused")) : Promise.resolve();
  const { master, registry, stores } = inProcessCluster(3, 1024, { replicas: 2, beforeCall });
  const keys = Array.from({ length: 30 }, (_, i) => `b${i}`);
  // Written on each key's primary and copied to its backup, as a node's writer does: both hold
  // the primary's version.
  const versions = new Map<string, string>();
  for (const key of keys) {
    const [primary, backup] = registry.ring.owners(key, 2).map((owner) => stores.get(owner)!);
    primary.set(key, `v-${key}`);
    assert.equal(backup.apply(primary.replica(key)!), true);
    versions.set(key, primary.peek(key)!.version);
  }
  const absent = Array.from({ length: 50 }, (_, i) => `absent${i}`)
    .find((key) => registry.ring.owner(key) === down)!;
  assert.ok(keys.some((key) => registry.ring.owner(key) === down));

  const found = await (await master.request("/mget", postJson({ keys: [...keys, absent] }))).json();
  assert.deepEqual(found, {
    items: keys.map((key) => ({ key, value: `v-${key}`, version: versions.get(key) })),
    missing: [absent],
  });

  const alone = inProcessCluster(3, 1024, { beforeCall }); // one copy: nothing makes up for it
  const failed = await alone.master.request("/mget", postJson({ keys }));
  assert.equal(failed.status, 502);
  assert.match((await failed.json()).error, /node-1:8081 is unreachable/);
});

Deno.test("master mset says how much was stored when a node fails", async () => {
  const { master, registry } = inProcessCluster(2);
  registry.heartbeat("http://vanished:8081");
  const items = Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: "v" }));
  const answer = await master.request("/mset", postJson({ items }));
  assert.equal(answer.status, 502);
  const stored = items.filter((item) => registry.ring.owner(item.key) !== "http://vanished:8081");
  assert.match((await answer.json()).error, new RegExp(`vanished.*; ${stored.length} of 60 items`));
});

Deno.test("master stats sum the up nodes and list each", async () => {
  const { master, clock } = inProcessCluster(3);
  for (let i = 0; i < 30; i++) await master.request("/keys", put(`k${i}`, "v"));
  for (let i = 0; i < 10; i++) await master.request(`/keys/k${i}`);
  await master.request("/keys/missing");
  clock.now += 4000;
  const stats = await (await master.request("/stats")).json();
  assert.equal(stats.keys, 30);
  assert.equal(stats.hits, 10);
  assert.equal(stats.misses, 1);
  assert.equal(stats.uptimeSeconds, 4);
  assert.equal(stats.nodes.length, 3);
  assert.equal(stats.nodes.reduce((sum: number, n: { keys: number }) => sum + n.keys, 0), 30);
  assert.equal(
    stats.bytes,
    stats.nodes.reduce((sum: number, n: { bytes: number }) => sum + n.bytes, 0),
  );
});
