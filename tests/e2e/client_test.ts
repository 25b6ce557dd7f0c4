// The TypeScript client in both modes against real processes, through ring changes.

import assert from "node:assert/strict";
import { CacheClient, CacheError } from "@cache/client";
import { Ring } from "@cache/ring/ring";
import {
  freePort,
  nodesOf,
  Processes,
  ringSettled,
  settledCluster,
  waitFor,
  writeCalls,
} from "../support/process.ts";

for (const mode of ["direct", "proxy"] as const) {
  Deno.test(`client (${mode}) sets, gets, deletes and batches`, async () => {
    const processes = new Processes();
    const { master } = await settledCluster(processes, 3, ["--failure-timeout-ms", "600"]);
    const cache = await CacheClient.connect(master.url, { mode });
    try {
      await cache.set("user/1 ✓", "Ada");
      assert.equal(await cache.get("user/1 ✓"), "Ada");
      assert.equal(await cache.get("nobody"), undefined);
      assert.equal(await cache.delete("user/1 ✓"), true);
      assert.equal(await cache.delete("user/1 ✓"), false);

      const items = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
      await cache.mset([...items, { key: "short", value: "s", ttlSeconds: 0.2 }]);
      const keys = ["k3", "missing", "k49", "short"];
      assert.deepEqual(await cache.mget(keys), ["v3", undefined, "v49", "s"]);
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(await cache.get("short"), undefined);

      await assert.rejects(
        cache.set("", "v"),
        (e: unknown) =>
          e instanceof CacheError && e.status === 400 && /Key must not be empty/.test(e.message),
      );
      // One bad item fails the whole call, and no node stores its share (as through the master).
      const some = Array.from({ length: 20 }, (_, i) => ({ key: `bad:${i}`, value: "v" }));
      await assert.rejects(
        cache.mset([...some, { key: "bad:ttl", value: "v", ttlSeconds: -1 }]),
        (e: unknown) =>
          e instanceof CacheError && e.status === 400 && /^items\.20\.ttl/.test(e.message),
      );
      assert.deepEqual(await cache.mget(some.map((item) => item.key)), some.map(() => undefined));
      const aborted = AbortSignal.abort(new Error("cancelled"));
      await assert.rejects(cache.get("k3", { signal: aborted }), /cancelled/);
    } finally {
      cache.close();
      await processes.stopAll();
    }
  });
}

for (const mode of ["direct", "proxy"] as const) {
  Deno.test(`client (${mode}) mset and mget of more keys than one batch may hold`, async () => {
    const processes = new Processes();
    const { master } = await settledCluster(processes, 2);
    const cache = await CacheClient.connect(master.url, { mode });
    try {
      // 2,500 keys: every node owns more than the 1,000 one /mset or /mget may carry.
      const items = Array.from({ length: 2500 }, (_, i) => ({ key: `many:${i}`, value: `v${i}` }));
      await cache.mset(items);
      const keys = [...items.map((item) => item.key), "many:absent"];
      const values = await cache.mget(keys);
      assert.deepEqual(values, [...items.map((item) => item.value), undefined]);
    } finally {
      cache.close();
      await processes.stopAll();
    }
  });
}

Deno.test("client (direct) goes straight to the owners: one hop, none through the master", async () => {
  const processes = new Processes();
  const { master } = await settledCluster(processes, 3, ["--failure-timeout-ms", "600"]);
  const calls: string[] = [];
  const cache = await CacheClient.connect(master.url, {
    fetch: (input, init) => {
      calls.push(new URL(input).origin);
      return fetch(input, init);
    },
  });
  try {
    calls.length = 0;
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, "v");
    assert.equal(calls.length, 40, "each write to its 2 owners at once");
    for (let i = 0; i < 20; i++) assert.equal(await cache.get(`k${i}`), "v");
    assert.equal(calls.length, 60, "each read to its primary");
    assert.ok(!calls.includes(master.url), "no call went through the master");
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client (direct) gathers concurrent reads of a node into /mget, each with its own answer", async () => {
  const processes = new Processes();
  const { master } = await settledCluster(processes, 3);
  const calls: string[] = [];
  const cache = await CacheClient.connect(master.url, {
    fetch: (input, init) => {
      const url = new URL(input);
      if (url.origin !== master.url) calls.push(`${init.method ?? "GET"} ${url.pathname}`);
      else if (url.pathname !== "/ring") calls.push(`master ${url.pathname}`);
      return fetch(input, init);
    },
  });
  try {
    const stored = Array.from({ length: 100 }, (_, i) => ({ key: `gather:${i}`, value: `v${i}` }));
    await cache.mset(stored);
    const keys = [...stored.map((item) => item.key), ...["x", "y", "z"].map((k) => `absent:${k}`)];
    calls.length = 0;
    const values = await Promise.all(keys.map((key) => cache.get(key)));
    assert.deepEqual(values, [
      ...stored.map((item) => item.value),
      undefined,
      undefined,
      undefined,
    ]);
    assert.ok(calls.includes("POST /mget"), "reads went together");
    assert.ok(calls.length <= 12, `${calls.length} calls for ${keys.length} reads`);
    assert.ok(
      calls.every((call) => call === "POST /mget" || call.startsWith("GET /keys/")),
      `only reads of nodes, none through the master: ${calls}`,
    );
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client (direct) gathers concurrent writes of a primary into /mset at R=1, each stored", async () => {
  const processes = new Processes();
  const { master, nodes } = await settledCluster(processes, 3, ["--replicas", "1"]);
  const cache = await CacheClient.connect(master.url);
  try {
    const before = await writeCalls(nodes.map((node) => node.url));
    const items = Array.from({ length: 200 }, (_, i) => ({ key: `write:${i}`, value: `v${i}` }));
    await Promise.all(items.map((item) => cache.set(item.key, item.value)));
    const after = await writeCalls(nodes.map((node) => node.url));
    const made = after.keys + after.msets - before.keys - before.msets;
    assert.ok(after.msets > before.msets, "writes went together");
    assert.ok(made < items.length, `${made} write calls for ${items.length} writes`);
    const proxied = await CacheClient.connect(master.url, { mode: "proxy" });
    try {
      const values = await proxied.mget(items.map((item) => item.key));
      assert.deepEqual(values, items.map((item) => item.value), "every write read back");
    } finally {
      proxied.close();
    }
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client (direct) writes each key to all its owners at once, with one version", async () => {
  const processes = new Processes();
  const { master, nodes } = await settledCluster(processes, 3);
  const cache = await CacheClient.connect(master.url);
  try {
    const before = await writeCalls(nodes.map((node) => node.url));
    const items = Array.from({ length: 200 }, (_, i) => ({ key: `write:${i}`, value: `v${i}` }));
    await Promise.all(items.map((item) => cache.set(item.key, item.value)));
    const after = await writeCalls(nodes.map((node) => node.url));
    const chained = (calls: typeof before) => calls.keys + calls.msets + calls.replicates;
    assert.equal(chained(after), chained(before), "nothing through a primary to its backups");
    const made = after.stamped - before.stamped;
    assert.ok(made > 0 && made < items.length, `${made} /stamped calls for ${items.length} writes`);
    for (const { key, value } of items) {
      const states = await Promise.all(nodes.map(async (node) => {
        const answer = await fetch(`${node.url}/replica/${encodeURIComponent(key)}`);
        return answer.status === 200 ? await answer.json() : (await answer.body?.cancel(), null);
      }));
      const held = states.filter((state) => state !== null);
      assert.equal(held.length, 2, `${key} on both owners`);
      assert.deepEqual(held[0], held[1], `${key}: one state on both`);
      assert.equal(held[0].value, value);
    }
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client (direct) writes again through the primary when its primary holds a newer version", async () => {
  const processes = new Processes();
  const { master } = await settledCluster(processes, 3);
  const cache = await CacheClient.connect(master.url);
  try {
    const { epoch, owners } = await (await fetch(`${master.url}/ring/owners/ahead`)).json();
    // The primary holds a version 5 s ahead of this client's clock: the client's is older.
    const ahead = (Date.now() + 5000) * 1000;
    const entries = [{ key: "ahead", value: "from the future", version: ahead, epoch }];
    const copied = await fetch(`${owners[0]}/replicate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ entries }),
    });
    assert.equal(copied.status, 200, await copied.text());
    await cache.set("ahead", "now");
    const states = await Promise.all(
      owners.map(async (node: string) => await (await fetch(`${node}/replica/ahead`)).json()),
    );
    assert.equal(states[0].value, "now", "written after the newer version, by the primary");
    assert.ok(states[0].version > ahead, `${states[0].version} > ${ahead}`);
    assert.deepEqual(states[1], states[0], "and copied to the backup");
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client (direct) falls back to the master when nodes cannot be reached", async () => {
  const processes = new Processes();
  const { master } = await settledCluster(processes, 2, ["--failure-timeout-ms", "600"]);
  const cache = await CacheClient.connect(master.url, {
    fetch: (input, init) =>
      input.startsWith(master.url) ? fetch(input, init) : Promise.reject(new TypeError("no route")),
  });
  try {
    await cache.set("k", "v");
    assert.equal(await cache.get("k"), "v");
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client (direct) keeps finding stored keys while a node leaves and another dies", async () => {
  const processes = new Processes();
  const { master, nodes } = await settledCluster(processes, 4, ["--failure-timeout-ms", "600"]);
  const cache = await CacheClient.connect(master.url);
  try {
    const items = Array.from({ length: 300 }, (_, i) => ({ key: `c${i}`, value: `v${i}` }));
    await cache.mset(items);
    let reading = true;
    const failures: string[] = [];
    let reads = 0;
    // Eight readers at once, so reads also go together in batches when a node goes.
    const reader = Promise.all(Array.from({ length: 8 }, async (_, start) => {
      for (let i = start * 37; reading; i = (i + 1) % items.length) {
        try {
          const value = await cache.get(items[i].key);
          if (value !== items[i].value) failures.push(`${items[i].key}: ${value}`);
        } catch (error) {
          failures.push(`${items[i].key}: ${error}`);
        }
        reads++;
      }
    }));
    await nodes[0].stop("SIGTERM");
    await waitFor(async () => (await nodesOf(master.url)).every((n) => n.synced), "handed over");
    await nodes[1].stop("SIGKILL");
    await waitFor(async () => {
      const known = await nodesOf(master.url);
      return known.some((n) => n.status === "down") &&
        known.every((n) => n.status === "down" || n.synced);
    }, "re-replicated");
    reading = false;
    await reader;
    assert.deepEqual(failures, [], `${failures.length} of ${reads} reads failed`);
  } finally {
    cache.close();
    await processes.stopAll();
  }
});

Deno.test("client given several masters passes over one that refuses connections", async () => {
  const processes = new Processes();
  const { master } = await settledCluster(processes, 2);
  const gone = `http://127.0.0.1:${freePort()}`; // nothing listens here
  try {
    for (const mode of ["direct", "proxy"] as const) {
      const cache = await CacheClient.connect([gone, master.url], { mode });
      try {
        await cache.set(`several-${mode}`, "yes");
        assert.equal(await cache.get(`several-${mode}`), "yes");
        assert.equal(cache.ring === undefined, mode === "proxy");
      } finally {
        cache.close();
      }
    }
    const comma = await CacheClient.connect(`${gone},${master.url}`, { mode: "proxy" });
    assert.equal(await comma.get("several-proxy"), "yes");
    comma.close();
    const none = await CacheClient.connect([gone], { mode: "proxy" });
    await assert.rejects(none.get("k"), (e: unknown) => e instanceof CacheError && e.status === 0);
    none.close();
  } finally {
    await processes.stopAll();
  }
});

Deno.test("client gives up on a master that never answers after its timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // accepts, never answers
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const cache = await CacheClient.connect(`http://127.0.0.1:${listener.addr.port}`, {
    mode: "proxy",
    timeoutMs: 200,
  });
  try {
    const started = performance.now();
    await assert.rejects(
      cache.get("k"),
      (e: unknown) => e instanceof CacheError && e.status === 0 && /within 200 ms/.test(e.message),
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 190 && waited < 2000, `gave up after ${waited} ms`);
  } finally {
    cache.close();
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a write given up on in a paused master is not applied when it wakes, over a later one", async (t) => {
  // Woken, the master read the write from its socket and forwarded it with a version of that
  // moment: it overwrote the caller's next write, acknowledged meanwhile. It carries the caller's
  // deadline in the master's clock now, and is refused past it. A client that has not heard from
  // the master yet asks for its clock first: a master that does not answer is not sent the write.
  for (const wroteBefore of [true, false]) {
    await t.step(wroteBefore ? "the client wrote before" : "the client's first write", async () => {
      const processes = new Processes();
      const { master } = await settledCluster(processes, 3);
      const proxied = await CacheClient.connect(master.url, { mode: "proxy", timeoutMs: 300 });
      const direct = await CacheClient.connect(master.url);
      try {
        if (wroteBefore) await proxied.set("k", "first"); // its answer tells the master's clock
        Deno.kill(master.pid, "SIGSTOP");
        try {
          await assert.rejects(proxied.set("k", "given up"), CacheError);
          await direct.set("k", "later"); // the nodes' leases still run
        } finally {
          Deno.kill(master.pid, "SIGCONT");
        }
        await new Promise((resolve) => setTimeout(resolve, 500)); // the master reads what waited
        assert.equal(await direct.get("k"), "later");
        const read = await fetch(`${master.url}/keys/k`);
        assert.equal((await read.json()).value, "later");
        if (wroteBefore) {
          const metrics = await (await fetch(`${master.url}/metrics`)).text();
          const refused = /http_requests_total\{method="POST",route="\/keys",status="504"\} [1-9]/;
          assert.match(metrics, refused);
        }
      } finally {
        proxied.close();
        direct.close();
        await processes.stopAll();
      }
    });
  }
});

/**
 * A write through the master that waits there behind a call to a slow node while its caller gives
 * up on it; the caller then writes the key again directly. Resolves to the key's value after.
 */
async function writeGivenUpInTheMaster(nodeCount: number): Promise<string | undefined> {
  const processes = new Processes();
  const { master, nodes: [node] } = await settledCluster(processes, nodeCount, [
    "--node-timeout-ms",
    "3000",
  ]);
  const proxied = await CacheClient.connect(master.url, { mode: "proxy", timeoutMs: 300 });
  const direct = await CacheClient.connect(master.url);
  try {
    await proxied.set("k", "first"); // its answer tells the master's clock
    await direct.set("k", "first");
    Deno.kill(node.pid, "SIGSTOP");
    let ahead: Promise<Response>, later: Promise<void>;
    try {
      // Another key's write takes the master's one call to the node: the next waits behind it.
      ahead = fetch(`${master.url}/keys`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: "other", value: "ahead" }),
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await assert.rejects(proxied.set("k", "given up"), CacheError);
      later = direct.set("k", "later");
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      Deno.kill(node.pid, "SIGCONT");
    }
    await later;
    assert.equal((await ahead).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the queued write's turn came
    return await direct.get("k");
  } finally {
    proxied.close();
    direct.close();
    await processes.stopAll();
  }
}

Deno.test("a write given up on while it waited in the master for a slow node is not applied after", async (t) => {
  // The master checked the caller's deadline as it read the write, then queued it behind a call
  // to a node that answered late, and sent it with a deadline of its own: the node applied it
  // after the caller's next write, acknowledged meanwhile. At R=1 it waited for the primary; at
  // R=2 its copy waited for one owner, and it went again through the primary above that copy.
  for (const nodes of [1, 2]) {
    await t.step(`${nodes} node(s)`, async () => {
      assert.equal(await writeGivenUpInTheMaster(nodes), "later");
    });
  }
});

Deno.test("client (direct) routing by the ring before a join neither reads nor writes past the join's writes", async () => {
  // The old owner of a key the joiner took answered a client still on the ring before with the
  // value before a write acknowledged in the new ring, and took that client's later write, which
  // then lost to the new ring's on the handover: both until the old owner's next heartbeat.
  const processes = new Processes();
  const beats = ["--heartbeat-ms", "1000"]; // the release's beat: a second for the news to come
  const { master } = await settledCluster(processes, 3, ["--replicas", "1"], beats);
  const clients: CacheClient[] = [];
  const connect = async () => {
    const client = await CacheClient.connect(master.url, { mode: "direct" });
    clients.push(client);
    return client;
  };
  try {
    const writer = await connect();
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => writer.set(key, "1")));
    const [reader, late] = [await connect(), await connect()]; // then idle
    const ringNow = async () => await (await fetch(`${master.url}/ring`)).json();
    const before = await ringNow();
    await processes.node(master.url, beats);
    // At once: the old owners hear of the join with their next heartbeat, up to a second later.
    let after = await ringNow();
    while (after.nodes.length < 4) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      after = await ringNow();
    }
    // Only the keys that moved: a write routed by the new ring to a node that stays would tell it.
    const [was, is] = [new Ring(before.nodes), new Ring(after.nodes)];
    const moved = keys.filter((key) => was.owner(key) !== is.owner(key));
    assert.ok(moved.length > 30, `${moved.length} keys moved`);
    const epochOf = async (node: string) => {
      const answer = await fetch(`${node}/live`);
      await answer.body?.cancel();
      return Number(answer.headers.get("x-ring-epoch"));
    };
    const behind = await Promise.all(before.nodes.map(epochOf));
    assert.ok(behind.includes(before.epoch), "an old owner has not heard of the join yet");
    await writer.refresh();
    await Promise.all(moved.map((key) => writer.set(key, "2")));
    assert.equal(reader.ring!.epoch, before.epoch, "still on the ring before");
    const read = await Promise.all(moved.map((key) => reader.get(key)));
    assert.deepEqual(read.filter((value) => value !== "2"), [], "no value before the write");
    assert.equal(late.ring!.epoch, before.epoch);
    await Promise.all(moved.map((key) => late.set(key, "3")));
    await ringSettled(master.url);
    const fresh = await connect();
    const last = await Promise.all(moved.map((key) => fresh.get(key)));
    assert.deepEqual(last.filter((value) => value !== "3"), [], "every acknowledged write kept");
  } finally {
    for (const client of clients) client.close();
    await processes.stopAll();
  }
});
